# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of scwire-trace and the shared trace code (tools/scwire_tools).

Most tests build their traces and captures themselves; those that print or
draw a recorded tractor conversation read the repository's recordings
(conformance/vectors/tractor-0.1.0a4, VECTORS of toolenv.py).
"""
import json
import os
import random
import socket
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from toolenv import TOOLS, VECTORS  # also puts tools/ on sys.path

TRACE_TOOL = os.path.join(TOOLS, "scwire-trace")

from scwire_tools import ToolError, classify, codec, jsonview, normalize, pcap, tcpflow, trace  # noqa: E402
from scwire_tools.diagram import sequence_svg  # noqa: E402


UID_C = ["client", "11111111-2222-4333-8444-555555555555"]
UID_S = ["server", "66666666-7777-4888-9999-aaaaaaaaaaaa"]
CID1 = "0c1d0c1d-0000-4000-8000-000000000001"
CID2 = "0c1d0c1d-0000-4000-8000-000000000002"
TB = ('Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
      '    raise ValueError(text)\nValueError: kaboom\n')


def run(*args, timeout=60, **kw):
    return subprocess.run([sys.executable, TRACE_TOOL, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, **kw)


def msg_entry(conn, d, value, t=None):
    body = codec.pack(value)
    e = {"conn": conn, "dir": d, "hex": body.hex(), "msg": jsonview.to_json(value)}
    if t is not None:
        e["t"] = t
    return e


def sample_entries():
    """A small conversation with every kind of message and event."""
    return [
        {"conn": "c1", "event": "open"},
        msg_entry("c1", "c2s", UID_C),
        msg_entry("c1", "s2c", UID_S),
        msg_entry("c1", "c2s", {"cmd": ["svc", "echo", {"value": {"a": [1, 2.5, "x", None, True]}},
                                        UID_C, CID1]}),
        msg_entry("c1", "s2c", {"functype": "asyncfunc", "cid": CID1}),
        msg_entry("c1", "s2c", {"return": {"a": [1, 2.5, "x", None, True]}, "cid": CID1}),
        msg_entry("c1", "c2s", {"cmd": ["svc", "ctx", {"b": b"\x00\xff"}, UID_C, CID2]}),
        msg_entry("c1", "s2c", {"functype": "context", "cid": CID2}),
        msg_entry("c1", "s2c", {"started": "hi", "cid": CID2}),
        msg_entry("c1", "c2s", {"yield": 1, "cid": CID2}),
        msg_entry("c1", "c2s", {"stop": True, "cid": CID2}),
        msg_entry("c1", "s2c", {"error": {"tb_str": TB, "type_str": "ValueError"}, "cid": CID2}),
        msg_entry("c1", "s2c", {"error": {"tb_str": TB, "type_str": "ValueError"}}),
        msg_entry("c1", "c2s", {"foo": 1}),
        msg_entry("c1", "c2s", None),
        {"conn": "c1", "event": "eof", "dir": "c2s"},
        {"conn": "c1", "event": "decode_error", "dir": "s2c", "error": "FormatError", "hex": "c1"},
        {"conn": "c1", "event": "rst", "dir": "s2c"},
    ]


def write_trace(path, entries):
    with open(path, "w", encoding="utf-8") as fh:
        trace.write_trace(entries, fh)
    return path


@pytest.fixture
def sample(tmp_path):
    return write_trace(tmp_path / "sample.jsonl", sample_entries())


# ---- the shared modules ------------------------------------------------------------------

def test_json_view_round_trip():
    value = {"s": "x", "b": b"\x00\x01", "l": [1, -5, 2 ** 40, 2.5, None, True],
             "m": {(1, 2): "tuple key", 3: "int key"}, "e": __import__("msgpack").ExtType(5, b"ab"),
             "f": float("inf")}
    view = jsonview.to_json(value)
    assert view["b"] == {"$bin": "0001"}
    assert view["m"] == {"$map": [[[1, 2], "tuple key"], [3, "int key"]]}
    assert view["e"] == {"$ext": [5, "6162"]}
    assert view["f"] == {"$float": "inf"}
    json.dumps(view)
    back = jsonview.from_json(json.loads(json.dumps(view)))
    assert codec.pack(back) == codec.pack(value)


@pytest.mark.parametrize("bad", [{"$bin": "zz"}, {"$map": [1]}, {"$ext": [500, "00"]},
                                 {"$float": "x"}, {"$map": [[{"a": 1}, 2]]}])
def test_json_view_rejects_malformed(bad):
    with pytest.raises(jsonview.ViewError):
        jsonview.from_json(bad)


@pytest.mark.parametrize("name", ["msgpack", "lenprefix"])
def test_decoder_any_split(name):
    values = [UID_C, {"cmd": ["a", "b", {}, UID_C, CID1]}, None, "x" * 70000, {1: b"\x00"}]
    data = b"".join(codec.frame(codec.pack(v), name) for v in values)
    for step in (1, 3, 4096, len(data)):
        d = codec.Decoder(name)
        out = []
        for i in range(0, len(data), step):
            out += d.feed(data[i:i + step])
        assert [raw for _, raw in out] == [codec.pack(v) for v in values]
        assert d.pending == 0


def test_decoder_stays_broken_after_an_error():
    d = codec.Decoder("msgpack")
    assert d.feed(b"\x01") == [(1, b"\x01")]
    with pytest.raises(codec.CodecError, match=r"not msgpack .* at stream offset 1 \(bytes c1"):
        d.feed(b"\xc1\x02")
    assert d.feed(b"\x03") == []


def test_lenprefix_rejects_trailing_bytes_and_empty_bodies():
    with pytest.raises(codec.CodecError, match="bytes after the object"):
        codec.Decoder("lenprefix").feed(b"\x02\x00\x00\x00\x01\x02")
    with pytest.raises(codec.CodecError, match="empty frame body"):
        codec.Decoder("lenprefix").feed(b"\x00\x00\x00\x00")


def test_classify_kinds_cids_and_summaries():
    infos = classify.annotate(sample_entries())
    got = [(i["kind"], classify.short_cid(i["cid"])) for i in infos]
    assert got == [
        ("event", ""), ("handshake", ""), ("handshake", ""), ("cmd", "0c1d0c1d"),
        ("functype", "0c1d0c1d"), ("return", "0c1d0c1d"), ("cmd", "0c1d0c1d"),
        ("functype", "0c1d0c1d"), ("started", "0c1d0c1d"), ("yield", "0c1d0c1d"),
        ("stop", "0c1d0c1d"), ("error", "0c1d0c1d"), ("actor-error", ""), ("other", ""),
        ("nil", ""), ("event", ""), ("event", ""), ("event", "")]
    s = [i["summary"] for i in infos]
    assert s[1] == "client 11111111"
    assert s[3] == 'svc.echo(value={a: [1, 2.5, "x", nil, true]})'
    assert s[6] == "svc.ctx(b=<bin 2: 00ff>)"
    assert s[11] == "ValueError: kaboom"
    assert s[14] == "terminate"


def test_error_summary_folds_the_module_path():
    err = {"type_str": "ModuleNotExposed",
           "tb_str": "Traceback ...\ntractor._exceptions.ModuleNotExposed: os\n"}
    assert classify.error_summary(err) == "ModuleNotExposed: os"
    assert classify.error_summary({"type_str": "KeyError", "tb_str": "x\nOther: y"}) == "KeyError: Other: y"


def test_normalizer_renames_consistently_and_folds_tracebacks():
    n = normalize.Normalizer()
    a = n.norm({"cmd": ["self", "_cancel_task", {"cid": CID1}, UID_C, CID2]})
    # The command's own cid is named first, then the one it cancels.
    assert a["cmd"][4] == "<cid1>" and a["cmd"][2] == {"cid": "<cid2>"}
    assert a["cmd"][3] == ["client", "<uuid1>"]
    b = n.norm({"error": {"tb_str": TB, "type_str": "ValueError"}, "cid": CID1})
    assert b == {"error": {"tb_str": "<tb ValueError>", "type_str": "ValueError"}, "cid": "<cid2>"}
    assert normalize.Normalizer(tb="ignore").norm({"tb_str": TB}) == {"tb_str": "<tb>"}


# ---- trace files ---------------------------------------------------------------------------

def test_read_trace_fills_msg_from_hex(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"conn": "c1", "dir": "c2s", "hex": "c0"}\n'
                 '{"conn": "c1", "dir": "c2s", "hex": "c1", "raw": true}\n')
    es = trace.read_trace(str(p))
    assert es[0]["msg"] is None and es[0]["_line"] == 1
    assert es[1]["raw"] is True and "msg" not in es[1]


@pytest.mark.parametrize("line, text", [
    ("[1, 2]", "not a JSON object"),
    ('{"dir": "c2s", "hex": "c0"}', 'no "conn" string'),
    ('{"conn": "c1", "dir": "up", "hex": "c0"}', "not c2s or s2c"),
    ('{"conn": "c1", "dir": "c2s", "hex": "xyz"}', "not a hex string"),
    ('{"conn": "c1", "dir": "c2s"}', 'without "msg" or "hex"'),
    ('{"conn": "c1", "t": "soon", "event": "open"}', '"t" is not a number'),
    ('{"conn": "c1" "event": "open"}', "not JSON"),
])
def test_bad_trace_lines_are_named(tmp_path, line, text):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"conn": "c1", "event": "open"}\n' + line + "\n")
    r = run(p)
    assert r.returncode == 2
    assert r.stderr.startswith(f"scwire-trace: {p}:2: ")
    assert text in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_truncated_trace_is_an_error_naming_the_line(tmp_path, sample):
    text = open(sample, encoding="utf-8").read()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[:-25])                      # the last line loses its end
    n = text.count("\n")
    r = run(cut)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"scwire-trace: {cut}:{n}: truncated line, not JSON: "
                                f"Unterminated string starting at (column 47)") or \
        r.stderr.startswith(f"scwire-trace: {cut}:{n}: truncated line, not JSON: ")
    assert r.stdout == ""


def test_truncated_trace_with_lenient_uses_what_is_complete(tmp_path, sample):
    text = open(sample, encoding="utf-8").read()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[:-25])
    n = text.count("\n")
    r = run(cut, "--lenient", "--no-color")
    assert r.returncode == 0, r.stderr
    assert f"scwire-trace: warning: {cut}:{n}: truncated line" in r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == n - 1
    assert "eof c2s" in lines[-2] and "decode_error s2c" in lines[-1]


def test_missing_file_and_unknown_conn(tmp_path, sample):
    r = run(tmp_path / "nope.jsonl")
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = run(sample, "--conn", "c9")
    assert r.returncode == 2
    assert r.stderr.strip() == f"scwire-trace: {sample}: no connection 'c9' (connections: c1)"


def test_usage_errors_exit_2(sample):
    assert run(sample, "--pcap").returncode == 2
    assert run(sample, "--bogus").returncode == 2


# ---- the listing ---------------------------------------------------------------------------

def test_listing_of_a_trace(sample):
    r = run(sample, "--no-color")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(sample_entries())
    assert "\x1b[" not in r.stdout
    assert lines[0].split() == ["#1", "c1", "===", "open"]
    assert lines[1].split()[:4] == ["#2", "c1", "-->", "handshake"]
    assert lines[2].split()[:4] == ["#3", "c1", "<--", "handshake"]
    assert lines[3].split()[:5] == ["#4", "c1", "-->", "cmd", "0c1d0c1d"]
    assert lines[3].endswith('svc.echo(value={a: [1, 2.5, "x", nil, true]})')
    assert lines[11].split()[3:] == ["error", "0c1d0c1d", "ValueError:", "kaboom"]
    assert "Traceback" not in r.stdout                      # folded
    assert lines[12].split()[3:] == ["actor-error", "ValueError:", "kaboom"]
    assert lines[15].split()[2:] == ["--|", "eof", "c2s"]
    assert lines[17].split()[2:] == ["X--", "rst", "s2c"]


def test_listing_colors_and_full_tracebacks(sample):
    r = run(sample, "--color", "--full-tb")
    assert r.returncode == 0
    assert "\x1b[1;31merror" in r.stdout and "\x1b[36m-->" in r.stdout and "\x1b[33m<--" in r.stdout
    assert "| Traceback (most recent call last):" in r.stdout
    assert "NO_COLOR" not in r.stdout
    r = run(sample, "--color", env=dict(os.environ, NO_COLOR="1"))
    assert "\x1b[" not in r.stdout


def test_listing_times_from_t(tmp_path):
    es = [dict(e, t=i / 1000) for i, e in enumerate(sample_entries())]
    r = run(write_trace(tmp_path / "t.jsonl", es), "--no-color")
    assert r.stdout.splitlines()[3].split()[0] == "0.003000"


def test_select_by_conn_and_cid(tmp_path):
    es = sample_entries() + [dict(e, conn="c2") for e in sample_entries()[:6]] + [
        msg_entry("c2", "c2s", {"cmd": ["self", "_cancel_task", {"cid": CID1}, UID_C, CID2]})]
    p = write_trace(tmp_path / "two.jsonl", es)
    r = run(p, "--conn", "c2", "--no-color")
    assert r.returncode == 0
    assert {ln.split()[1] for ln in r.stdout.splitlines()} == {"c2"}
    r = run(p, "--cid", CID1[:8] + "-0000-4000-8000-000000000001", "--no-color")
    kinds = [ln.split()[3] for ln in r.stdout.splitlines()]
    # Both conns' cmd/functype/return of CID1, and the _cancel_task aimed at it.
    assert kinds == ["cmd", "functype", "return", "cmd", "functype", "return", "cmd"]
    assert "self._cancel_task" in r.stdout.splitlines()[-1]


def test_group_by_cid(sample):
    r = run(sample, "--by-cid", "--no-color")
    heads = [ln for ln in r.stdout.splitlines() if ln.startswith("== ")]
    assert heads == ["== c1 (no cid: handshake, nil, events)", f"== c1 cid {CID1}  svc.echo()",
                     f"== c1 cid {CID2}  svc.ctx()"]


def test_stats(sample):
    r = run(sample, "--stats")
    assert r.returncode == 0
    out = r.stdout
    assert out.splitlines()[0] == "messages 14, events 4, connections 1, contexts 2"
    c2s = sum(len(e["hex"]) // 2 for e in sample_entries() if e.get("dir") == "c2s" and "event" not in e)
    assert f"bytes c2s {c2s} in 7 messages" in out
    assert "  handshake         2" in out and "  error             1" in out
    assert f"c1     {CID2[:8]}  svc.ctx" in out
    assert "#1" not in out                                   # stats only, no listing


def test_listing_of_a_recorded_tractor_trace():
    r = run(os.path.join(VECTORS, "e_asyncgen.jsonl"), "--conn", "c3", "--no-color")
    assert r.returncode == 0, r.stderr
    rows = [ln.split()[2:4] for ln in r.stdout.splitlines()]
    assert [k for a, k in rows if a in ("-->", "<--")] == [
        "handshake", "handshake", "cmd", "functype", "yield", "yield", "yield", "yield", "yield",
        "stop", "cmd", "functype", "return", "nil"]
    assert "svc.count(n=5)" in r.stdout and 'self._cancel_task(cid="06c6e8c3…")' in r.stdout
    r = run(os.path.join(VECTORS, "e_asyncgen.jsonl"), "--stats")
    assert "  yield             5" in r.stdout


# ---- diagrams ------------------------------------------------------------------------------

def _check_svg(text):
    root = ET.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    low = text.lower()
    for banned in ("<script", "href=", "@import", "url(", "@font-face"):
        assert banned not in low, banned
    return root


def test_diagram_function_for_reuse():
    # The conformance report hands its wire logs to sequence_svg: "t" stamps,
    # raw bytes without "msg", and characters XML cannot hold in a value.
    es = sample_entries() + [{"t": 0.5, "conn": "c2", "dir": "c2s", "hex": "c1c1", "raw": True},
                             msg_entry("c2", "s2c", ["bad\x00name", "u"], t=0.6)]
    svg = sequence_svg(es, title="case <1> & more")
    root = _check_svg(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "case <1> & more" in texts
    assert "c1 client" in texts and "c1 server" in texts and "c2 client side" in texts
    assert "cmd 0c1d0c1d svc.echo(value={a: [1, 2.5, \"x\", nil, true]})" in texts
    assert "error 0c1d0c1d ValueError: kaboom" in texts
    assert any(t and t.startswith("raw 2 bytes: c1c1") for t in texts)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any("tb_str" in t for t in titles)                # full message as a tooltip
    assert ET.fromstring(sequence_svg([])) is not None


def test_svg_and_html_outputs(tmp_path, sample):
    svg, page = tmp_path / "d.svg", tmp_path / "d.html"
    r = run(sample, "--svg", svg, "--html", page, "--title", "sample run")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""                                     # files only, no listing
    _check_svg(svg.read_text())
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "sample run" in html
    assert "scw-k-error" in html and "svc.echo" in html and "<script" not in html.lower()
    assert "messages 14, events 4" in html
    r = run(sample, "--svg", tmp_path / "no" / "such" / "dir.svg")
    assert r.returncode == 1 and "cannot write" in r.stderr


def test_diagram_of_a_recorded_tractor_trace(tmp_path):
    out = tmp_path / "f.svg"
    r = run(os.path.join(VECTORS, "f_context_stream.jsonl"), "--svg", out)
    assert r.returncode == 0, r.stderr
    root = _check_svg(out.read_text())
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "c3 client" in texts and "c3 arbiter" in texts
    assert sum(1 for t in texts if t and t.startswith("yield ")) == 6
    assert any(t and t.startswith("cmd ") and "svc.ctx_echo(first=\"hi\")" in t for t in texts)


# ---- captures ------------------------------------------------------------------------------

def _pcapng(path, frames):
    """Write frames as pcapng: SHB, one Ethernet IDB in nanoseconds, EPBs."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
    out += block(1, struct.pack("<HHI", 1, 0, 262144) + opts)
    for ts, fr in frames:
        ticks = int(ts * 1e9)
        out += block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(fr), len(fr)) + fr)
    with open(path, "wb") as fh:
        fh.write(out)


