# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of scwire-tap as a delaying relay: --delay and --jitter per direction,
--no-trace, --keep-port, --mark and --transparent's refusal of a client that
was not redirected.  The transparent relay between two network namespaces is
tested with them, in conformance/selftest/test_netem.py.

Every wait has a timeout; each timing bound has a lower side (the delay is
really held) and an upper one (it is not held twice).
"""
import os
import socket
import struct
import subprocess
import time

import pytest

from test_tap import TAP, TIMEOUT, Target, connect, echo, read_first_line, recv_all, stop
from test_tap import target  # noqa: F401  (the fixture)

SLACK = 0.25   # scheduling noise allowed above a delay on a shared host


@pytest.fixture
def relay():
    procs = []

    def start(target_addr, *extra, listen="127.0.0.1:0"):
        where = ["--target", target_addr] if target_addr else []
        proc = subprocess.Popen([TAP, "--listen", listen, *where, "--no-trace", *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        proc.addr = read_first_line(proc, "scwire-tap")
        return proc
    yield start
    for proc in procs:
        stop(proc)
        proc.stdout.close()
        proc.stderr.close()


def round_trip(s, payload=b"ping"):
    t0 = time.monotonic()
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = s.recv(65536)
        assert data, "the connection ended during a round trip"
        got += data
    assert got == payload
    return time.monotonic() - t0


def test_each_direction_holds_its_own_delay(relay, target):
    srv = target(echo)
    r = relay(srv.addr, "--delay", "c2s=100", "--delay", "s2c=200", "--quiet")
    with connect(r.addr) as s:
        first = round_trip(s)
        later = [round_trip(s) for _ in range(3)]
    # The first also waits for the connect, which waits for the c2s delay.
    assert 0.4 <= first < 0.4 + SLACK, first
    for rtt in later:
        assert 0.3 <= rtt < 0.3 + SLACK, later


def test_no_delay_without_the_flag(relay, target):
    srv = target(echo)
    r = relay(srv.addr, "--quiet")
    with connect(r.addr) as s:
        assert max(round_trip(s) for _ in range(5)) < 0.05


def test_jitter_keeps_bytes_and_order(relay, target):
    srv = target(echo)
    r = relay(srv.addr, "--delay", "20", "--jitter", "15", "--quiet")
    chunks = [bytes([i % 251]) * (1 + i % 97) for i in range(300)]
    with connect(r.addr) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for c in chunks:
            s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        got, end = recv_all(s)
    assert (got, end) == (b"".join(chunks), "eof")
    assert srv.wait(1)[0]["got"] == b"".join(chunks)


def test_fin_follows_the_held_bytes(relay, target):
    srv = target(echo)
    r = relay(srv.addr, "--delay", "c2s=150", "--quiet")
    with connect(r.addr) as s:
        t0 = time.monotonic()
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)
        got, end = recv_all(s)
        took = time.monotonic() - t0
    assert (got, end) == (b"last words", "eof")
    assert srv.wait(1)[0]["got"] == b"last words"
    assert 0.3 <= took < 0.3 + SLACK, took


def test_reset_follows_the_held_bytes(relay, target):
    reply = b"reply before the reset"

    def send_then_reset(conn, slot):
        conn.sendall(reply)
        slot["got"] = conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    srv = target(send_then_reset)
    r = relay(srv.addr, "--delay", "s2c=150", "--quiet")
    with connect(r.addr) as s:
        t0 = time.monotonic()
        s.sendall(b"\xc0")
        got, end = recv_all(s)
        took = time.monotonic() - t0
    assert (got, end) == (reply, "rst")
    assert 0.15 <= took < 0.15 + SLACK, took


def test_unreachable_target_resets_the_client_after_the_round_trip(relay):
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    r = relay("127.0.0.1:%d" % port, "--delay", "c2s=100", "--delay", "s2c=100", "--quiet")
    t0 = time.monotonic()
    try:
        with connect(r.addr) as s:
            got, end = recv_all(s)
    except (ConnectionResetError, BrokenPipeError):
        got, end = b"", "rst"
    took = time.monotonic() - t0
    assert (got, end) == (b"", "rst")
    assert 0.2 <= took < 0.2 + SLACK, took
    assert r.poll() is None, "the relay exited"


def test_keep_port_connects_from_the_clients_port(relay):
    seen = {}

    def peer_port(conn, slot):
        slot["peer"] = conn.getpeername()[1]
        conn.sendall(b"ok")

    srv = Target(peer_port)
    try:
        r = relay(srv.addr, "--keep-port", "--quiet")
        # The client leaves from 127.0.0.2, so that its port is free on
        # 127.0.0.1, where the relay's connection to the target leaves from.
        port = int(r.addr.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                      source_address=("127.0.0.2", 0)) as s:
            seen["client"] = s.getsockname()[1]
            assert recv_all(s)[0] == b"ok"
        assert srv.wait(1)[0]["peer"] == seen["client"]
    finally:
        srv.close()


def test_keep_port_taken_falls_back_and_says_so(relay):
    def peer_port(conn, slot):
        slot["peer"] = conn.getpeername()[1]
        conn.sendall(b"ok")

    srv = Target(peer_port)
    try:
        r = relay(srv.addr, "--keep-port")
        # From 127.0.0.1 the client's own socket holds the port there.
        with connect(r.addr) as s:
            port = s.getsockname()[1]
            assert recv_all(s)[0] == b"ok"
        assert srv.wait(1)[0]["peer"] != port
    finally:
        srv.close()
    stop(r)
    assert "port %d is taken here" % port in r.stderr.read()


@pytest.mark.skipif(os.geteuid() != 0, reason="SO_MARK needs CAP_NET_ADMIN (run as root)")
def test_mark_relays_as_root(relay, target):
    srv = target(echo)
    r = relay(srv.addr, "--mark", "1479", "--quiet")
    with connect(r.addr) as s:
        assert round_trip(s) < 1.0


def test_transparent_resets_a_client_that_was_not_redirected(relay):
    r = relay(None, "--transparent")
    try:
        with connect(r.addr) as s:
            got, end = recv_all(s)
    except (ConnectionResetError, BrokenPipeError):
        got, end = b"", "rst"
    assert (got, end) == (b"", "rst")
    assert r.poll() is None
    stop(r)
    assert "reached the tap without a redirect" in r.stderr.read()


@pytest.mark.parametrize("args, why", [
    (["--delay", "x"], "not a number of milliseconds"),
    (["--delay", "up=5"], "the direction is c2s or s2c"),
    (["--delay", "70000"], "from 0 to 60000"),
    (["--jitter", "-1"], "not a number of milliseconds"),
    (["--delay", "c2s="], "not a number of milliseconds"),
    (["--mark", "0"], "--mark"),
    (["--transparent", "--target", "127.0.0.1:9"], "exclude each other"),
    (["--target", "127.0.0.1:9", "--out", "x"], "exclude each other"),
    (["--listen", "127.0.0.1:0"], "--target HOST:PORT or --transparent is required"),
])
def test_bad_relay_flags_exit_2_with_one_line(args, why, tmp_path):
    argv = [TAP, "--listen", "127.0.0.1:0", "--no-trace", *args]
    if args[:1] == ["--listen"]:
        argv = [TAP, *args, "--no-trace"]
    elif "--target" not in args and "--transparent" not in args:
        argv += ["--target", "127.0.0.1:9"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("scwire-tap: ") and r.stderr.count("\n") == 1, r.stderr
    assert why in r.stderr
    assert not (tmp_path / "x").exists()


def test_out_or_no_trace_is_required(tmp_path):
    r = subprocess.run([TAP, "--listen", "127.0.0.1:0", "--target", "127.0.0.1:9"],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 2 and "--out FILE or --no-trace is required" in r.stderr


def bytes_taken_by_a_stalled_path(relay_args):
    """What a client can write through the relay to a target that never reads."""
    srv = Target(lambda conn, slot: time.sleep(3))
    try:
        r = relay_args(srv.addr)
        with connect(r.addr) as s:
            s.setblocking(False)
            sent, last = 0, time.monotonic()
            while time.monotonic() - last < 0.5:
                try:
                    sent += s.send(b"\0" * 65536)
                    last = time.monotonic()
                except BlockingIOError:
                    time.sleep(0.01)
        return sent
    finally:
        srv.close()


def test_buffer_bounds_what_the_relay_holds(relay):
    small = bytes_taken_by_a_stalled_path(lambda a: relay(a, "--buffer", "65536", "--quiet"))
    large = bytes_taken_by_a_stalled_path(lambda a: relay(a, "--quiet"))
    # The default holds 1 MiB in the relay beside the kernel's own buffers.
    assert small + (512 << 10) < large, (small, large)


def test_buffer_out_of_range_exits_2():
    r = subprocess.run([TAP, "--listen", "127.0.0.1:0", "--target", "127.0.0.1:9", "--no-trace",
                        "--buffer", "100"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "--buffer" in r.stderr
