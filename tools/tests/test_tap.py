# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of scwire-tap, the recording TCP proxy (tools/tap).

Each test starts the tap on port 0 in front of a small target (a Python
server thread, or the reference runtime), talks through it, and checks two
things: the bytes arrive unchanged on both sides, and the trace says exactly
what went through.  Every wait has a timeout.
"""
import json
import math
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import msgpack
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The Makefile builds into build/; SCWIRE_BUILD points elsewhere (make BUILD=...).
BUILD = os.environ.get("SCWIRE_BUILD", os.path.join(REPO, "build"))
TAP = os.path.join(BUILD, "scwire-tap")
REF = os.path.join(BUILD, "scwire-ref")

TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(
    not os.access(TAP, os.X_OK),
    reason=f"{TAP} is not built: run `make` first (the Makefile builds it before the tests)")


# --- helpers ----------------------------------------------------------------

def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def lenprefix(body):
    return struct.pack("<I", len(body)) + body


def view(o):
    """The JSON view of a decoded msgpack value that the trace must show."""
    if isinstance(o, dict):
        if all(isinstance(k, str) for k in o):
            return {k: view(v) for k, v in o.items()}
        return {"$map": [[view(k), view(v)] for k, v in o.items()]}
    if isinstance(o, msgpack.ExtType):   # a namedtuple: before the tuple case
        return {"$ext": [o.code, o.data.hex()]}
    if isinstance(o, (list, tuple)):
        return [view(x) for x in o]
    if isinstance(o, bytes):
        return {"$bin": o.hex()}
    if isinstance(o, float) and not math.isfinite(o):
        return {"$float": "nan" if math.isnan(o) else ("inf" if o > 0 else "-inf")}
    return o


def unpack_view(raw):
    # Tuples for arrays, so that an array can be a map key.
    return view(msgpack.unpackb(raw, raw=False, strict_map_key=False, use_list=False))


def assert_same(got, want, where="msg"):
    """Equality that also tells 1 from 1.0 and True from 1."""
    assert type(got) is type(want), f"{where}: {got!r} is not a {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == want and math.copysign(1, got) == math.copysign(1, want), \
            f"{where}: {got!r} != {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def read_trace(path):
    """Every line, parsed; the file must end with a complete line."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert text == "" or text.endswith("\n"), "the trace ends inside a line"
    lines = [json.loads(line, parse_constant=reject_constant) for line in text.splitlines()]
    last = 0.0
    for line in lines:
        assert isinstance(line["t"], float) and line["t"] >= last, f"bad or decreasing t: {line}"
        last = line["t"]
        assert isinstance(line["conn"], str) and line["conn"].startswith("c")
    return lines