def _ipv6_frame(sport, dport, seq, flags, payload):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    # A hop-by-hop options header first, to exercise the extension-header walk.
    hbh = bytes([6, 0]) + b"\x01\x04\0\0\0\0"
    ip = struct.pack(">IHBB", 6 << 28, len(hbh) + len(tcp), 0, 64) + \
        socket.inet_pton(socket.AF_INET6, "::1") * 2
    return b"\0" * 12 + b"\x86\xdd" + ip + hbh + tcp


def _messages(entries):
    return [(e["conn"], e["dir"], e["hex"]) for e in entries if trace.is_message(e)]


@pytest.mark.parametrize("name", ["msgpack", "lenprefix"])
def test_pcap_reassembly_out_of_order_and_retransmitted(tmp_path, name):
    entries = sample_entries()
    entries.insert(12, msg_entry("c1", "s2c", {"return": "y" * 5000, "cid": CID1}))
    frames = tcpflow.entries_to_frames(entries, 1616, name, segment=5)
    # Keep the TCP handshake first and the final RST last.
    head, tail, rst = frames[:3], frames[3:-1], frames[-1:]
    rng = random.Random(7)
    # Shuffle within small windows (reordering), and send a tenth twice (retransmissions).
    for i in range(0, len(tail), 6):
        window = tail[i:i + 6]
        rng.shuffle(window)
        tail[i:i + 6] = window
    tail += [f for f in tail if rng.random() < 0.1]
    rng.shuffle(tail[-20:])
    path = tmp_path / "x.pcap"
    pcap.write_pcap(path, head + tail + rst)
    warnings = []
    got = tcpflow.capture_to_entries(str(path), [1616], name, warnings.append)
    # Reordering across the two directions legitimately changes their
    # interleaving; within each direction the order is the byte order.
    for d in ("c2s", "s2c"):
        assert [m for m in _messages(got) if m[1] == d] == [m for m in _messages(entries) if m[1] == d]
    assert not [w for w in warnings if "missing" in w]
    evs = [(e["event"], e.get("dir")) for e in got if "event" in e]
    assert ("open", None) in evs and ("eof", "c2s") in evs


