# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of conformance/interop/run-interop, the interoperability matrix.

They need build/scwire-ref (and build/scwire-tap for transcripts), never
tractor: tractor is made unavailable (SCWIRE_TRACTOR_PYTHONPATH empty), so its
rows, columns and the differential replay must SKIP with the reason while the
scwire-ref cells pass.  The classification of the differential replay is
tested on its own, on made-up sides."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE = os.path.dirname(HERE)
INTEROP = os.path.join(CONFORMANCE, "interop")
RUNNER = os.path.join(INTEROP, "run-interop")
REPO = os.path.dirname(CONFORMANCE)
REF = os.path.join(REPO, "build", "scwire-ref")
sys.path.insert(0, INTEROP)

import classify  # noqa: E402
import impls  # noqa: E402
import report  # noqa: E402
from scwire_conform.replay import Recording  # noqa: E402

needs_ref = pytest.mark.skipif(not os.access(REF, os.X_OK), reason=f"{REF} is not built")
NO_TRACTOR = dict(os.environ, SCWIRE_TRACTOR_PYTHONPATH="")
RUN_TIMEOUT = 120


def run(*args, env=NO_TRACTOR):
    return subprocess.run([sys.executable, RUNNER, *args], capture_output=True, text=True,
                          env=env, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)


def tractor_importable_anyway():
    ok, _ = impls.tractor_available("")
    return ok


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One run of every row and column, as CI has it: without tractor."""
    if not os.access(REF, os.X_OK):
        pytest.skip(f"{REF} is not built")
    out = tmp_path_factory.mktemp("interop")
    p = run("--out", str(out))
    with open(out / "interop.json", encoding="utf-8") as fh:
        doc = json.load(fh)
    return p, doc, out


def cell(doc, client, server):
    return report.find_cell(doc, client, server)


def test_scwire_ref_cells_pass(full_run):
    p, doc, _ = full_run
    assert p.returncode == 0, p.stdout + p.stderr
    for client in ("scwire-ref", "scwire-conform"):
        c = cell(doc, client, "scwire-ref")
        assert c["failed"] == 0 and c["passed"] >= 10, c
    # The neutral client plays every scenario against scwire-ref.
    assert cell(doc, "scwire-conform", "scwire-ref")["skipped"] == 0
    # scwire-ref as a client: the scenarios its roles cannot play say so.
    c = cell(doc, "scwire-ref", "scwire-ref")
    skips = {r["scenario"]: r["reason"] for r in c["results"] if r["result"] == "SKIP"}
    assert set(skips) == {"asyncgen", "overrun"}
    assert all("a client here only through its own roles" in why for why in skips.values())


def test_tractor_cells_skip_with_the_reason(full_run):
    if tractor_importable_anyway():
        pytest.skip("tractor is importable without SCWIRE_TRACTOR_PYTHONPATH here")
    _, doc, _ = full_run
    tractor_cells = [c for c in doc["cells"] if "tractor" in (c["client"], c["server"])]
    assert len(tractor_cells) == 4          # its row and its column, 2 + 3 - 1
    for c in tractor_cells:
        assert c["skipped"] == len(c["results"]) and c["total"] == 0
        assert all("tractor is not importable" in r["reason"] for r in c["results"])
    rep = doc["differential_replay"]
    assert rep["status"] == "SKIP" and "tractor is not importable" in rep["reason"]


def test_reports_are_written(full_run):
    p, doc, out = full_run
    assert doc["exit_status"] == 0 and doc["codec"] == "msgpack"
    assert [s["letter"] for s in doc["scenarios"]] == list("REGSXCOYTAPDZ")
    r = next(r for r in cell(doc, "scwire-conform", "scwire-ref")["results"]
             if r["scenario"] == "ctx_cancel")
    assert r["result"] == "PASS" and r["duration"] > 0
    if r["transcript"]:                     # build/scwire-tap is built
        lines = (out / r["transcript"]).read_text().splitlines()
        assert any("ContextCancelled" in line for line in lines)
    for path in r["logs"]:
        assert (out / path).exists(), path
    page = (out / "interop.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "<style>" in page and "Differential replay" in page
    assert "scwire-conform" in page and "cell-scwire-conform--scwire-ref" in page
    # The terminal table: a row per client, a cell like quic-interop-runner's.
    assert "scwire-conform  13/13 ✓REGSXCOYTAPDZ" in p.stdout


@pytest.mark.parametrize("args, text", [
    (["--impl", "noequals"], "NAME=TEMPLATE"),
    (["--impl", "x=my-impl --port 1"], "needs {host}"),
    (["--impl", "scwire-ref=x {host}:{port}"], "taken"),
    (["--scenario", "nope"], "unknown scenario"),
    (["--client", "nobody"], "no implementation named nobody"),
    (["--timeout", "0"], "must be > 0"),
    (["--no-matrix", "--no-replay"], "nothing to do"),
])
def test_usage_errors_exit_2(args, text, tmp_path):
    p = run("--out", str(tmp_path), *args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert text in p.stderr
    assert "Traceback" not in p.stderr


@needs_ref
def test_a_broken_impl_is_a_failed_cell_not_a_crash(tmp_path):
    p = run("--out", str(tmp_path), "--impl", "broken=/bin/false {host} {port}",
            "--client", "broken", "--client", "scwire-conform", "--server", "broken",
            "--server", "scwire-ref", "--scenario", "rpc_return", "--scenario", "ctx_cancel",
            "--no-replay", "--start-timeout", "5")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    doc = json.loads((tmp_path / "interop.json").read_text())
    col = cell(doc, "scwire-conform", "broken")
    assert col["failed"] == 2
    assert all("could not be started" in r["reason"] for r in col["results"])
    row = {r["scenario"]: r for r in cell(doc, "broken", "scwire-ref")["results"]}
    assert row["rpc_return"]["result"] == "SKIP"        # no role plays it
    assert row["ctx_cancel"]["result"] == "FAIL"        # ctx_call would, had it started
    assert cell(doc, "scwire-conform", "scwire-ref")["failed"] == 0
    assert "FAIL scwire-conform -> broken" in p.stdout


@needs_ref
def test_sigterm_stops_every_process_it_started(tmp_path):
    """The servers started meanwhile are stopped and reaped on SIGTERM too."""
    marker = tmp_path / "marked-bin"
    marker.mkdir()
    (marker / "scwire-ref").symlink_to(REF)
    proc = subprocess.Popen([sys.executable, RUNNER, "--out", str(tmp_path / "out"),
                             "--scwire-ref", str(marker / "scwire-ref"), "--client",
                             "scwire-conform", "--server", "scwire-ref", "--scenario",
                             "connect_drop", "--no-replay"], env=NO_TRACTOR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: marked_processes(marker), 10), "no server was started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 128 + signal.SIGTERM
        assert wait_for(lambda: not marked_processes(marker), 5), marked_processes(marker)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def marked_processes(marker):
    """Processes run from the marked directory (not the runner, which names it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read().split(b"\0")[0].startswith(str(marker).encode()):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


# --- the differential replay's classification ----------------------------------------------

class FakeImpl:
    def __init__(self, name):
        self.name = name


class FakeSide:
    def __init__(self, name, down=None):
        self.impl, self.down = FakeImpl(name), down


def recording(tmp_path, name, lines):
    path = tmp_path / f"{os.path.basename(name)}.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rec = Recording(str(path))
    rec.name = name
    return rec


def test_classify_names_the_profile_row_of_an_evidence_recording(tmp_path):
    rec = recording(tmp_path, "profile/rpc_4_kwargs_wrong_type", [{"conn": "c1", "event": "open"}])
    d = classify.classify(rec, "c1/cid x", "differs", FakeSide("a"), FakeSide("b"))
    assert d["class"] == "profile" and d["row"] == "RPC-4" and "functype" in d["why"]


def test_classify_robustness_wins_and_the_rest_is_unexplained(tmp_path):
    rec = recording(tmp_path, "profile/rpc_4_kwargs_wrong_type", [{"conn": "c1", "event": "open"}])
    d = classify.classify(rec, "c1/end", "closed", FakeSide("a"),
                          FakeSide("tractor", down="its process exited with status 1"))
    assert d["class"] == "robustness" and "tractor went down" in d["why"]
    other = recording(tmp_path, "c_rpc_return", [{"conn": "c1", "event": "open"}])
    d = classify.classify(other, "c1/cid y", "differs", FakeSide("a"), FakeSide("b"))
    assert d["class"] == "unexplained" and d["row"] is None


def test_recordings_the_replay_cannot_reproduce_are_named(tmp_path):
    def c2s(msg):
        return {"conn": "c1", "dir": "c2s", "hex": "", "msg": msg}
    cmd = ["scwire_service", "echo", {"value": 1}, ["n", "u"], "c"]
    assert classify.unreplayable(recording(tmp_path, "a", [c2s({"cmd": cmd})])) is None
    assert "other keys (cid)" in classify.unreplayable(
        recording(tmp_path, "b", [c2s({"cmd": cmd, "cid": "c"})]))
    assert "ext value" in classify.unreplayable(
        recording(tmp_path, "c", [c2s({"cmd": cmd[:2] + [{"value": {"$ext": [-1, "00"]}}]
                                       + cmd[3:]})]))
    assert "callee" in classify.unreplayable(
        recording(tmp_path, "d", [c2s({"cmd": ["scwire_service", "ctx_call", {}, ["n", "u"],
                                               "c"]})]))
    child = [c2s(["child", "u"]), {"conn": "c1", "dir": "s2c", "hex": "",
                                   "msg": {"_parent_main_data": {}}}]
    assert "parent/child" in classify.unreplayable(recording(tmp_path, "e", child))


def test_an_impl_with_registry_placeholder_is_also_a_registry_client():
    impl = impls.parse_impl("mine=my-actor --listen {host}:{port} --registry {registry}")
    assert "{registry}" not in impl.server and "--registry" not in impl.server
    assert impl.registry_client.endswith("--registry {registry}")
    assert impls.parse_impl("x=a {host} {port}").registry_client is None


def test_cell_text_reads_like_quic_interop_runner():
    c = {"passed": 2, "total": 3, "results": [
        {"letter": "R", "result": "PASS"}, {"letter": "E", "result": "FAIL"},
        {"letter": "G", "result": "PASS"}, {"letter": "P", "result": "SKIP"}]}
    assert report.cell_text(c) == "2/3 ✓RG ✕E ?P"


def test_scwire_ref_is_the_parent_of_tractor_children_through_child_program():
    ref, tr = impls.scwire_ref(REF), impls.tractor("msgpack")
    mine = impls.parse_impl("mine=my-actor --listen {host}:{port}")
    assert impls.parent_template(ref, ref) == ref.plain
    tmpl = impls.parent_template(ref, tr)
    assert tmpl.startswith(ref.plain) and "--registry-role" in tmpl
    assert f"--child-program={impls.PYTHON}" in tmpl
    assert f"--child-arg={impls.TRACTOR_CHILD} --child-arg=--codec --child-arg='{{codec}}'" \
        in tmpl, tmpl
    # Only scwire-ref starts another implementation's children, and only one
    # that says how it runs as a child.
    assert impls.parent_template(mine, tr) is None
    assert impls.parent_template(ref, mine) is None
    assert impls.parent_template(mine, mine) == mine.plain