def wait_for(pred, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def closed_conns(path):
    return {line["conn"] for line in read_trace(path) if line.get("event") == "close"}


def wait_closed(path, conns):
    want = set(conns)
    wait_for(lambda: want <= closed_conns(path), f"close lines of {sorted(want)}")
    return read_trace(path)


def of_conn(lines, conn):
    return [line for line in lines if line["conn"] == conn]


def messages(lines, direction):
    return [line for line in lines if line.get("dir") == direction and "hex" in line
            and "event" not in line]


def events(lines):
    return [(line["event"], line.get("dir")) for line in lines if "event" in line]


def recv_all(sock, timeout=TIMEOUT):
    """Everything until EOF; a reset ends it too (reported as the 2nd value)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks), "eof"
            chunks.append(data)
    except ConnectionResetError:
        return b"".join(chunks), "rst"


def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def read_first_line(proc, what):
    ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
    assert ready, f"{what} printed no address within {TIMEOUT} s"
    line = proc.stdout.readline().strip()
    assert line, f"{what} exited before printing its address"
    return line


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


class Target:
    """A TCP server on 127.0.0.1 running handler(conn) in a thread per client;
    what each client sent and how it ended are kept in order of acceptance."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.results = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(TIMEOUT)
            slot = {}
            with self.lock:
                self.results.append(slot)
            t = threading.Thread(target=self._run, args=(conn, slot), daemon=True)
            self.threads.append(t)
            t.start()

    def _run(self, conn, slot):
        try:
            self.handler(conn, slot)
        except OSError as e:
            slot["error"] = e
        finally:
            conn.close()
            slot["finished"] = True

    def wait(self, n):
        wait_for(lambda: len(self.results) >= n and all(r.get("finished") for r in self.results[:n]),
                 f"{n} target connection(s) to finish")
        return self.results[:n]

    def close(self):
        self.done.set()
        self.acceptor.join(TIMEOUT)
        self.sock.close()


def echo(conn, slot):
    got = []
    while True:
        data = conn.recv(65536)
        if not data:
            break
        got.append(data)
        conn.sendall(data)
    slot["got"] = b"".join(got)
    conn.shutdown(socket.SHUT_WR)


def scripted(reply, delay=0.0):
    """Send reply at once, read everything (after delay), then close."""
    def handler(conn, slot):
        if reply:   # even an empty send fails once the peer has reset
            conn.sendall(reply)
        time.sleep(delay)
        slot["got"], slot["end"] = recv_all(conn)
    return handler


@pytest.fixture
def target():
    made = []

    def make(handler):
        t = Target(handler)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()


class Tap:
    def __init__(self, proc, addr, trace):
        self.proc, self.addr, self.trace = proc, addr, trace


@pytest.fixture
def tap(tmp_path):
    procs = []

    def start(target_addr, *extra, trace_name="trace.jsonl"):
        trace = str(tmp_path / trace_name)
        proc = subprocess.Popen(
            [TAP, "--listen", "127.0.0.1:0", "--target", target_addr, "--out", trace, "--quiet",
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return Tap(proc, read_first_line(proc, "scwire-tap"), trace)
    yield start
    for proc in procs:
        stop(proc)
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        # --quiet: anything on stderr is a failure (or a sanitizer's report).
        assert (proc.returncode, err) == (0, ""), f"scwire-tap ended with {proc.returncode}: {err}"


@pytest.fixture
def ref():
    if not os.access(REF, os.X_OK):
        pytest.skip(f"{REF} is not built: run `make` first")
    proc = subprocess.Popen([REF, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        yield read_first_line(proc, "scwire-ref")
    finally:
        stop(proc)
        proc.stdout.close()


# Values whose JSON view exercises every rule of the trace format.
C2S_VALUES = [
    ["client", "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc"],
    {"cmd": ["scwire_service", "echo", {"value": {"a": [1, 2.5, "x", None, True]}},
             ["client", "u"], "cid-1"]},
    {"cid": "cid-1", "yield": {1: "int key", "s": b"\x00\xffbin"}},
    {"cid": "cid-2", "yield": [-1, -2**63, 2**64 - 1, 0.1, -0.0, 1e300, 1.0, float("nan"),
                               float("inf"), float("-inf")]},
    {"cid": "cid-3", "yield": msgpack.ExtType(5, b"\x01\x02")},
    {"cid": "cid-4", "yield": "quote \" backslash \\ newline \n tab \t ctl \x01 \x1f é ✓ 😀"},
    {(1, 2): "array key", None: 1, False: [], 2.5: {}},
    None,
]
S2C_VALUES = [
    ["server", "9a8b7c6d-1111-4222-8333-444455556666"],
    {"functype": "asyncfunc", "cid": "cid-1"},
    {"return": {"a": [1, 2.5, "x", None, True]}, "cid": "cid-1"},
    {"error": {"type_str": "ValueError", "tb_str": "Traceback\n  ..."}, "cid": "cid-9"},
]


def check_direction(lines, direction, encoded):
    """The messages of one direction are exactly `encoded`, in order."""
    msgs = messages(lines, direction)
    assert [m["hex"] for m in msgs] == [e.hex() for e in encoded]
    for m, e in zip(msgs, encoded):
        assert_same(m["msg"], unpack_view(e), f"{direction} {m['hex'][:16]}")


# --- forwarding and the trace -------------------------------------------------

@pytest.mark.parametrize("codec", ["msgpack", "lenprefix"])
def test_bytes_forwarded_unchanged_and_traced_in_order(tap, target, codec):
    # float32 comes out widened to double, as Python's msgpack reads it.
    c2s = [pack(v) for v in C2S_VALUES] + [
        msgpack.packb({"cid": "f32", "yield": [0.1, -1.5]}, use_single_float=True)]
    s2c = [pack(v) for v in S2C_VALUES]
    frame = lenprefix if codec == "lenprefix" else (lambda b: b)
    c2s_bytes = b"".join(frame(b) for b in c2s)
    s2c_bytes = b"".join(frame(b) for b in s2c)

    srv = target(scripted(s2c_bytes))
    t = tap(srv.addr, "--codec", codec)
    with connect(t.addr) as s:
        # Odd pieces, so that messages straddle reads.
        for i in range(0, len(c2s_bytes), 7):
            s.sendall(c2s_bytes[i:i + 7])
        s.shutdown(socket.SHUT_WR)
        got, end = recv_all(s)
    assert (got, end) == (s2c_bytes, "eof")
    assert srv.wait(1)[0]["got"] == c2s_bytes

    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    assert events(lines)[0] == ("open", None)
    assert events(lines)[-1] == ("close", None)
    assert sorted(events(lines)[1:-1]) == [("eof", "c2s"), ("eof", "s2c")]
    check_direction(lines, "c2s", c2s)
    check_direction(lines, "s2c", s2c)
    for direction in ("c2s", "s2c"):
        eof = next(i for i, l in enumerate(lines) if l.get("event") == "eof"
                   and l["dir"] == direction)
        assert all(i < eof for i, l in enumerate(lines) if l in messages(lines, direction))


def test_trace_keys_follow_the_vector_format(tap, target):
    srv = target(scripted(pack(["s", "u"])))
    t = tap(srv.addr)
    with connect(t.addr) as s:
        s.sendall(pack(["c", "u"]))
        s.shutdown(socket.SHUT_WR)
        recv_all(s)
    lines = wait_closed(t.trace, ["c1"])
    with open(t.trace, encoding="utf-8") as fh:
        raw = fh.read().splitlines()
    for line, text in zip(lines, raw):
        if "event" in line:
            assert list(line)[:3] == ["t", "conn", "event"]
        else:
            assert list(line) == ["t", "conn", "dir", "hex", "msg"]
        # Python's json.dumps spacing, as in the recorded vectors.
        assert text.startswith('{"t": ') and '", "' in text


def test_chop_1_end_to_end_with_the_reference_runtime(tap, ref):
    t = tap(ref, "--chop", "1")
    with connect(t.addr) as s:
        s.sendall(pack(["tapclient", "5b8c0c1e-3f57-4c0e-9a57-1f0b0a3c2d4e"]))
        s.sendall(pack({"cmd": ["scwire_service", "echo", {"value": {"k": [1, "two", 3.5]}},
                                ["tapclient", "5b8c0c1e-3f57-4c0e-9a57-1f0b0a3c2d4e"], "c1"]}))
        unpacker = msgpack.Unpacker(raw=False)
        replies = []
        while len(replies) < 3:
            data = s.recv(65536)
            assert data, f"the connection ended after {replies}"
            unpacker.feed(data)
            replies.extend(unpacker)
    assert isinstance(replies[0], list) and len(replies[0]) == 2
    assert replies[1] == {"functype": "asyncfunc", "cid": "c1"}
    assert replies[2] == {"return": {"k": [1, "two", 3.5]}, "cid": "c1"}

    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    assert [m["msg"] for m in messages(lines, "s2c")][:3] == [
        replies[0], {"functype": "asyncfunc", "cid": "c1"},
        {"return": {"k": [1, "two", 3.5]}, "cid": "c1"}]
    assert messages(lines, "c2s")[1]["msg"]["cmd"][1] == "echo"


def test_chop_resegments_without_changing_bytes(tap, target):
    payload = pack({"cid": "x", "yield": b"\x5a" * 20000})
    srv = target(echo)
    t = tap(srv.addr, "--chop", "7")
    with connect(t.addr) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got, end = recv_all(s)
    assert (got, end) == (payload, "eof")
    assert srv.wait(1)[0]["got"] == payload
    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    check_direction(lines, "c2s", [payload])
    check_direction(lines, "s2c", [payload])


def test_big_message_through_a_slow_reader(tap, target):
    # Over the runtime's 1 MiB default: the tap still decodes it, and a target
    # that does not read for a while exercises the backpressure.
    big = pack({"cid": "big", "yield": os.urandom(3 << 20)})
    srv = target(scripted(big, delay=0.5))
    t = tap(srv.addr)
    with connect(t.addr) as s:
        sender = threading.Thread(target=lambda: (s.sendall(big), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got, end = recv_all(s)
        sender.join(TIMEOUT)
    assert (got, end) == (big, "eof")
    assert srv.wait(1)[0]["got"] == big
    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    check_direction(lines, "c2s", [big])
    check_direction(lines, "s2c", [big])


# --- what cannot be decoded ---------------------------------------------------

def test_undecodable_bytes_are_forwarded_and_traced(tap, target):
    good = pack(["c", "u"])
    junk = b"\xc1" + pack({"cid": "after", "yield": 1})
    reply = pack(["s", "u"]) + pack({"return": 1, "cid": "x"})
    srv = target(scripted(reply))
    t = tap(srv.addr)
    with connect(t.addr) as s:
        s.sendall(good)
        time.sleep(0.05)
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        got, end = recv_all(s)
    assert (got, end) == (reply, "eof")
    assert srv.wait(1)[0]["got"] == good + junk

    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    check_direction(lines, "c2s", [good])   # nothing decoded after the bad byte
    check_direction(lines, "s2c", [pack(["s", "u"]), pack({"return": 1, "cid": "x"})])
    errors = [l for l in lines if l.get("event") == "decode_error"]
    assert len(errors) == 1
    assert errors[0]["dir"] == "c2s"
    assert errors[0]["hex"] == junk.hex()
    assert "0xc1" in errors[0]["error"]
    assert list(errors[0]) == ["t", "conn", "event", "dir", "error", "hex"]


def test_message_cut_short_by_eof_is_a_decode_error(tap, target):
    whole = pack(["c", "u"])
    part = pack({"cid": "x", "yield": "unfinished"})[:9]
    srv = target(scripted(b""))
    t = tap(srv.addr)
    with connect(t.addr) as s:
        s.sendall(whole + part)
        s.shutdown(socket.SHUT_WR)
        recv_all(s)
    assert srv.wait(1)[0]["got"] == whole + part
    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    check_direction(lines, "c2s", [whole])
    err = next(l for l in lines if l.get("event") == "decode_error")
    assert err["dir"] == "c2s" and err["hex"] == part.hex()
    # Reported before the FIN that cut it.
    assert lines.index(err) < next(i for i, l in enumerate(lines)
                                   if l.get("event") == "eof" and l["dir"] == "c2s")


def test_lenprefix_garbage_is_forwarded(tap, target):
    bad = struct.pack("<I", 4) + b"\x92\x01\x02\x03"   # a body with a trailing byte
    srv = target(scripted(b""))
    t = tap(srv.addr, "--codec", "lenprefix")
    with connect(t.addr) as s:
        s.sendall(bad)
        s.shutdown(socket.SHUT_WR)
        recv_all(s)
    assert srv.wait(1)[0]["got"] == bad
    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    err = next(l for l in lines if l.get("event") == "decode_error")
    assert err["hex"] == bad.hex()   # the whole frame, header included
    assert "trailing" in err["error"]
    assert messages(lines, "c2s") == []


# --- connections ----------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_target_closes_the_client_and_tap_keeps_running(tap):
    t = tap("127.0.0.1:%d" % free_port())
    for conn in ("c1", "c2"):
        # The tap resets the client, which can even fail the connect itself.
        try:
            with connect(t.addr) as s:
                s.sendall(b"\x90")
                got, _ = recv_all(s)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        assert got == b""
        lines = of_conn(wait_closed(t.trace, [conn]), conn)
        assert [l.get("event") for l in lines] == ["open", "connect_error", "close"]
        assert "refused" in lines[1]["error"].lower()
        assert t.proc.poll() is None, "the tap exited"


def test_silent_target_times_out_after_5_s(tap):
    # A listener whose backlog is full drops SYNs, so a connect hangs.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    addr = silent.getsockname()
    fillers = []
    try:
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(addr)
            fillers.append(f)
        with socket.socket() as probe:
            probe.settimeout(0.3)
            try:
                probe.connect(addr)
                pytest.skip("this kernel accepts connections beyond a full backlog")
            except socket.timeout:
                pass
        t = tap("127.0.0.1:%d" % addr[1])
        start = time.monotonic()
        try:
            with connect(t.addr) as s:
                got, _ = recv_all(s)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        assert got == b""
        assert 4.5 < time.monotonic() - start < 8.0
        lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
        assert [l.get("event") for l in lines] == ["open", "connect_error", "close"]
        assert "no answer within 5 s" in lines[1]["error"]
    finally:
        for f in fillers:
            f.close()
        silent.close()


def test_concurrent_connections_get_their_own_ids(tap, target):
    srv = target(echo)
    t = tap(srv.addr)
    n = 32
    socks = [connect(t.addr) for _ in range(n)]
    payloads = [pack({"cid": "conn-%d" % i, "yield": "x" * (i * 1000)}) for i in range(n)]
    for s, p in zip(socks, payloads):
        s.sendall(p)
    for s, p in zip(socks, payloads):
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == (p, "eof")
        s.close()

    lines = wait_closed(t.trace, ["c%d" % i for i in range(1, n + 1)])
    by_payload = {}
    for conn in {l["conn"] for l in lines}:
        own = of_conn(lines, conn)
        assert events(own)[0] == ("open", None) and events(own)[-1] == ("close", None)
        sent = messages(own, "c2s")
        assert len(sent) == 1
        check_direction(own, "s2c", [bytes.fromhex(sent[0]["hex"])])
        by_payload[sent[0]["hex"]] = conn
    assert sorted(by_payload) == sorted(p.hex() for p in payloads)
    assert len(set(by_payload.values())) == n


def test_max_conns_holds_further_clients_back(tap, target):
    srv = target(echo)
    t = tap(srv.addr, "--max-conns", "1")
    first = connect(t.addr)
    first.sendall(b"\x01")
    assert first.recv(1) == b"\x01"
    with connect(t.addr) as second:
        second.sendall(b"\x02")
        second.settimeout(0.5)
        with pytest.raises(socket.timeout):
            second.recv(1)
        first.close()
        second.settimeout(TIMEOUT)
        assert second.recv(1) == b"\x02"


def test_reset_is_traced_and_passed_on(tap, target):
    srv = target(scripted(b""))
    t = tap(srv.addr)
    s = connect(t.addr)
    s.sendall(pack(["c", "u"]))
    wait_for(lambda: any("hex" in l for l in read_trace(t.trace)), "the first message")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    result = srv.wait(1)[0]
    assert result["got"] == pack(["c", "u"])
    assert result["end"] == "rst"
    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    assert events(lines) == [("open", None), ("rst", "c2s"), ("close", None)]


def test_target_reset_after_data_reaches_the_client(tap, target):
    reply = pack(["s", "u"])

    def send_then_reset(conn, slot):
        conn.sendall(reply)
        slot["got"] = conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    srv = target(send_then_reset)
    t = tap(srv.addr)
    with connect(t.addr) as s:
        s.sendall(b"\xc0")
        got, end = recv_all(s)
    assert (got, end) == (reply, "rst")
    lines = of_conn(wait_closed(t.trace, ["c1"]), "c1")
    check_direction(lines, "s2c", [reply])
    assert ("rst", "s2c") in events(lines)


# --- the command line and signals ---------------------------------------------

@pytest.mark.parametrize("args", [
    [],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9"],
    ["--listen", "127.0.0.1:0", "--out", "x"],
    ["--target", "127.0.0.1:9", "--out", "x"],
    ["--listen", "nocolon", "--target", "127.0.0.1:9", "--out", "x"],
    ["--listen", "127.0.0.1:65536", "--target", "127.0.0.1:9", "--out", "x"],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:0", "--out", "x"],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9", "--out", "x", "--codec", "json"],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9", "--out", "x", "--chop", "0"],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9", "--out", "x", "--chop", "-1"],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9", "--out", "x", "--max-conns", "z"],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9", "--out", "x", "--quiet=yes"],
    ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9", "--out", "x", "extra"],
    ["--bogus"],
    ["--chop"],
])
def test_bad_flags_exit_2_with_one_line(args, tmp_path):
    r = subprocess.run([TAP, *args], capture_output=True, text=True, timeout=TIMEOUT,
                       cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("scwire-tap: ") and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "x").exists()


def test_help_and_version():
    r = subprocess.run([TAP, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0 and "--chop N" in r.stdout
    r = subprocess.run([TAP, "--version"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0 and r.stdout.startswith("scwire-tap ")


def test_unwritable_trace_is_a_runtime_failure(tmp_path):
    r = subprocess.run([TAP, "--listen", "127.0.0.1:0", "--target", "127.0.0.1:9",
                        "--out", str(tmp_path / "no" / "such" / "dir.jsonl")],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1
    assert r.stdout == "" and r.stderr.count("\n") == 1 and "cannot open" in r.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full to fail writes")
def test_trace_write_failure_stops_the_tap_with_1():
    proc = subprocess.Popen([TAP, "--listen", "127.0.0.1:0", "--target", "127.0.0.1:9",
                             "--out", "/dev/full", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        addr = read_first_line(proc, "scwire-tap")
        try:
            with connect(addr) as s:
                recv_all(s)
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert proc.wait(timeout=TIMEOUT) == 1
        err = proc.stderr.read()
        assert err.count("\n") == 1 and "cannot write the trace" in err, err
    finally:
        stop(proc)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_0_and_leaves_complete_lines(tap, target, sig):
    srv = target(echo)
    t = tap(srv.addr)
    s = connect(t.addr)
    s.sendall(pack(["c", "u"]))
    assert s.recv(65536) == pack(["c", "u"])
    wait_for(lambda: len(messages(read_trace(t.trace), "s2c")) == 1, "the echo in the trace")
    t.proc.send_signal(sig)
    assert t.proc.wait(timeout=TIMEOUT) == 0
    s.close()
    lines = read_trace(t.trace)   # also checks that the file ends with a whole line
    assert events(lines) == [("open", None), ("close", None)]
    assert t.proc.stdout.read() == ""   # nothing after the address line
