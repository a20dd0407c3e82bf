# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of the scwire-ref daemon as a program: its command line, its first
stdout line, its exit statuses, and a scripted session under valgrind that
must end with no memory error and no leak."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import msgpack
import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(TOP, "conformance"))
from scwire_conform.iut import process_table  # noqa: E402
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


def test_help_documents_every_flag_of_the_limits_table():
    # spec/limits.md names a daemon flag for each bound; --help must offer it.
    spec = os.path.join(TOP, "spec", "limits.md")
    with open(spec, encoding="utf-8") as fh:
        flags = {f for line in fh if line.startswith("|")
                 for f in re.findall(r"`(--[a-z-]+)`", line)}
    assert "--max-registry" in flags and len(flags) >= 10
    out = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    missing = sorted(f for f in flags if f not in out.stdout)
    assert not missing, f"--help does not mention {missing}"


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


# --- supervision: real child processes -------------------------------------
#
# Children of the daemon are scwire-ref processes in child mode.  Every test
# here records the pids it learns and kills whatever is left in teardown; the
# checks look at /proc: no process whose parent is the daemon (a zombie
# included) and none that carries a child's uid on its command line.

SVC = "scwire_service"
PR_SET_CHILD_SUBREAPER = 36
_child_pids = []


@pytest.fixture(autouse=True)
def reap_children():
    """Children a failing test leaves behind are killed (and reaped when they
    became ours)."""
    yield
    while _child_pids:
        pid = _child_pids.pop()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


