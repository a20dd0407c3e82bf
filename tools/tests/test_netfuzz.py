# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of scwire-netfuzz: the case stream, the mutation families, and runs.

The generator and the mutators are tested in-process; the runs start
build/scwire-ref or netfuzz_fakeiut.py (a small IUT with one planted defect
per mode) through the tool's own --iut-cmd and --diff-cmd, each bounded by
--cases and every subprocess by a timeout.
"""
import json
import os
import random
import socket
import subprocess
import sys

import msgpack
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
REPO = os.path.dirname(TOOLS)
NETFUZZ = os.path.join(TOOLS, "scwire-netfuzz")
SEND = os.path.join(TOOLS, "scwire-send")
REF = os.path.join(REPO, "build", "scwire-ref")
FAKE = os.path.join(HERE, "netfuzz_fakeiut.py")
sys.path.insert(0, TOOLS)

from scwire_tools.codec import frame, pack  # noqa: E402
from scwire_tools.netfuzz import generate, mutators  # noqa: E402
from scwire_tools.netfuzz.case import msg, raw, replayable, wire_bytes  # noqa: E402
from scwire_tools.netfuzz.generate import Gen  # noqa: E402
from scwire_tools.netfuzz.minimize import Budget, ddmin  # noqa: E402
from scwire_tools.netfuzz.oracle import crash_signature  # noqa: E402
from scwire_tools.netfuzz.target import Target  # noqa: E402

SEEDS = range(40)


def fake_cmd(mode):
    return f"{sys.executable} {FAKE} --listen {{host}}:{{port}} --mode {mode}"


def netfuzz(tmp_path, *args, timeout=60):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, NETFUZZ, "--out", str(out), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    summary = out / "summary.json"
    return p, json.loads(summary.read_text()) if summary.exists() else None


@pytest.fixture(scope="module")
def ref_built():
    if not os.access(REF, os.X_OK):
        pytest.fail(f"{REF} is missing: run `make` first")
    return REF


def mutate(family, seed, codec="msgpack"):
    """(base conversation, label, actions): the mutator and a twin generator from one seed."""
    base = Gen(random.Random(seed), codec).conversation()
    label, actions = mutators.FAMILIES[family](Gen(random.Random(seed), codec))
    return base, label, actions


def depth(v):
    if isinstance(v, (list, tuple)):
        return 1 + max((depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    return 0


# ---- the case stream -------------------------------------------------------------------

def wire(case):
    return [(a[0], a[1], wire_bytes(a, "msgpack")) for a in case.actions]


def test_cases_are_deterministic_by_seed():
    first = [(c.family, c.label, wire(c)) for c in generate.cases(7, 36)]
    again = [(c.family, c.label, wire(c)) for c in generate.cases(7, 36)]
    other = [(c.family, c.label, wire(c)) for c in generate.cases(8, 36)]
    assert first == again
    assert first != other


def test_a_case_does_not_depend_on_the_ones_before():
    tail = list(generate.cases(7, 5, start=20))
    assert [wire(c) for c in tail] == [wire(c) for c in list(generate.cases(7, 25))[20:]]


def test_families_are_taken_in_turn_and_can_be_chosen():
    names = list(mutators.FAMILIES)
    assert [c.family for c in generate.cases(1, len(names))] == names
    assert {c.family for c in generate.cases(1, 10, families=["storm", "cid"])} == {"storm", "cid"}


def test_valid_conversations_are_well_formed():
    for seed in SEEDS:
        _, _, actions = mutate("valid", seed)
        values = [a[2] for a in actions]
        assert all(a[0] == "msg" for a in actions)
        assert values[0][0] == generate.NAME and len(values[0]) == 2
        cmd = values[1]["cmd"]
        assert cmd[0] == "scwire_service" and cmd[3] == values[0] and isinstance(cmd[4], str)


# ---- each mutator family does what its label says --------------------------------------------

def test_wrong_type_changes_the_type_of_exactly_one_field():
    for seed in SEEDS:
        base, label, actions = mutate("wrong-type", seed)
        changed = [(b, a[2]) for b, a in zip(base.messages, actions) if pack(b) != pack(a[2])]
        assert len(changed) == 1, label
        old, new = label.rsplit(" -> ", 1)[0].split()[-1], label.rsplit(" -> ", 1)[1]
        assert old != new.split()[0], label


def test_cid_mutations():
    for seed in SEEDS:
        _, label, actions = mutate("cid", seed)
        values = [a[2] for a in actions if a[0] == "msg"]
        cmd_cids = [m["cmd"][4] for m in values if isinstance(m, dict) and "cmd" in m]
        routed = [m["cid"] for m in values if isinstance(m, dict) and "cid" in m]
        if "unknown" in label:
            assert routed and routed[-1] not in cmd_cids
        elif "non-str" in label:
            assert not isinstance(routed[-1], str) or routed[-1] == ""
        elif "reused" in label:
            assert len(cmd_cids) == 2 and cmd_cids[0] == cmd_cids[1]
        else:
            c2 = [a[2] for a in actions if a[1] == "c2"]
            assert cmd_cids[0] in json.dumps(c2[1]), label


def test_order_mutations():
    seen = set()
    for seed in range(120):
        _, label, actions = mutate("order", seed)
        values = [a[2] for a in actions]
        how = label.split()[1]
        seen.add(how)
        if how == "yield-before-cmd":
            assert "yield" in values[1] and values[2]["cmd"][4] == values[1]["cid"]
        elif how == "return-twice":
            assert sum(1 for v in values if isinstance(v, dict) and "return" in v) == 2
        elif how == "cancel-before-cmd":
            assert values[1]["cmd"][1] == "_cancel_task" and \
                values[1]["cmd"][2]["cid"] == values[2]["cmd"][4]
        elif how == "nil-then-more":
            assert None in values
    assert len(seen) >= 10


def test_oversize_goes_near_and_over_the_limits():
    sizes = set()
    for seed in SEEDS:
        _, label, actions = mutate("oversize", seed)
        data = wire_bytes(actions[-1], "msgpack")
        if "lying header" in label:
            assert actions[-1][0] == "raw" and len(data) < 16
        else:
            sizes.add(len(data))
    assert min(sizes) < 65536 + 64 * 1024 and max(sizes) > 1024 * 1024


def test_nesting_has_the_depth_it_claims():
    for seed in SEEDS:
        _, label, actions = mutate("nesting", seed)
        n = int(label.split("depth ")[1].split()[0])
        a = actions[-1]
        if a[0] == "msg":
            assert depth(a[2]) == n
        else:
            assert a[2].count(b"\x91") + a[2].count(b"\x81\xa1a") == n


def test_flood_sends_the_count_it_claims():
    for seed in SEEDS[:10]:
        _, label, actions = mutate("flood", seed)
        n = int(label.split()[2])
        assert len(actions) >= n + 2


def test_truncate_sends_a_strict_prefix_of_a_frame():
    for codec in ("msgpack", "lenprefix"):
        for seed in SEEDS:
            base, label, actions = mutate("truncate", seed, codec)
            cut = [a for a in actions if a[0] == "raw"][0][2]
            frames = [frame(pack(m), codec) for m in base.messages]
            assert any(f.startswith(cut) and len(cut) < len(f) for f in frames), label
            assert actions[-1][0] == {"eof": "eof", "rst": "rst", "stall": "raw"}[label.split()[-1]]


def test_disconnect_ends_with_fin_or_rst():
    for seed in SEEDS:
        _, label, actions = mutate("disconnect", seed)
        assert actions[-1][0] in ("eof", "rst") and actions[-1][0] in label


def test_handshake_abuse_never_sends_one_valid_uid_first():
    for seed in SEEDS:
        _, label, actions = mutate("handshake", seed)
        first = actions[0]
        if "twice" in label:
            assert [a[0] for a in actions[:2]] == ["msg", "msg"] and actions[1][2] != first[2]
        elif "then eof" in label:
            assert actions[-1][0] == "eof"
        elif "none" in label:
            assert "cmd" in first[2]
        else:
            assert first[0] == "raw"
            uid = msgpack.unpackb(first[2], raw=False, strict_map_key=False)
            assert not (isinstance(uid, list) and len(uid) == 2 and
                        all(isinstance(x, str) for x in uid) and len(uid[1]) == 36)


def test_storm_opens_and_drops_the_connections_it_claims():
    for seed in SEEDS[:10]:
        _, label, actions = mutate("storm", seed)
        n = int(label.split()[2])
        conns = {a[1] for a in actions}
        assert len(conns) == n
        last = {}
        for a in actions:
            last[a[1]] = a[0]
        assert set(last.values()) <= {"eof", "rst"}


def test_bytes_mutations_change_the_encoded_stream():
    for codec in ("msgpack", "lenprefix"):
        for seed in SEEDS:
            base, label, actions = mutate("bytes", seed, codec)
            sent = b"".join(wire_bytes(a, codec) for a in actions[1:])
            clean = b"".join(frame(pack(m), codec) for m in base.messages[1:])
            assert actions[-1][0] == "raw" and sent != clean, label


# ---- helpers ------------------------------------------------------------------------------

def test_values_the_trace_view_would_change_are_played_raw():
    looks_like_bin = {"$bin": "00"}
    actions = [msg("c1", looks_like_bin), msg("c1", {"a": [1, b"\x00"]})]
    out = replayable(actions, "lenprefix")
    assert out == [raw("c1", frame(pack(looks_like_bin), "lenprefix")), actions[1]]


def test_ddmin_finds_the_two_needed_items():
    budget = Budget(100)
    found = ddmin(list(range(40)), lambda xs: 7 in xs and 31 in xs, budget)
    assert found == [7, 31] and budget.used < 100


def test_ddmin_stops_at_its_budget():
    budget = Budget(3)
    found = ddmin(list(range(40)), lambda xs: 7 in xs, budget)
    assert budget.used == 3 and 7 in found and len(found) < 40


def test_crash_signature_takes_the_last_crash_line_without_numbers():
    log = "warning: x\nTraceback:\n  File 'a'\nKeyError: 0\nmore\nValueError: 3345 too big\n"
    assert crash_signature(log) == "ValueError: N too big"
    assert crash_signature("UnicodeDecodeError: byte 0xfa at 3\n") == "UnicodeDecodeError: byte N at N"
    assert crash_signature("all fine\n") == ""


# ---- runs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("codec,cases", [("msgpack", 48), ("lenprefix", 24)])
def test_a_bounded_run_against_the_reference_runtime_finds_nothing(ref_built, tmp_path, codec,
                                                                   cases):
    p, s = netfuzz(tmp_path, "--codec", codec, "--cases", cases, "--seed", 11, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert s["findings"] == [] and s["cases"] == cases
    outcomes = s["targets"][0]["outcomes"]
    assert outcomes["down"] == 0 and outcomes["reply"] > 0 and outcomes["close"] > 0
    assert set(s["families"]) == set(mutators.FAMILIES)


def test_a_broken_iut_gives_a_minimized_finding_that_replays(tmp_path):
    # Seed 3's first handshake case sends a second uid: a list, not a map.
    p, s = netfuzz(tmp_path, "--iut-cmd", fake_cmd("exit-on-non-map"), "--family", "handshake",
                   "--cases", 1, "--seed", 3, "--timeout", 2)
    assert p.returncode == 1, p.stdout + p.stderr
    (f,) = s["findings"]
    assert f["kind"] == "died" and f["reproduced"] and f["minimized"]
    assert f["minimized_actions"] < f["actions"]
    assert f["file"] in p.stdout
    target = Target("fake", cmd=fake_cmd("exit-on-non-map"), log_dir=str(tmp_path)).start()
    try:
        r = subprocess.run([sys.executable, SEND, "--target", target.addr, "--trace", f["file"],
                            "--conn", f["replay_conn"], "--timeout", "0.5"],
                           capture_output=True, text=True, timeout=30)
        assert target.exit_status(wait=5) == 3, r.stdout + r.stderr
    finally:
        target.stop()


def test_a_hang_is_a_finding(tmp_path):
    # Seed 4's first truncate case ends the cut uid with a FIN, which the fake
    # reads (and stalls on) before the case is over.
    p, s = netfuzz(tmp_path, "--iut-cmd", fake_cmd("stall-after-truncated"), "--family",
                   "truncate", "--cases", 1, "--seed", 4, "--timeout", 0.5, "--min-attempts", 4)
    assert p.returncode == 1, p.stdout + p.stderr
    assert [f["kind"] for f in s["findings"]] == ["hang"]


def test_memory_growth_is_a_finding(tmp_path):
    p, s = netfuzz(tmp_path, "--iut-cmd", fake_cmd("leak"), "--family", "flood", "--cases", 4,
                   "--rss-every", 2, "--rss-window", 2, "--rss-growth-kb", 4096, "--timeout", 2)
    assert p.returncode == 1, p.stdout + p.stderr
    kinds = {f["kind"] for f in s["findings"]}
    assert kinds == {"memory"}
    assert all(os.path.getsize(f["file"]) > 0 for f in s["findings"])


def test_differential_mode_lists_a_divergence(ref_built, tmp_path):
    p, s = netfuzz(tmp_path, "--diff-cmd", fake_cmd("exit-on-non-map"), "--family", "handshake",
                   "--cases", 1, "--seed", 3, "--timeout", 2)
    assert p.returncode == 1, p.stdout + p.stderr
    (d,) = s["divergences"]
    assert d["outcomes"]["diff"] == "down" and d["outcomes"]["iut"] != "down"
    assert set(d["files"]) == {"iut", "diff"}
    assert all(os.path.exists(f) for f in d["files"].values())
    assert "divergences: 1" in p.stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("args,text", [
    (["--cases", "0"], "must be >= 1"),
    (["--iut-addr", "nowhere"], "not a host:port"),
    (["--iut-cmd", "/bin/true"], "exited with status 0"),
    (["--json", "/nonexistent/dir/s.json"], "directory does not exist"),
])
def test_usage_errors_exit_2(tmp_path, args, text):
    p, _ = netfuzz(tmp_path, *args)
    assert p.returncode == 2 and text in p.stderr, p.stderr


def test_an_unreachable_target_exits_2(tmp_path):
    p, s = netfuzz(tmp_path, "--iut-addr", f"127.0.0.1:{free_port()}", "--timeout", 1)
    assert p.returncode == 2 and "nothing accepts connections" in p.stderr and s is None, p.stderr
