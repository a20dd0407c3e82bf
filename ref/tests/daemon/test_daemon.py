# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of the scwire-ref daemon as a program: its command line, its first
stdout line, its exit statuses, and a scripted session under valgrind that
must end with no memory error and no leak."""
import os
import shutil
import signal
import socket
import subprocess
import time

import msgpack
import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DAEMON = os.path.join(TOP, "build", "scwire-ref")
TIMEOUT = 10


@pytest.fixture(scope="module", autouse=True)
def built():
    if not os.access(DAEMON, os.X_OK):
        pytest.fail(f"{DAEMON} is missing: run make first")


_started = []


@pytest.fixture(autouse=True)
def reap_daemons():
    """A failing test must not leave a daemon behind."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


def start(*args, wrapper=()):
    proc = subprocess.Popen([*wrapper, DAEMON, "--listen", "127.0.0.1:0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _started.append(proc)
    line = proc.stdout.readline().strip()
    host, _, port = line.rpartition(":")
    assert host == "127.0.0.1" and port.isdigit(), f"first stdout line was {line!r}"
    return proc, int(port)


def stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    try:
        proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the daemon did not exit within the timeout after a signal")
    return proc.returncode, proc.stderr.read()


class Peer:
    """A minimal client: handshake, then messages in and out with timeouts."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.send(["peer", "0c2d2f3e-5a1b-4c6d-8e9f-101112131415"])
        self.peer_uid = self.recv()

    def send(self, obj):
        self.sock.sendall(msgpack.packb(obj, use_bin_type=True))

    def recv(self):
        deadline = time.monotonic() + TIMEOUT
        while True:
            for msg in self.unpacker:
                return msg
            if time.monotonic() > deadline:
                raise AssertionError("no message from the daemon within the timeout")
            data = self.sock.recv(65536)
            if not data:
                return EOFError
            self.unpacker.feed(data)

    def call(self, ns, func, call_id, **kwargs):
        self.send({"cmd": [ns, func, kwargs, ["peer", "u"], call_id]})


def test_help_documents_every_flag():
    out = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0
    for flag in ("--listen", "--registry", "--registry-role", "--codec", "--loglevel",
                 "--msg-buffer-size", "--max-frame", "--max-depth", "--max-str",
                 "--max-entries", "--max-contexts", "--max-conns", "--handshake-timeout",
                 "--max-outbuf"):
        assert flag in out.stdout, f"--help does not mention {flag}"


@pytest.mark.parametrize("args", [["--codec", "json"], ["--bogus"], ["--max-depth", "33"],
                                  ["--msg-buffer-size", "0"], ["--listen", "nohostport"],
                                  ["--profile", "0.1.0a5"], ["--max-frame", "12x"]])
def test_bad_flags_exit_2_with_one_line(args):
    out = subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scwire-ref: "), out.stderr


def test_unbindable_address_exits_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([DAEMON, "--listen", f"127.0.0.1:{port}"], capture_output=True,
                             text=True, timeout=TIMEOUT)
    assert out.returncode == 1
    assert "cannot listen on" in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_the_daemon_with_status_0_and_nil_to_peers(sig):
    proc, port = start()
    peer = Peer(port)
    peer.call("scwire_service", "sleep_forever", "c1")
    assert peer.recv() == {"functype": "asyncfunc", "cid": "c1"}
    status, _ = stop(proc, sig)
    assert status == 0
    assert peer.recv() is None, "the daemon should send nil on open channels when it stops"


def test_remote_cancel_is_acknowledged_then_the_daemon_exits_0():
    proc, port = start()
    peer = Peer(port)
    peer.call("self", "cancel", "c1")
    assert peer.recv() == {"functype": "asyncfunc", "cid": "c1"}
    assert peer.recv() == {"return": True, "cid": "c1"}
    assert proc.wait(timeout=TIMEOUT) == 0


def session(port):
    """Every kind of conversation once, plus the hostile rows that must not
    take the daemon down."""
    peer = Peer(port)
    peer.call("scwire_service", "echo", "e1", value={"a": [1, 2.5, "x", None, True], "b": b"\0"})
    assert peer.recv()["functype"] == "asyncfunc"
    assert peer.recv()["return"]["a"] == [1, 2.5, "x", None, True]
    peer.call("scwire_service", "count", "g1", n=3)
    got = [peer.recv() for _ in range(5)]
    assert [m.get("yield") for m in got[1:4]] == [0, 1, 2] and "stop" in got[4]
    peer.call("scwire_service", "ctx_no_stream", "x1", value="ready")
    assert peer.recv()["functype"] == "context" and peer.recv()["started"] == "ready"
    for i in range(70):
        peer.send({"yield": i, "cid": "x1"})
    overruns = [peer.recv() for _ in range(6)]
    assert all(m["error"]["type_str"] == "StreamOverrun" for m in overruns)
    peer.call("self", "_cancel_task", "k1", cid="x1")
    functype, cancelled, result = peer.recv(), peer.recv(), peer.recv()
    assert functype == {"functype": "asyncfunc", "cid": "k1"}
    assert cancelled["cid"] == "x1" and cancelled["error"]["type_str"] == "ContextCancelled"
    assert result == {"return": None, "cid": "k1"}
    peer.call("scwire_service", "ctx_echo", "c1", first="hi")
    assert peer.recv()["functype"] == "context" and peer.recv()["started"] == "hi"
    for i in range(3):
        peer.send({"yield": i, "cid": "c1"})
    peer.send({"stop": True, "cid": "c1"})
    got = [peer.recv() for _ in range(5)]
    assert [m.get("yield") for m in got[:3]] == [0, 1, 2] and got[4]["return"] == 3
    peer.call("self", "register_actor", "r1", uid=["x", "y"], sockaddr=["127.0.0.1", 1])
    assert peer.recv()["functype"] == "asyncfunc" and peer.recv()["return"] is None
    peer.call("self", "no_such_method", "s1")
    assert peer.recv()["error"]["type_str"] == "AttributeError"
    for hostile in (b"\x2a", b"\x81\xa3foo\x01", b"\xc1", b"\xdf\x0f\xff\xff\xff"):
        bad = Peer(port)
        bad.sock.sendall(hostile)
        assert bad.recv() is EOFError
    peer.send(None)
    assert peer.recv() is None


def test_scripted_session_keeps_the_daemon_serving():
    proc, port = start("--registry-role")
    session(port)
    session(port)
    status, err = stop(proc)
    assert status == 0, err


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_scripted_session_under_valgrind_has_no_error_and_no_leak():
    proc, port = start("--registry-role", wrapper=(
        "valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=all",
        "--errors-for-leak-kinds=all", "--error-exitcode=99"))
    session(port)
    status, err = stop(proc)
    assert status == 0, f"valgrind reported errors or leaks:\n{err}"
