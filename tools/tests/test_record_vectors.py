# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of tools/dev/record-vectors, the recorder of the tractor traces.

Without tractor (as in CI) the recorder must say SKIP, exit 0 and write
nothing; usage errors exit 2; --list names every committed trace, and one
profile scenario per row of spec/profiles.md; the committed supervision
recordings show what their rows say.  Where tractor 0.1.0a4 is
importable ($SCWIRE_TRACTOR_PYTHONPATH, see the recorder's --help) two quick
scenarios and one profile scenario are recorded and checked against the
committed recording; elsewhere that test is skipped and says why.  Every
subprocess has a timeout.
"""
import json
import os
import re
import subprocess
import sys

import msgpack
import pytest

from toolenv import REPO, TOOLS  # also puts tools/ on sys.path

from scwire_tools.classify import kind  # noqa: E402
from scwire_tools.trace import read_trace  # noqa: E402

RECORDER = os.path.join(TOOLS, "dev", "record-vectors")
RECORDING = os.path.join(TOOLS, "dev", "recording")
COMMITTED = os.path.join(REPO, "conformance", "vectors", "tractor-0.1.0a4")
TAP = os.path.join(os.environ.get("SCWIRE_BUILD", os.path.join(REPO, "build")), "scwire-tap")
QUICK = ("a_handshake", "j_unknown_cid")
# A profile scenario (the adapter, a raw client) that takes about a second.
PROFILE_QUICK = "cid_10_reused_cid"
# Each recorded trace by its path under the output directory, without .jsonl.
RECORDED = QUICK + (f"profile/{PROFILE_QUICK}",)
PROFILES_MD = os.path.join(REPO, "spec", "profiles.md")
# A row of the table of spec/profiles.md: its id and the name of its evidence.
PROFILE_ROW = re.compile(r"^\| ([A-Z]+-\d+) \|.*\| profile/(\w+)\.jsonl \|$", re.M)
SKIP_TAIL = "); set SCWIRE_TRACTOR_PYTHONPATH to its source tree"


def run(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, RECORDER, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)


# --- without tractor ------------------------------------------------------------------

def no_tractor_env(tmp_path):
    """An environment where `import tractor` fails even if one is installed:
    an empty SCWIRE_TRACTOR_PYTHONPATH and a package `tractor` that refuses."""
    empty, hide = tmp_path / "empty", tmp_path / "hide" / "tractor"
    empty.mkdir()
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text('raise ImportError("hidden by the test")\n')
    return dict(os.environ, SCWIRE_TRACTOR_PYTHONPATH=str(empty),
                PYTHONPATH=str(hide.parent))


def test_without_tractor_it_skips_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    r = run("--out", out, env=no_tractor_env(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    assert lines[0].startswith("record-vectors: SKIP: tractor 0.1.0a4 is not importable (")
    assert "hidden by the test" in lines[0] and lines[0].endswith(SKIP_TAIL)
    assert not out.exists()


@pytest.mark.parametrize("args, says", [
    ((), "--out DIR is required"),
    (("--out", "{tmp}/o", "--only", "a_handshake,nope"), "unknown scenario(s): nope"),
    (("--out", COMMITTED), "is the committed recording"),
    (("--out", "{tmp}/o", "--bogus"), "unrecognized arguments: --bogus"),
])
def test_usage_errors_exit_2(tmp_path, args, says):
    r = run(*[a.format(tmp=tmp_path) for a in args], env=no_tractor_env(tmp_path))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert says in r.stderr
    assert not (tmp_path / "o").exists()


def listed(tmp_path):
    """--list as (name, set, summary) per scenario."""
    r = run("--list", env=no_tractor_env(tmp_path))
    assert r.returncode == 0, r.stderr
    return [(name, rec_set, summary) for name, rec_set, _kind, summary in
            (line.split(None, 3) for line in r.stdout.splitlines())]


def committed_traces(subdir=""):
    d = os.path.join(COMMITTED, subdir)
    return {f[:-len(".jsonl")] for f in os.listdir(d) if f.endswith(".jsonl")}


def test_list_names_every_committed_trace(tmp_path):
    names = {name for name, rec_set, _ in listed(tmp_path) if rec_set != "profile"}
    assert names == committed_traces()


def test_list_names_a_profile_scenario_per_row_of_the_profiles_table(tmp_path):
    with open(PROFILES_MD, encoding="utf-8") as fh:
        rows = {name: rid for rid, name in PROFILE_ROW.findall(fh.read())}
    assert rows, f"no row naming a profile/ recording in {PROFILES_MD}"
    # A profile scenario's summary begins with the id of its row.
    profile = {name: summary.split(":")[0] for name, rec_set, summary in listed(tmp_path)
               if rec_set == "profile"}
    assert profile == rows
    assert committed_traces("profile") == set(rows)


# --- the committed supervision recordings (no tractor needed) ---------------------------------

def committed_messages(name):
    """(conn, dir, msg) of every message of a committed profile recording, and its
    events as (conn, event, dir)."""
    entries = read_trace(os.path.join(COMMITTED, "profile", f"{name}.jsonl"))
    msgs = [(e["conn"], e["dir"], e["msg"]) for e in entries if "event" not in e]
    events = [(e["conn"], e["event"], e.get("dir")) for e in entries if "event" in e]
    return msgs, events


def committed_log(name, role):
    with open(os.path.join(COMMITTED, "logs", "profile", f"{name}.{role}.log"),
              encoding="utf-8") as fh:
        return fh.read()


def from_child(msgs, conn="c1"):
    """What the child sent on its parent channel after its uid."""
    return [m for c, d, m in msgs if c == conn and d == "c2s"][1:]


def test_sup_5_recording_shows_an_actor_level_assertion_error_and_exit_1():
    msgs, _ = committed_messages("sup_5_nil_registry")
    init = [m for c, d, m in msgs if d == "s2c" and isinstance(m, dict) and "_arb_addr" in m]
    assert len(init) == 1 and init[0]["_arb_addr"] is None
    sent = from_child(msgs)
    assert len(sent) == 1 and set(sent[0]) == {"error"}, sent
    assert sent[0]["error"]["type_str"] == "AssertionError"
    assert "[recorder] child exited by itself: True; exit code 1" in \
        committed_log("sup_5_nil_registry", "child")


def test_sup_6_recording_shows_an_exit_1_without_an_error():
    msgs, _ = committed_messages("sup_6_bad_runtime_vars")
    init = [m for c, d, m in msgs if d == "s2c" and isinstance(m, dict) and "_arb_addr" in m]
    assert len(init) == 1 and init[0]["_runtime_vars"] == []
    assert from_child(msgs) == []
    assert "[recorder] child exited by itself: True; exit code 1" in \
        committed_log("sup_6_bad_runtime_vars", "child")


def test_sup_9_recording_shows_two_cancels_then_sigkill_only():
    msgs, _ = committed_messages("sup_9_stubborn_child")
    maps = [(c, d, m) for c, d, m in msgs if isinstance(m, dict)]
    # The child's parent channel: the one the init map goes over.
    chan = next(c for c, d, m in maps if "_arb_addr" in m)
    cancels = {m["cmd"][4] for c, d, m in maps if c == chan and d == "s2c" and "cmd" in m
               and m["cmd"][:2] == ["self", "cancel"]}
    assert len(cancels) == 2
    answered = [m for c, d, m in maps if c == chan and d == "c2s" and m.get("cid") in cancels]
    assert all("return" not in m for m in answered), answered
    cid = next(m["cmd"][4] for c, d, m in maps if "cmd" in m and m["cmd"][1] == "spawn_cancel")
    assert [m for c, d, m in maps if m.get("cid") == cid and "functype" not in m] == \
        [{"return": False, "cid": cid}]
    log = committed_log("sup_9_stubborn_child", "child-signals")
    assert "killed by SIGKILL" in log and "--- SIG" not in log
    assert "got SIGKILL;" in log and "SIGTERM: never" in log


def test_sup_12_recording_shows_a_child_serving_after_its_parent_channel_ended():
    name = "sup_12_parent_channel_ends"
    entries = read_trace(os.path.join(COMMITTED, "profile", f"{name}.jsonl"))
    ended = next(i for i, e in enumerate(entries)
                 if e["conn"] == "c1" and e.get("event") == "eof" and e.get("dir") == "s2c")
    later = [e["msg"] for e in entries[ended:] if e["conn"] != "c1" and "event" not in e
             and isinstance(e["msg"], dict)]
    echo = next(m["cmd"][4] for m in later if "cmd" in m and m["cmd"][1] == "echo")
    assert {"return": 1, "cid": echo} in later, later
    # The child's side of c1 ends only when the recorder stops it.
    assert [e.get("event") for e in entries if e["conn"] == "c1"][-2:] == ["eof", "close"]
    assert "still running 5.0 s after its parent channel ended: True" in \
        committed_log(name, "child")


# --- scrubbing (no tractor needed) ---------------------------------------------------------

def load_scrub():
    sys.path.insert(0, RECORDING)
    try:
        import scrub
    finally:
        sys.path.remove(RECORDING)
    return scrub


def test_scrubbing_re_encodes_and_keeps_every_type():
    scrub = load_scrub()
    scrubber = scrub.Scrubber([("/opt/t/tractor", "<tractor>/tractor"),
                               ("/usr/lib/py", "<stdlib>")])
    tb = 'File "/opt/t/tractor/_actor.py", line 1\nFile "/usr/lib/py/contextlib.py", line 2\n'
    value = {"error": {"tb_str": tb, "type_str": "KeyError"}, "cid": "c",
             "extra": {(1, "k"): [b"\x00\xff", 2.5, 2**40, -1, None, True]}}
    raw = msgpack.packb(value, use_bin_type=True)
    scrubbed, new_raw = scrubber.message(raw)
    assert scrubbed["error"]["tb_str"] == ('File "<tractor>/tractor/_actor.py", line 1\n'
                                           'File "<stdlib>/contextlib.py", line 2\n')
    assert new_raw == msgpack.packb({**value, "error": scrubbed["error"]}, use_bin_type=True)
    assert scrubber.message(msgpack.packb({"return": 1, "cid": "c"})) is None


def test_scrubbing_refuses_what_it_cannot_re_encode_faithfully():
    scrub = load_scrub()
    scrubber = scrub.Scrubber([("/opt/t", "<app>")])
    # A float32 decodes to a Python float, which msgpack re-encodes as float64.
    raw = msgpack.packb({"tb_str": "/opt/t/x.py", "f": 1.5}, use_single_float=True)
    with pytest.raises(scrub.ScrubError):
        scrubber.message(raw)


# --- with tractor -------------------------------------------------------------------------

def tractor_env():
    extra = os.environ.get("SCWIRE_TRACTOR_PYTHONPATH", "")
    path = os.pathsep.join(p for p in (extra, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path)


def tractor_missing():
    """Why the recording test cannot run here, or None."""
    if not os.access(TAP, os.X_OK):
        return f"{TAP} is not built: run `make build/scwire-tap`"
    r = subprocess.run([sys.executable, "-c", "import tractor, trio"], env=tractor_env(),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return ("tractor 0.1.0a4 is not importable (set SCWIRE_TRACTOR_PYTHONPATH to its "
                "source tree): " + (r.stderr.strip().splitlines() or ["?"])[-1])
    return None


def json_view(value):
    """The JSON view the committed README describes, built independently."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: json_view(v) for k, v in value.items()}
        return {"$map": [[json_view(k), json_view(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [json_view(v) for v in value]
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    return value


def tb_strs(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "tb_str":
                yield v
            else:
                yield from tb_strs(v)
    elif isinstance(value, list):
        for v in value:
            yield from tb_strs(v)


def message_kinds(entries):
    """{conn: [(dir, kind), ...]}; the two opening uids are sent at once by
    both sides, so their order in a recording is a race and is normalised."""
    seqs, seen = {}, set()
    for e in entries:
        if "event" in e:
            continue
        first = (e["conn"], e["dir"]) not in seen
        seen.add((e["conn"], e["dir"]))
        seqs.setdefault(e["conn"], []).append((e["dir"], kind(e["msg"], first=first)))
    for seq in seqs.values():
        if [k for _, k in seq[:2]] == ["handshake", "handshake"]:
            seq[:2] = sorted(seq[:2])
    return seqs


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    why = tractor_missing()
    if why:
        pytest.skip(why)
    out = tmp_path_factory.mktemp("vectors")
    r = run("--out", out, "--only", ",".join(QUICK + (PROFILE_QUICK,)), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_trace_matches_the_committed_one(recorded, name):
    path = recorded / f"{name}.jsonl"
    entries = read_trace(str(path))     # raises on any malformed line
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all("t" not in e for e in lines), "the committed format has no time field"
    for e in lines:
        if "event" in e:
            continue
        decoded = msgpack.unpackb(bytes.fromhex(e["hex"]), raw=False, use_list=False,
                                  strict_map_key=False)
        # json.dumps tells 1 from 1.0 and True from 1, and keeps key order.
        assert json.dumps(json_view(decoded)) == json.dumps(e["msg"]), e
        for tb in tb_strs(e["msg"]):
            assert 'File "/' not in tb, tb
    committed = read_trace(os.path.join(COMMITTED, f"{name}.jsonl"))
    assert message_kinds(entries) == message_kinds(committed)


@pytest.mark.parametrize("name", RECORDED)
def test_side_logs_are_written_and_scrubbed(recorded, name):
    local = [p for p in os.environ.get("SCWIRE_TRACTOR_PYTHONPATH", "").split(os.pathsep) if p]
    for role in ("server", "client"):
        text = (recorded / "logs" / f"{name}.{role}.log").read_text()
        assert "[recorder]" in text
        for path in local + [RECORDING]:
            assert path + "/" not in text, f"{role} log names {path}"
    readme = (recorded / "README.md").read_text()
    assert name in readme and "Not re-recorded" in readme


def test_the_profile_recording_shows_its_row(recorded):
    """CID-10: a command reusing the cid of the running sleep_forever is run too."""
    entries = read_trace(str(recorded / "profile" / f"{PROFILE_QUICK}.jsonl"))
    # The maps: neither the uids (arrays) nor the closing nil.
    msgs = [(e["dir"], e["msg"]) for e in entries if isinstance(e.get("msg"), dict)]
    cmds = [m["cmd"] for d, m in msgs if d == "c2s" and "cmd" in m]
    assert [c[1] for c in cmds] == ["sleep_forever", "echo"]
    cid = cmds[0][4]
    assert cmds[1][4] == cid
    replies = [m for d, m in msgs if d == "s2c" and m.get("cid") == cid]
    assert replies == [{"functype": "asyncfunc", "cid": cid}] * 2 + [{"return": 1, "cid": cid}]
    log = (recorded / "logs" / "profile" / f"{PROFILE_QUICK}.server.log").read_text()
    assert "[recorder] adapter alive after client: True" in log
