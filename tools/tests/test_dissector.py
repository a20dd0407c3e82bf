# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of the Wireshark dissector tools/wireshark/scwire.lua, run by tshark.

tshark comes from Debian's `tshark` package.  When it is missing the tests
install it if they run as root (as tools/install-deps would), and are skipped
with the reason otherwise; they never pass without running it.

Two sources of packets:
- synthetic captures written from a trace (scwire-trace --to-pcap), with
  segments of a few bytes so that every message needs TCP reassembly;
- a real loopback capture (dumpcap) of scwire-send talking to the reference
  runtime with both codecs; skipped, with dumpcap's reason, when capturing is
  not permitted.  The same capture is read back with scwire-trace --pcap.
Every subprocess and every wait has a timeout.
"""
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from toolenv import TOOLS, Ref, stop_process  # also puts tools/ on sys.path

from scwire_tools import classify, codec, jsonview, pcap, tcpflow, trace  # noqa: E402

LUA = os.path.join(TOOLS, "wireshark", "scwire.lua")
SEND = os.path.join(TOOLS, "scwire-send")
TRACE_TOOL = os.path.join(TOOLS, "scwire-trace")

UID_C = ["client", "11111111-2222-4333-8444-555555555555"]
UID_S = ["server", "66666666-7777-4888-9999-aaaaaaaaaaaa"]
CID1 = "0c1d0c1d-0000-4000-8000-000000000001"
CID2 = "0c1d0c1d-0000-4000-8000-000000000002"
TB = 'Traceback (most recent call last):\n  File "x.py", line 1\ntractor._exceptions.ModuleNotExposed: os\n'


def _install_tshark():
    """tshark's path, installing the Debian package when root; else skip."""
    path = shutil.which("tshark")
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("tshark is not installed and we are not root: install the Debian package "
                    "`tshark` (apt-get install tshark) to run the dissector tests")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "tshark"]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            # Package lists may be missing on a fresh machine: refresh once.
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.skip("installing tshark with apt-get timed out")
    path = shutil.which("tshark")
    if not path:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"tshark is not installed and `apt-get install tshark` failed: {last}")
    return path


@pytest.fixture(scope="module")
def tshark(tmp_path_factory):
    path = _install_tshark()
    # A private configuration directory: no personal preference can change the result.
    conf = tmp_path_factory.mktemp("wireshark-conf")
    return path, dict(os.environ, WIRESHARK_CONFIG_DIR=str(conf), HOME=str(conf))