def test_pcap_tool_round_trip_via_jsonl(tmp_path, sample):
    cap, back = tmp_path / "s.pcap", tmp_path / "back.jsonl"
    r = run(sample, "--to-pcap", cap, "--port", "4000", "--segment", "3")
    assert r.returncode == 0, r.stderr
    r = run(cap, "--pcap", "--port", "4000", "--jsonl", back)
    assert r.returncode == 0, r.stderr
    got = trace.read_trace(str(back))
    assert _messages(got) == _messages(sample_entries())
    assert all(isinstance(e["t"], float) for e in got)
    # The s2c decode_error of the sample was sent as the byte c1: decoded again as one.
    errs = [e for e in got if e.get("event") == "decode_error"]
    assert len(errs) == 1 and errs[0]["dir"] == "s2c" and errs[0]["hex"] == "c1"
    r = run(cap, "--pcap", "--port", "4000", "--no-color")
    assert "svc.echo(value=" in r.stdout and r.stdout.count("handshake") == 2


def test_pcapng_ipv6_and_linux_cooked(tmp_path):
    cid = CID1
    payload_c = codec.pack(UID_C) + codec.pack({"cmd": ["a", "b", {}, UID_C, cid]})
    payload_s = codec.pack(UID_S) + codec.pack({"return": 1, "cid": cid})
    frames = [
        (1.0, _ipv6_frame(50000, 1616, 99, tcpflow.SYN, b"")),
        (1.1, _ipv6_frame(1616, 50000, 499, tcpflow.SYN | tcpflow.ACK, b"")),
        (1.2, _ipv6_frame(50000, 1616, 100, tcpflow.ACK | tcpflow.PSH, payload_c[:10])),
        (1.3, _ipv6_frame(1616, 50000, 500, tcpflow.ACK | tcpflow.PSH, payload_s)),
        (1.4, _ipv6_frame(50000, 1616, 110, tcpflow.ACK | tcpflow.PSH, payload_c[10:])),
        (1.5, _ipv6_frame(50000, 1616, 100 + len(payload_c), tcpflow.ACK | tcpflow.FIN, b"")),
    ]
    path = tmp_path / "v6.pcapng"
    _pcapng(path, frames)
    got = tcpflow.capture_to_entries(str(path), [1616])
    assert [(e.get("dir"), classify.kind(e.get("msg"))) for e in got if "msg" in e] == [
        ("s2c", "other"), ("s2c", "return"), ("c2s", "other"), ("c2s", "cmd")]
    assert got[0]["t"] == 0.0 and abs(got[-1]["t"] - 0.5) < 1e-6
    assert got[-1] == {"t": got[-1]["t"], "conn": "c1", "event": "eof", "dir": "c2s"}
    # Linux cooked capture (SLL, "any" interface) of an IPv4 frame.
    fr = tcpflow.tcp_frame(40000, 1616, 1, 0, tcpflow.PSH | tcpflow.ACK, codec.pack(UID_C))
    sll = struct.pack(">HHH8sH", 0, 772, 6, b"", 0x0800) + fr[14:]
    cooked = tmp_path / "sll.pcap"
    with open(cooked, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 113))
        fh.write(struct.pack("<IIII", 5, 0, len(sll), len(sll)) + sll)
    warnings = []
    got = tcpflow.capture_to_entries(str(cooked), [1616], warn=warnings.append)
    assert [e["msg"] for e in got if "msg" in e] == [UID_C]
    assert any("no SYN seen" in w for w in warnings)