@pytest.fixture
def subreaper():
    """Orphans reparent to this process instead of init (which does not reap
    them in every container), so that a test can see them exit and reap them."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available")
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def leftovers(parent_pid, uids=()):
    """Processes whose parent is parent_pid, or whose command line carries one
    of the uid strings."""
    left = []
    for pid, (ppid, state, argv) in process_table().items():
        line = " ".join(argv)
        if ppid == parent_pid or any(u in line for u in uids):
            left.append((pid, ppid, state, line))
    return left


def wait_no_leftovers(parent_pid, uids=(), timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(parent_pid, uids)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def unique(name):
    """A child name no other test (or test run) uses."""
    return f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def uid_of(name):
    """How a child of that name shows on its command line."""
    return f"('{name}', "


def send_cmd(peer, func, cid, kwargs):
    """A command of scwire_service (kwargs as a dict: they may be called ns)."""
    peer.send({"cmd": [SVC, func, kwargs, ["peer", "u"], cid]})


def call(peer, func, cid, **kwargs):
    """One asyncfunc call of scwire_service: the final message."""
    send_cmd(peer, func, cid, kwargs)
    first = peer.recv()
    if "functype" not in first:
        return first
    assert first == {"functype": "asyncfunc", "cid": cid}
    return peer.recv()


def child_list(peer):
    got = call(peer, "spawn_list", "l")["return"]
    for name, uuid, pid, state in got:
        if pid:
            _child_pids.append(pid)
    return got


def test_help_documents_the_supervision_flags():
    out = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    for flag in ("--uid", "--parent_addr", "--max-children", "--cancel-timeout", "--kill-grace",
                 "--advertise", "--child-program", "--child-arg"):
        assert flag in out.stdout, f"--help does not mention {flag}"


@pytest.mark.parametrize("args", [
    ["--uid", "('a', 'b')"],                                   # no --parent_addr
    ["--parent_addr", "('127.0.0.1', 1)"],                     # no --uid
    ["--uid", "(a, b)", "--parent_addr", "('127.0.0.1', 1)"],
    ["--uid", "('a',)", "--parent_addr", "('127.0.0.1', 1)"],
    ["--uid", "('a', 'b')", "--parent_addr", "('127.0.0.1', 'x')"],
    ["--uid", "('a', 'b')", "--parent_addr", "('127.0.0.1', 1)", "--listen", "127.0.0.1:0"],
    ["--uid", "('a', 'b')", "--parent_addr", "('127.0.0.1', 1)", "--name", "x"],
    ["--kill-grace", "0"], ["--cancel-timeout", "x"], ["--max-children", "-1"],
])
def test_bad_child_mode_flags_exit_2(args):
    out = subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scwire-ref: "), out.stderr


@pytest.mark.parametrize("args, says", [
    (["--child-program", "python3"], "give the program's path"),
    (["--child-program", "/nonexistent/child"], "cannot run '/nonexistent/child'"),
    (["--child-arg", "x"], "--child-arg goes with --child-program"),
    (["--child-program", "/bin/sh"] + ["--child-arg=x"] * 17, "more than 16"),
])
def test_bad_child_program_flags_exit_2_saying_why(args, says):
    out = subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 2, out.stderr
    assert says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_child_program_starts_children_with_its_words_first(tmp_path):
    """--child-program with --child-arg words: the child's command line is the
    program, those words, then --uid and --parent_addr and none of the parent's
    own flags (another implementation does not know them); the child, here
    scwire-ref behind a shell that writes down its arguments, serves the call."""
    argv_file = tmp_path / "argv"
    script = f'printf "%s\\n" "$@" > {argv_file}; exec {DAEMON} "$@"'
    W = unique("w")
    proc, port = start("--kill-grace", "1", "--max-frame", "100000",
                       "--child-program", "/bin/sh", "--child-arg=-c", "--child-arg", script,
                       "--child-arg=first-word")
    peer = Peer(port)
    send_cmd(peer, "run_in_child", "r1", {"name": W, "ns": SVC, "func": "echo",
                                           "kwargs": {"value": 7}})
    assert peer.recv() == {"functype": "asyncfunc", "cid": "r1"}
    got = peer.recv()
    assert got == {"return": 7, "cid": "r1"}, got
    words = argv_file.read_text().splitlines()
    assert words[0] == "--uid" and words[1].startswith(uid_of(W)), words
    assert words[2] == "--parent_addr" and words[3] == f"('127.0.0.1', {port})", words
    assert len(words) == 4, f"the child got more than --uid and --parent_addr: {words}"
    assert wait_no_leftovers(proc.pid, (uid_of(W),)) == []
    status, err = stop(proc)
    assert status == 0, err


def test_child_without_parent_exits_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = subprocess.run([DAEMON, "--uid", "('kid', '11111111-1111-4111-8111-111111111111')",
                          "--parent_addr", f"('127.0.0.1', {port})"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 1
    assert out.stdout == "" and "Failed to connect to parent" in out.stderr


class Parent:
    """The test as a child's parent: a listener, then the child's channel."""

    def __init__(self):
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.lsock.settimeout(TIMEOUT)
        self.port = self.lsock.getsockname()[1]
        self.uid = ["parent", "22222222-2222-4222-8222-222222222222"]

    def spawn(self, name="kid", uuid="33333333-3333-4333-8333-333333333333", *extra):
        proc = subprocess.Popen([DAEMON, "--uid", repr((name, uuid)),
                                 "--parent_addr", repr(("127.0.0.1", self.port)), *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _started.append(proc)
        sock, _ = self.lsock.accept()
        chan = Peer.__new__(Peer)
        chan.sock = sock
        chan.sock.settimeout(TIMEOUT)
        chan.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        chan.send(self.uid)
        assert chan.recv() == [name, uuid]
        return proc, chan

    def init_map(self, **over):
        m = {"_parent_main_data": {}, "enable_modules": {SVC: DAEMON}, "_arb_addr": None,
             "bind_host": "127.0.0.1", "bind_port": 0,
             "_runtime_vars": {"_debug_mode": False, "_is_root": False,
                               "_root_mailbox": ["127.0.0.1", self.port]}}
        m.update(over)
        return m

    def close(self):
        self.lsock.close()


def test_child_mode_serves_its_parent_and_exits_with_it():
    parent = Parent()
    try:
        proc, chan = parent.spawn()
        chan.send(parent.init_map(extra_key=[1]))
        chan.send({"cmd": [SVC, "spawn_info", {}, parent.uid, "i1"]})
        assert chan.recv() == {"functype": "asyncfunc", "cid": "i1"}
        info = chan.recv()["return"]
        assert info["uid"] == ["kid", "33333333-3333-4333-8333-333333333333"]
        assert info["init"]["extra_key"] == [1]
        host, port = info["sockaddr"]
        # Its listener serves anyone, and an init map there is refused.
        other = Peer(port)
        other.call(SVC, "echo", "e1", value=7)
        assert other.recv()["functype"] == "asyncfunc" and other.recv()["return"] == 7
        other.send(parent.init_map())
        assert other.recv() is EOFError
        # The parent channel ends: the child exits promptly (SUP-12).
        chan.sock.close()
        assert proc.wait(timeout=TIMEOUT) == 1
        assert proc.stdout.read() == ""
    finally:
        parent.close()


def test_child_mode_bad_init_map_is_an_actor_level_error():
    parent = Parent()
    try:
        proc, chan = parent.spawn()
        chan.send(parent.init_map(bind_port="nope"))
        err = chan.recv()
        assert set(err) == {"error"} and err["error"]["type_str"] == "TypeError"
        assert chan.recv() is None
        assert proc.wait(timeout=TIMEOUT) == 1
    finally:
        parent.close()


def test_run_in_child_returns_and_leaves_no_process():
    W1 = unique("w1")
    proc, port = start("--kill-grace", "1")
    peer = Peer(port)
    send_cmd(peer, "run_in_child", "r1", {"name": W1, "ns": SVC, "func": "echo",
                                           "kwargs": {"value": {"a": [1, "x"]}}})
    assert peer.recv() == {"functype": "asyncfunc", "cid": "r1"}
    got = peer.recv()
    assert got == {"return": {"a": [1, "x"]}, "cid": "r1"}
    assert child_list(peer) == []
    assert wait_no_leftovers(proc.pid, (uid_of(W1),)) == []
    status, err = stop(proc)
    assert status == 0, err


def test_a_failing_child_cancels_its_sibling():
    A, B = unique("a"), unique("b")
    proc, port = start("--kill-grace", "2")
    peer = Peer(port)
    t0 = time.monotonic()
    got = call(peer, "run_in_children", "r1", specs=[
        [A, SVC, "sleep_forever", {}],
        [B, SVC, "raise_error", {"type_str": "KeyError", "text": "no such key"}]])
    elapsed = time.monotonic() - t0
    assert got["error"]["type_str"] == "KeyError", got
    tb = got["error"]["tb_str"]
    assert "KeyError: no such key" in tb
    assert uid_of(A) + "'" in tb and "cancelled; self.cancel acknowledged; exited with status 0" in tb, tb
    assert elapsed < 2.0, f"the cancelled sibling held the call for {elapsed:.2f} s"
    assert child_list(peer) == []
    assert wait_no_leftovers(proc.pid, (uid_of(A), uid_of(B))) == []
    status, err = stop(proc)
    assert status == 0, err


def test_two_failures_are_a_multierror():
    A, B = unique("a"), unique("b")
    proc, port = start()
    peer = Peer(port)
    got = call(peer, "run_in_children", "r1", specs=[
        [A, SVC, "raise_error", {"type_str": "KeyError", "text": "k"}],
        [B, SVC, "spawn_crash", {"type_str": "OSError", "text": "crashed"}]])
    assert got["error"]["type_str"] == "MultiError", got
    tb = got["error"]["tb_str"]
    assert "KeyError from " + uid_of(A) in tb and "OSError from " + uid_of(B) in tb, tb
    assert wait_no_leftovers(proc.pid, (uid_of(A), uid_of(B))) == []
    stop(proc)


def stubborn_child(peer, name):
    """A child of spawn_start that ignores self.cancel and SIGTERM from now on."""
    host, port = call(peer, "spawn_start", "s-" + name, name=name)["return"]
    direct = Peer(port)
    send_cmd(direct, "spawn_stubborn", "x1", {"ignore_sigterm": True})
    assert direct.recv() == {"functype": "asyncfunc", "cid": "x1"}
    return direct


def test_a_child_that_ignores_cancel_and_sigterm_is_killed():
    S = unique("s")
    proc, port = start("--kill-grace", "0.3")
    peer = Peer(port)
    stubborn_child(peer, S)
    pid = child_list(peer)[0][2]
    t0 = time.monotonic()
    assert call(peer, "spawn_cancel", "k1", name=S) == {"return": False, "cid": "k1"}
    elapsed = time.monotonic() - t0
    assert 0.55 < elapsed < 2.0, elapsed
    assert not os.path.exists(f"/proc/{pid}")
    assert wait_no_leftovers(proc.pid, (uid_of(S),)) == []
    err = stop(proc)[1]
    assert "ignoring self.cancel" in err and "ignoring the shutdown signal" in err, err


def test_a_stubborn_child_ignores_every_sigterm_not_only_the_first():
    """SVC-27: ignore_sigterm holds for the rest of the child's life; a second
    SIGTERM must not end it either (only SIGKILL, or its parent channel)."""
    S = unique("s")
    proc, port = start("--kill-grace", "0.3")
    peer = Peer(port)
    stubborn_child(peer, S)
    pid = child_list(peer)[0][2]
    for _ in range(3):
        os.kill(pid, signal.SIGTERM)
        time.sleep(0.2)
        assert os.path.exists(f"/proc/{pid}"), "the stubborn child ended on a SIGTERM"
    assert call(peer, "spawn_cancel", "k1", name=S) == {"return": False, "cid": "k1"}
    assert wait_no_leftovers(proc.pid, (uid_of(S),)) == []
    stop(proc)


def test_sigterm_of_a_parent_with_a_stubborn_child_kills_it():
    S = unique("s")
    proc, port = start("--kill-grace", "0.3")
    peer = Peer(port)
    stubborn_child(peer, S)
    t0 = time.monotonic()
    status, err = stop(proc)
    assert status == 0, err
    assert 0.55 < time.monotonic() - t0 < 3.0
    assert "#ZOMBIE_LORD_IS_HERE" in err
    assert wait_no_leftovers(proc.pid, (uid_of(S),), timeout=1.0) == []


def test_kill_9_of_a_child_mid_call_is_reported_and_the_parent_serves_on():
    W = unique("w")
    proc, port = start()
    busy, other = Peer(port), Peer(port)
    send_cmd(busy, "run_in_child", "r1", {"name": W, "ns": SVC, "func": "sleep_forever", "kwargs": {}})
    assert busy.recv() == {"functype": "asyncfunc", "cid": "r1"}
    deadline = time.monotonic() + TIMEOUT
    while True:
        kids = child_list(other)
        if kids and kids[0][3] == "running" and kids[0][2]:
            break
        assert time.monotonic() < deadline, kids
        time.sleep(0.02)
    pid = kids[0][2]
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        argv = fh.read().split(b"\0")
    assert argv[1:5] == [b"--uid", f"('{W}', '{kids[0][1]}')".encode(), b"--parent_addr",
                         f"('127.0.0.1', {port})".encode()], argv
    os.kill(pid, signal.SIGKILL)
    got = busy.recv()
    assert got["cid"] == "r1" and got["error"]["type_str"] == "ActorDied", got
    assert "died before returning: killed by signal 9" in got["error"]["tb_str"]
    assert call(other, "echo", "e1", value=1) == {"return": 1, "cid": "e1"}
    assert wait_no_leftovers(proc.pid, (uid_of(W),)) == []
    status, err = stop(proc)
    assert status == 0, err


def test_sigterm_of_the_parent_takes_its_children_along():
    D, W = unique("d"), unique("w")
    proc, port = start("--kill-grace", "1")
    peer, other = Peer(port), Peer(port)
    host, cport = call(peer, "spawn_start", "s1", name=D)["return"]
    direct = Peer(cport)
    assert call(direct, "echo", "e1", value=2)["return"] == 2
    send_cmd(other, "run_in_child", "r1", {"name": W, "ns": SVC, "func": "sleep_forever", "kwargs": {}})
    assert other.recv()["functype"] == "asyncfunc"
    deadline = time.monotonic() + TIMEOUT
    while len([k for k in child_list(peer) if k[3] == "running"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    t0 = time.monotonic()
    status, err = stop(proc)
    assert status == 0, err
    assert time.monotonic() - t0 < 3.0
    assert direct.recv() is None           # the child sent nil on its way out
    assert wait_no_leftovers(proc.pid, (uid_of(D), uid_of(W)), timeout=1.0) == []


def test_kill_9_of_the_parent_ends_its_children(subreaper):
    D, W = unique("d"), unique("w")
    proc, port = start()
    peer = Peer(port)
    call(peer, "spawn_start", "s1", name=D)
    send_cmd(peer, "run_in_child", "r1", {"name": W, "ns": SVC, "func": "sleep_forever", "kwargs": {}})
    assert peer.recv()["functype"] == "asyncfunc"
    other = Peer(port)
    deadline = time.monotonic() + TIMEOUT
    while True:
        kids = child_list(other)
        if len(kids) == 2 and all(k[3] == "running" for k in kids):
            break
        assert time.monotonic() < deadline, kids
        time.sleep(0.02)
    pids = [k[2] for k in kids]
    proc.kill()
    proc.wait(timeout=TIMEOUT)
    # Orphans now belong to this process (the subreaper): each must exit on
    # its own (its parent channel ended, or PR_SET_PDEATHSIG) within 2 s.
    deadline = time.monotonic() + 2.0
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done == pid:
                left.discard(pid)
        time.sleep(0.01)
    assert not left, f"children {sorted(left)} outlived their parent by 2 s"
    assert leftovers(proc.pid, (uid_of(D), uid_of(W))) == []


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_supervision_under_valgrind_has_no_error_and_no_leak():
    """The parent under valgrind (its children run natively): results, one-cancels-all,
    a kill, a long-lived child, and SIGTERM with a child still running."""
    A, B, W, D = unique("a"), unique("b"), unique("w"), unique("d")
    proc, port = start("--kill-grace", "0.5", wrapper=(
        "valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=all",
        "--errors-for-leak-kinds=all", "--error-exitcode=99"))
    peer, other = Peer(port), Peer(port)
    send_cmd(peer, "run_in_child", "r1", {"name": A, "ns": SVC, "func": "echo",
                                          "kwargs": {"value": 1}})
    assert peer.recv()["functype"] == "asyncfunc"
    assert peer.recv() == {"return": 1, "cid": "r1"}
    got = call(peer, "run_in_children", "r2", specs=[
        [A, SVC, "sleep_forever", {}], [B, SVC, "raise_error", {"type_str": "E", "text": "x"}]])
    assert got["error"]["type_str"] == "E", got
    send_cmd(peer, "run_in_child", "r3", {"name": W, "ns": SVC, "func": "sleep_forever",
                                          "kwargs": {}})
    assert peer.recv()["functype"] == "asyncfunc"
    deadline = time.monotonic() + TIMEOUT
    while not any(k[0] == W and k[3] == "running" for k in child_list(other)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert call(other, "spawn_kill", "k1", name=W, signal=9)["return"] == 1
    assert peer.recv()["error"]["type_str"] == "ActorDied"
    call(other, "spawn_start", "s1", name=D)
    status, err = stop(proc)
    assert status == 0, f"valgrind reported errors or leaks:\n{err}"
    assert wait_no_leftovers(proc.pid, (uid_of(A), uid_of(B), uid_of(W), uid_of(D))) == []


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_child_mode_under_valgrind_has_no_error_and_no_leak():
    parent = Parent()
    try:
        proc = subprocess.Popen(
            ["valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=all",
             "--errors-for-leak-kinds=all", "--error-exitcode=99", DAEMON,
             "--uid", "('kid', '44444444-4444-4444-8444-444444444444')",
             "--parent_addr", f"('127.0.0.1', {parent.port})"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _started.append(proc)
        sock, _ = parent.lsock.accept()
        chan = Peer.__new__(Peer)
        chan.sock = sock
        chan.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        chan.send(parent.uid)
        assert chan.recv() == ["kid", "44444444-4444-4444-8444-444444444444"]
        chan.send(parent.init_map(extra=1))
        chan.send({"cmd": [SVC, "spawn_info", {}, parent.uid, "i1"]})
        assert chan.recv()["functype"] == "asyncfunc"
        assert chan.recv()["return"]["init"]["extra"] == 1
        chan.send({"cmd": ["self", "cancel", {}, parent.uid, "k1"]})
        assert chan.recv()["functype"] == "asyncfunc"
        assert chan.recv()["return"] is True
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        parent.close()


def test_advertise_is_the_address_the_actor_publishes():
    proc, port = start("--registry-role", "--advertise", "127.0.0.1:1")
    peer = Peer(port)
    assert call(peer, "spawn_info", "i1")["return"]["sockaddr"] == ["127.0.0.1", 1]
    peer.call("self", "find_actor", "f1", name=peer.peer_uid[0])
    assert peer.recv()["functype"] == "asyncfunc"
    assert peer.recv()["return"] == ["127.0.0.1", 1]
    stop(proc)