def dissect(tshark, capture, port, codec_name, fields, two_pass=False):
    """Rows of tshark -T fields output (one per frame that has scwire), split by field."""
    path, env = tshark
    cmd = [path, "-n", "-r", str(capture), "-X", f"lua_script:{LUA}",
           "-o", f"scwire.port:{port}", "-o", f"scwire.codec:{codec_name}",
           "-Y", "scwire", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    if two_pass:
        cmd.append("-2")
    for fld in fields:
        cmd += ["-e", fld]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "Lua: Error" not in r.stderr and "lua_script" not in r.stderr, r.stderr
    return [ln.split("\t") for ln in r.stdout.splitlines()]


def messages_seen(rows):
    """(dir, kind, cid) of every message, in frame order, from dir/kind/cid columns."""
    out = []
    for row in rows:
        dirs, kinds, cids = (c.split(",") for c in row[:3])
        assert len(dirs) == len(kinds) == len(cids), row
        out += list(zip(dirs, kinds, cids))
    return out


def messages_expected(entries, conn=None):
    out = []
    for e, info in zip(entries, classify.annotate(entries)):
        if "msg" in e and (conn is None or e["conn"] == conn):
            out.append((e["dir"], info["kind"], info["cid"] or ""))
    return out


def per_dir(msgs):
    return {d: [m for m in msgs if m[0] == d] for d in ("c2s", "s2c")}


def msg(conn, d, value):
    return {"conn": conn, "dir": d, "hex": codec.pack(value).hex(), "msg": jsonview.to_json(value)}


def synthetic():
    return [
        {"conn": "c1", "event": "open"},
        msg("c1", "c2s", UID_C),
        msg("c1", "s2c", UID_S),
        msg("c1", "c2s", {"cmd": ["svc", "echo", {"value": "v" * 3000}, UID_C, CID1]}),
        msg("c1", "s2c", {"functype": "asyncfunc", "cid": CID1}),
        msg("c1", "s2c", {"return": "v" * 3000, "cid": CID1}),
        msg("c1", "c2s", {"cmd": ["os", "getcwd", {}, UID_C, CID2]}),
        msg("c1", "s2c", {"error": {"tb_str": TB, "type_str": "ModuleNotExposed"}, "cid": CID2}),
        msg("c1", "c2s", {"yield": {"$bin": "00ff"}, "cid": CID2}),
        msg("c1", "c2s", {"stop": True, "cid": CID2}),
        msg("c1", "s2c", {"started": [1, 2.5, None, -3, 2 ** 40], "cid": CID1}),
        msg("c1", "s2c", {"error": {"tb_str": TB, "type_str": "RuntimeError"}}),
        msg("c1", "c2s", {"foo": 1}),
        msg("c1", "c2s", None),
        msg("c1", "s2c", None),
        {"conn": "c1", "event": "eof", "dir": "s2c"},
        {"conn": "c2", "event": "open"},
        msg("c2", "s2c", UID_S),
        msg("c2", "c2s", 42),                       # a bad uid: still the handshake position
        {"conn": "c2", "event": "decode_error", "dir": "c2s", "error": "x", "hex": "c1c1"},
    ]


@pytest.fixture(scope="module")
def synthetic_captures(tmp_path_factory):
    d = tmp_path_factory.mktemp("synthetic")
    entries = [dict(e) for e in synthetic()]
    # jsonview keeps {"$bin": ...} as the view; the hex was built from the real value.
    entries[8] = {"conn": "c1", "dir": "c2s", "hex": codec.pack({"yield": b"\x00\xff", "cid": CID2}).hex(),
                  "msg": {"yield": {"$bin": "00ff"}, "cid": CID2}}
    caps = {}
    for name, seg in (("msgpack", 7), ("lenprefix", 3)):
        if name == "lenprefix":
            # Raw bytes go out unframed: make them a whole frame whose body is bad.
            entries[-1] = dict(entries[-1], hex="01000000c1")
        frames = tcpflow.entries_to_frames(entries, 1616, name, segment=seg)
        caps[name] = d / f"synthetic-{name}.pcap"
        pcap.write_pcap(caps[name], frames)
    return entries, caps


@pytest.mark.parametrize("name", ["msgpack", "lenprefix"])
@pytest.mark.parametrize("two_pass", [False, True])
def test_dissector_kinds_and_cids_of_a_synthetic_capture(tshark, synthetic_captures, name, two_pass):
    entries, caps = synthetic_captures
    rows = dissect(tshark, caps[name], 1616, name, ["scwire.dir", "scwire.kind", "scwire.cid"],
                   two_pass=two_pass)
    seen = messages_seen(rows)
    want = messages_expected(entries) + [("c2s", "decode_error", "")]
    assert per_dir(seen) == per_dir(want)


def test_dissector_tree_fields(tshark, synthetic_captures):
    entries, caps = synthetic_captures
    fields = ["scwire.handshake.name", "scwire.handshake.uuid", "scwire.cmd.ns", "scwire.cmd.func",
              "scwire.functype", "scwire.error.type_str", "scwire.error.tb_last", "scwire.len",
              "_ws.col.Info", "scwire.value", "scwire.cmd.caller"]
    for name in ("msgpack", "lenprefix"):
        rows = dissect(tshark, caps[name], 1616, name, fields)
        col = {f: [r[i] for r in rows if r[i]] for i, f in enumerate(fields)}
        assert col["scwire.handshake.name"] == ["client", "server", "server"]
        assert col["scwire.handshake.uuid"] == [UID_C[1], UID_S[1], UID_S[1]]
        assert col["scwire.cmd.ns"] == ["svc", "os"] and col["scwire.cmd.func"] == ["echo", "getcwd"]
        assert col["scwire.functype"] == ["asyncfunc"]
        assert col["scwire.error.type_str"] == ["ModuleNotExposed", "RuntimeError"]
        assert col["scwire.error.tb_last"][0] == "tractor._exceptions.ModuleNotExposed: os"
        assert col["scwire.cmd.caller"][0] == '["client", "11111111…"]'
        assert "[1, 2.5, nil, -3, 1099511627776]" in col["scwire.value"]
        assert "<bin 2: 00ff>" in col["scwire.value"]
        info = col["_ws.col.Info"]
        assert "c2s cmd 0c1d0c1d svc.echo" in info and "s2c functype 0c1d0c1d" in info
        assert "c2s handshake" in info and "c2s decode_error" in info
        if name == "lenprefix":
            assert col["scwire.len"][:2] == ["46", "46"]      # uid frames: header values
        else:
            assert col["scwire.len"] == []


def test_dissector_port_preference(tshark, synthetic_captures):
    _, caps = synthetic_captures
    path, env = tshark
    # On another port nothing is dissected as scwire.
    r = subprocess.run([path, "-n", "-r", str(caps["msgpack"]), "-X", f"lua_script:{LUA}",
                        "-o", "scwire.port:1617", "-Y", "scwire"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0 and r.stdout.strip() == ""


# ---- a real capture ------------------------------------------------------------------------

class Capture:
    """dumpcap (or tshark) writing classic pcap of the given ports on loopback."""

    def __init__(self, tshark, ports, out):
        path, env = tshark
        dumpcap = shutil.which("dumpcap")
        filt = " or ".join(f"tcp port {p}" for p in ports)
        if dumpcap:
            cmd = [dumpcap, "-i", "lo", "-f", filt, "-P", "-w", str(out)]
        else:
            cmd = [path, "-i", "lo", "-f", filt, "-F", "pcap", "-w", str(out)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.err = []
        ready = threading.Event()

        def reader():
            for ln in self.proc.stderr:
                self.err.append(ln.rstrip())
                if "Capturing on" in ln:
                    ready.set()
            ready.set()
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        ready.wait(20)
        # dumpcap says "Capturing on" before it opens the device, and only then
        # fails for want of permission: make sure it is still running.
        time.sleep(1.0)
        if self.proc.poll() is not None or not any("Capturing on" in ln for ln in self.err):
            self.stop()
            t.join(5)
            reason = next((ln for ln in self.err if ln.strip() and "Running as user" not in ln
                           and "Capturing on" not in ln), "no reason given")
            pytest.skip(f"cannot capture on the loopback interface: {reason.strip()}")

    def stop(self):
        stop_process(self.proc, grace=15)


SESSION = "\n".join([
    '{"cmd": ["scwire_service", "echo", {"value": {"a": [1, 2.5, "x", null, true]}}, "$uid", "$cid"]}',
    '{"cmd": ["scwire_service", "echo", {"value": "%s"}, "$uid", "$cid"]}' % ("z" * 300000),
    '{"cmd": ["scwire_service", "count", {"n": 3}, "$uid", "$cid"]}',
    '{"cmd": ["scwire_service", "raise_error", {"type_str": "ValueError", "text": "kaboom"}, "$uid", "$cid"]}',
    '{"cmd": ["scwire_absent", "echo", {"value": 1}, "$uid", "$cid"]}',
    '{"cmd": ["scwire_service", "ctx_echo", {"first": "hi"}, "$uid", "$cid1"]}',
    '{"yield": 0, "cid": "$cid1"}',
    '{"yield": {"$bin": "0001"}, "cid": "$cid1"}',
    '{"stop": true, "cid": "$cid1"}',
    '{"cmd": ["scwire_service", "sleep_forever", {}, "$uid", "$cid2"]}',
    '{"cmd": ["self", "_cancel_task", {"cid": "$cid2"}, "$uid", "$cid"]}',
]) + "\n"


@pytest.fixture(scope="module")
def live_capture(tshark, tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    refs = {name: Ref("--codec", name) for name in ("msgpack", "lenprefix")}
    cap = d / "live.pcap"
    try:
        c = Capture(tshark, [r.port for r in refs.values()], cap)
        records = {}
        try:
            for name, ref in refs.items():
                records[name] = d / f"session-{name}.jsonl"
                r = subprocess.run([sys.executable, SEND, "--target", ref.addr, "--codec", name,
                                    "--timeout", "0.5", "--record", str(records[name])],
                                   input=SESSION + "null\n", capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, r.stderr
            time.sleep(0.5)     # let the last packets reach the capture
        finally:
            c.stop()
    finally:
        for ref in refs.values():
            ref.stop()
    assert cap.exists() and cap.stat().st_size > 24, "dumpcap wrote no packets: " + "; ".join(c.err)
    return cap, refs, records


@pytest.mark.parametrize("name", ["msgpack", "lenprefix"])
def test_dissector_on_a_live_capture(tshark, live_capture, name):
    cap, refs, records = live_capture
    rows = dissect(tshark, cap, refs[name].port, name, ["scwire.dir", "scwire.kind", "scwire.cid"])
    seen = messages_seen(rows)
    want = messages_expected(trace.read_trace(str(records[name])))
    assert per_dir(seen) == per_dir(want)
    kinds = {k for _, k, _ in seen}
    assert {"handshake", "cmd", "functype", "return", "yield", "stop", "started", "error", "nil"} <= kinds
    # The 300 kB echo spans several TCP segments both ways and was reassembled.
    rows = dissect(tshark, cap, refs[name].port, name, ["scwire.msg_len"])
    assert sum(1 for r in rows for v in r[0].split(",") if v and int(v) > 300000) == 2


@pytest.mark.parametrize("name", ["msgpack", "lenprefix"])
def test_scwire_trace_reads_the_live_capture(live_capture, tmp_path, name):
    cap, refs, records = live_capture
    out = tmp_path / "from-pcap.jsonl"
    r = subprocess.run([sys.executable, TRACE_TOOL, str(cap), "--pcap", "--port", str(refs[name].port),
                        "--codec", name, "--jsonl", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = trace.read_trace(str(out))
    want = trace.read_trace(str(records[name]))
    for d in ("c2s", "s2c"):
        assert [e["hex"] for e in got if e.get("dir") == d and "msg" in e] == \
            [e["hex"] for e in want if e.get("dir") == d and "msg" in e]
    assert {e["conn"] for e in got} == {"c1"}
    r = subprocess.run([sys.executable, TRACE_TOOL, str(cap), "--pcap", "--port", str(refs[name].port),
                        "--codec", name, "--no-color"], capture_output=True, text=True, timeout=120)
    assert "scwire_service.count(n=3)" in r.stdout and "ValueError: kaboom" in r.stdout