def test_bad_and_cut_captures(tmp_path, sample):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture")
    r = run(junk, "--pcap", "--port", "1616")
    assert r.returncode == 2
    assert r.stderr.strip() == f"scwire-trace: {junk}: not a pcap or pcapng file (magic 74686973)"
    cap = tmp_path / "s.pcap"
    assert run(sample, "--to-pcap", cap).returncode == 0
    data = cap.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-7])
    r = run(cut, "--pcap", "--port", "1616", "--no-color")
    assert r.returncode == 0
    assert "file ends inside a packet record" in r.stderr
    assert "handshake" in r.stdout
    r = run(cap, "--pcap", "--port", "abc")
    assert r.returncode == 2 and "not a TCP port" in r.stderr


def test_pcap_of_a_real_capture():
    # tcpdump of two connect-and-reset probes straight to a tractor daemon.
    r = run(os.path.join(VECTORS, "logs", "b_direct_no_proxy.pcap"), "--pcap", "--port", "17616",
            "--no-color")
    assert r.returncode == 0, r.stderr
    rows = [ln.split()[1:4] for ln in r.stdout.splitlines()]
    assert rows == [["c1", "===", "open"], ["c1", "<--", "handshake"], ["c1", "--X", "rst"],
                    ["c2", "===", "open"], ["c2", "<--", "handshake"], ["c2", "--X", "rst"]]
    assert "arbiter c908ec69" in r.stdout


def test_tool_error_status():
    assert ToolError("x").status == 2 and ToolError("x", 1).status == 1
