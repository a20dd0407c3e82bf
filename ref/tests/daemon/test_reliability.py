# SPDX-License-Identifier: AGPL-3.0-or-later
"""Reliability of the daemon under faults, at its limits and over time: kill -9
of children and of the parent, a child that ignores cancel, the connection,
descriptor and context limits reached, and the sanitizer build run through a
scripted session.

Each scenario that leaves the daemon running is played once to warm it up
(libev's descriptors, the allocator's arenas), then the daemon's RSS and open
descriptors are read once they are still, the scenario is played a few more
times, and both must come back: descriptors exactly, RSS within RSS_SLACK_KB
(a few pages: the allocator's own growth between rounds stays below it)."""
import os
import resource
import signal
import subprocess
import time

import pytest

from reliability_util import (ASAN_DAEMON, ASAN_DIR, assert_no_leak, cpu_seconds, ends, launch,
                              pids_alive, quiet, read_log, refused, sanitizer_report, usage,
                              wait_log, waiting_peer)
from test_daemon import (DAEMON, SVC, TIMEOUT, TOP, Peer, call, child_list, send_cmd, session,
                         stubborn_child, uid_of, unique, wait_no_leftovers)
# Fixtures: built and the reapers are autouse, so they guard these tests too.
from test_daemon import built, reap_children, reap_daemons, subreaper  # noqa: F401

ROUNDS = 5
SLOW_ROUNDS = 2          # scenarios that wait for a grace period or a retry
RSS_SLACK_KB = 64
FD_LIMIT = 32


@pytest.fixture
def daemon(tmp_path):
    """daemon(*flags, exe=DAEMON, ...): a daemon whose log is tmp_path/<n>.log;
    returns (proc, port, log path)."""
    n = [0]

    def start(*flags, exe=DAEMON, env=None, preexec_fn=None):
        n[0] += 1
        log = str(tmp_path / f"daemon{n[0]}.log")
        proc, port = launch([exe, *flags], log, env=env, preexec_fn=preexec_fn)
        return proc, port, log
    return start


def terminate(proc):
    """SIGTERM, then the exit status."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the daemon did not exit within the timeout after SIGTERM")


def rounds_without_leak(proc, scenario, rounds=ROUNDS):
    """Warm up with one round, then `rounds` more must leave no trace."""
    scenario()
    base = quiet(proc.pid)
    for _ in range(rounds):
        scenario()
    assert_no_leak(proc.pid, base, RSS_SLACK_KB)


def wait_children(peer, want, what):
    """spawn_list once `want(kids)` holds."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        kids = child_list(peer)
        if want(kids):
            return kids
        assert time.monotonic() < deadline, f"{what}: {kids}"
        time.sleep(0.02)


def open_echo(peer, cid, first):
    send_cmd(peer, "ctx_echo", cid, {"first": first})
    assert peer.recv() == {"functype": "context", "cid": cid}
    assert peer.recv() == {"started": first, "cid": cid}


def echo_some(peer, cid, values):
    for v in values:
        peer.send({"yield": v, "cid": cid})
        assert peer.recv() == {"yield": v, "cid": cid}


def close_echo(peer, cid, n):
    """stop, then the stop(s) and the return of n."""
    peer.send({"stop": True, "cid": cid})
    for _ in range(3):
        msg = peer.recv()
        if "return" in msg:
            assert msg == {"return": n, "cid": cid}
            return
        assert msg == {"stop": True, "cid": cid}
    pytest.fail(f"no return on {cid} after its stops")


def in_child(peer, cid, name, func, **kwargs):
    """Start run_in_child(name, scwire_service.func(**kwargs)) on cid."""
    send_cmd(peer, "run_in_child", cid, {"name": name, "ns": SVC, "func": func,
                                         "kwargs": kwargs})
    first = peer.recv()
    assert first == {"functype": "asyncfunc", "cid": cid}, first


# --- faults in supervision --------------------------------------------------

def kill_children_mid_stream(port, log):
    """A child of spawn_start streaming to a direct peer and a run_in_child
    call are killed with SIGKILL while a stream on the parent runs: the call
    fails with ActorDied, the direct stream ends, the parent's stream goes on,
    both children are reaped, and the name can be used again."""
    D, W = unique("d"), unique("w")
    peer, watcher, bystander = Peer(port), Peer(port), Peer(port)
    open_echo(bystander, "b1", "b")
    echo_some(bystander, "b1", [0])
    host, cport = call(peer, "spawn_start", "s1", name=D)["return"]
    direct = Peer(cport)
    open_echo(direct, "x1", "go")
    echo_some(direct, "x1", [0, 1])
    in_child(peer, "r1", W, "sleep_forever")
    kids = wait_children(watcher, lambda k: len(k) == 2 and all(c[3] == "running" for c in k),
                         "both children running")
    pids = [k[2] for k in kids]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    got = peer.recv()
    assert got["cid"] == "r1" and got["error"]["type_str"] == "ActorDied", got
    assert "killed by signal 9" in got["error"]["tb_str"], got
    assert ends(direct) == []
    echo_some(bystander, "b1", [1, 2])
    close_echo(bystander, "b1", 3)
    wait_children(watcher, lambda k: k == [], "the killed children are not reaped")
    assert pids_alive(pids) == []
    lines = read_log(log).splitlines()
    for name in (D, W):
        assert any(f"child ('{name}', " in line and line.endswith("failed: ActorDied")
                   for line in lines), lines
    assert call(watcher, "echo", "e1", value="after") == {"return": "after", "cid": "e1"}
    call(peer, "spawn_start", "s2", name=D)
    assert call(peer, "spawn_cancel", "c1", name=D) == {"return": True, "cid": "c1"}
    for p in (peer, watcher, bystander, direct):
        p.sock.close()


def test_kill_9_of_children_mid_stream_is_reported_and_leaves_nothing(daemon):
    proc, port, log = daemon("--kill-grace", "1")
    rounds_without_leak(proc, lambda: kill_children_mid_stream(port, log))
    assert wait_no_leftovers(proc.pid) == []
    assert terminate(proc) == 0, read_log(log)


def kill_while_spawning(port):
    """A child killed as soon as it has a pid, most often before it has
    connected back: the call fails with ActorDied, the child is reaped."""
    peer, watcher = Peer(port), Peer(port)
    in_child(peer, "r1", unique("w"), "sleep_forever")
    kids = wait_children(watcher, lambda k: k and k[0][2], "no pid for the child")
    os.kill(kids[0][2], signal.SIGKILL)
    got = peer.recv()
    assert got["cid"] == "r1" and got["error"]["type_str"] == "ActorDied", got
    assert "killed by signal 9" in got["error"]["tb_str"], got
    wait_children(watcher, lambda k: k == [], "the killed child is not reaped")
    peer.sock.close()
    watcher.sock.close()


def test_kill_9_of_a_child_while_it_starts_is_reported_and_leaves_nothing(daemon):
    proc, port, log = daemon()
    rounds_without_leak(proc, lambda: kill_while_spawning(port))
    assert wait_no_leftovers(proc.pid) == []
    assert terminate(proc) == 0, read_log(log)


def test_kill_9_of_the_parent_mid_stream_ends_every_child(daemon, subreaper):  # noqa: F811
    """The parent dies while a peer streams with its child and another child
    runs a call: the child ends the stream (a ContextCancelled at most, then
    the connection), and every child process exits within 2 s (they are ours
    to reap: this process is their subreaper)."""
    proc, port, log = daemon()
    D, W = unique("d"), unique("w")
    peer = Peer(port)
    host, cport = call(peer, "spawn_start", "s1", name=D)["return"]
    direct = Peer(cport)
    open_echo(direct, "x1", "go")
    echo_some(direct, "x1", [0])
    in_child(peer, "r1", W, "sleep_forever")
    kids = wait_children(Peer(port), lambda k: len(k) == 2 and all(c[3] == "running" for c in k),
                         "both children running")
    pids = [k[2] for k in kids]
    proc.kill()
    proc.wait(timeout=TIMEOUT)
    last = ends(direct)
    assert all(m["cid"] == "x1" and m["error"]["type_str"] == "ContextCancelled"
               for m in last) and len(last) <= 1, last
    deadline = time.monotonic() + 2.0
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                done = os.waitpid(pid, os.WNOHANG)[0] == pid
            except ChildProcessError:       # gone before its parent, reaped by it
                done = True
            if done:
                left.discard(pid)
        time.sleep(0.01)
    assert not left, f"children {sorted(left)} outlived their parent by 2 s"
    assert wait_no_leftovers(proc.pid, (uid_of(D), uid_of(W)), timeout=1.0) == []


def stubborn_round(port, log):
    """A child that ignores self.cancel and SIGTERM is cancelled: not
    acknowledged, terminated, then killed, and reaped."""
    S = unique("s")
    peer = Peer(port)
    direct = stubborn_child(peer, S)
    pid = child_list(peer)[0][2]
    assert call(peer, "spawn_cancel", "k1", name=S) == {"return": False, "cid": "k1"}
    assert pids_alive([pid]) == [] and child_list(peer) == []
    assert ends(direct) == []
    mine = [line for line in read_log(log).splitlines() if S in line]
    for step in ("May have failed to cancel", "terminating it", "#ZOMBIE_LORD_IS_HERE"):
        assert any(step in line for line in mine), mine
    peer.sock.close()


def test_a_child_ignoring_cancel_is_terminated_then_killed_without_leak(daemon):
    proc, port, log = daemon("--kill-grace", "0.2", "--cancel-timeout", "0.2")
    rounds_without_leak(proc, lambda: stubborn_round(port, log), rounds=SLOW_ROUNDS)
    text = read_log(log)
    assert text.count("#ZOMBIE_LORD_IS_HERE") == 1 + SLOW_ROUNDS, text
    assert terminate(proc) == 0, read_log(log)


# --- limits reached ----------------------------------------------------------

MAX_CONNS = 8
# The refusal record names the peer (SVC-30) before this text.
CONN_LIMIT_LOG = f": the limit of {MAX_CONNS} connections is reached"


def served_within(port, timeout=TIMEOUT):
    """A new connection that is served, once the daemon takes one again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            p = Peer(port)
            if p.peer_uid is not EOFError:
                return p
        except ConnectionResetError:
            pass
        assert time.monotonic() < deadline, "no new connection was served again"
        time.sleep(0.02)


def connection_limit_round(port, log):
    """At --max-conns, a new connection is closed unserved with a log line,
    the open ones (a stream among them) go on, and once some close new ones
    are served."""
    # The previous round's connections may still be closing.
    peers = [served_within(port) for _ in range(MAX_CONNS)]
    before = read_log(log).count(CONN_LIMIT_LOG)
    open_echo(peers[0], "b1", "b")
    assert refused(port)
    assert wait_log(log, CONN_LIMIT_LOG) and read_log(log).count(CONN_LIMIT_LOG) > before
    echo_some(peers[0], "b1", [0, 1])
    assert call(peers[-1], "echo", "e1", value=1) == {"return": 1, "cid": "e1"}
    for p in peers[MAX_CONNS // 2:]:
        p.sock.close()
    late = [served_within(port) for _ in range(MAX_CONNS // 2)]
    assert call(late[-1], "echo", "e2", value=2) == {"return": 2, "cid": "e2"}
    close_echo(peers[0], "b1", 2)
    for p in peers[:MAX_CONNS // 2] + late:
        p.sock.close()


def test_connection_limit_refuses_logs_and_recovers_without_leak(daemon):
    proc, port, log = daemon("--max-conns", str(MAX_CONNS))
    rounds_without_leak(proc, lambda: connection_limit_round(port, log))
    assert terminate(proc) == 0, read_log(log)


def test_spawning_at_the_connection_limit_fails_at_once_and_serves_on(daemon):
    """A child's channel to its parent counts against --max-conns: at the
    limit it is refused, so run_in_child and spawn_start fail with ActorDied
    at once (the child exits, SUP-12), and once a connection closes children
    run again."""
    proc, port, log = daemon("--max-conns", str(MAX_CONNS))
    peers = [Peer(port) for _ in range(MAX_CONNS)]
    in_child(peers[0], "r1", unique("w"), "echo", value=1)
    got = peers[0].recv()
    assert got["error"]["type_str"] == "ActorDied", got
    got = call(peers[1], "spawn_start", "s1", name=unique("d"))
    assert got["error"]["type_str"] == "ActorDied", got
    assert read_log(log).count(CONN_LIMIT_LOG) >= 2
    assert call(peers[2], "echo", "e1", value=1) == {"return": 1, "cid": "e1"}
    assert wait_no_leftovers(proc.pid) == []
    peers.pop().sock.close()
    served_within(port).sock.close()
    in_child(peers[0], "r2", unique("w"), "echo", value=2)
    assert peers[0].recv() == {"return": 2, "cid": "r2"}
    assert terminate(proc) == 0, read_log(log)


def lower_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def fill_descriptors(proc, port):
    """Served connections until the daemon holds FD_LIMIT descriptors."""
    quiet(proc.pid)     # the previous round's connections are closed
    peers = []
    while usage(proc.pid).fds < FD_LIMIT:
        assert len(peers) < FD_LIMIT, "the daemon holds fewer descriptors than connections"
        peers.append(Peer(port))
    return peers


def fd_limit_round(proc, port, log):
    """With every descriptor in use, a new connection waits unserved while the
    daemon logs why, rests instead of spinning and serves the open ones;
    once two close, the waiting one is served."""
    peers = fill_descriptors(proc, port)
    waiting = waiting_peer(port)
    assert wait_log(log, "cannot accept connections: Too many open files"), read_log(log)
    cpu = cpu_seconds(proc.pid)
    time.sleep(1.0)
    spent = cpu_seconds(proc.pid) - cpu
    assert spent < 0.5, f"the daemon used {spent:.2f} s of CPU in 1 s while out of descriptors"
    assert call(peers[0], "echo", "e1", value=1) == {"return": 1, "cid": "e1"}
    assert call(peers[-1], "echo", "e2", value=2) == {"return": 2, "cid": "e2"}
    waiting.sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        waiting.sock.recv(1)
    waiting.sock.setblocking(True)
    before = read_log(log).count("accepting connections again")
    for p in peers[:2]:
        p.sock.close()
    assert isinstance(waiting.recv(), list), "the waiting connection got no handshake"
    assert call(waiting, "echo", "e3", value=3) == {"return": 3, "cid": "e3"}
    assert read_log(log).count("accepting connections again") > before
    for p in peers[2:] + [waiting]:
        p.sock.close()


def test_descriptor_limit_pauses_accepting_and_recovers_without_leak(daemon):
    proc, port, log = daemon(preexec_fn=lower_fd_limit)
    rounds_without_leak(proc, lambda: fd_limit_round(proc, port, log), rounds=SLOW_ROUNDS)
    assert terminate(proc) == 0, read_log(log)


def spawn_without_descriptors_round(proc, port):
    """With every descriptor in use, a child cannot connect back: run_in_child
    fails with TimeoutError after the handshake timeout, the child is reaped,
    and once descriptors are free again children run."""
    peers = fill_descriptors(proc, port)
    in_child(peers[0], "r1", unique("w"), "echo", value=1)
    got = peers[0].recv()
    assert got["cid"] == "r1" and got["error"]["type_str"] == "TimeoutError", got
    assert "did not connect back" in got["error"]["tb_str"], got
    assert call(peers[-1], "echo", "e1", value=1) == {"return": 1, "cid": "e1"}
    wait_children(peers[-1], lambda k: k == [], "the child that could not connect is not reaped")
    for p in peers[:2]:
        p.sock.close()
    served_within(port).sock.close()
    in_child(peers[2], "r2", unique("w"), "echo", value=2)
    assert peers[2].recv() == {"return": 2, "cid": "r2"}
    for p in peers[2:]:
        p.sock.close()


def test_spawning_without_descriptors_fails_in_bounded_time_without_leak(daemon):
    proc, port, log = daemon("--handshake-timeout", "1", preexec_fn=lower_fd_limit)
    rounds_without_leak(proc, lambda: spawn_without_descriptors_round(proc, port), rounds=1)
    assert wait_no_leftovers(proc.pid) == []
    assert terminate(proc) == 0, read_log(log)


MAX_CONTEXTS = 4


def context_limit_round(port):
    """At --max-contexts, the next cmd gets one TooManyContexts error without
    functype; the channel stays usable, and another channel has its own
    contexts."""
    peer, other = Peer(port), Peer(port)
    cids = [f"s{i}" for i in range(MAX_CONTEXTS)]
    for cid in cids:
        send_cmd(peer, "sleep_forever", cid, {})
        assert peer.recv() == {"functype": "asyncfunc", "cid": cid}
    send_cmd(peer, "echo", "over", {"value": 1})
    got = peer.recv()
    assert set(got) == {"error", "cid"} and got["cid"] == "over", got
    assert got["error"]["type_str"] == "TooManyContexts", got
    open_echo(other, "o1", "other")
    peer.call("self", "_cancel_task", "k1", cid=cids[0])
    assert peer.recv() == {"functype": "asyncfunc", "cid": "k1"}
    assert peer.recv() == {"return": None, "cid": "k1"}
    open_echo(peer, "c1", "again")
    echo_some(peer, "c1", [0])
    close_echo(peer, "c1", 1)
    close_echo(other, "o1", 0)
    peer.sock.close()
    other.sock.close()


def test_context_limit_answers_an_error_and_the_channel_goes_on_without_leak(daemon):
    proc, port, log = daemon("--max-contexts", str(MAX_CONTEXTS))
    rounds_without_leak(proc, lambda: context_limit_round(port))
    assert terminate(proc) == 0, read_log(log)


# --- the sanitizer build -----------------------------------------------------

SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:exitcode=97:strict_string_checks=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


@pytest.fixture
def asan_built():
    if not os.access(ASAN_DAEMON, os.X_OK):
        pytest.fail(f"{ASAN_DAEMON} is missing: run make {os.path.relpath(ASAN_DAEMON, TOP)}")


def sanitized_session(daemon, exe):
    """The scripted session of test_daemon twice, supervision calls, the kill
    faults and the context limit (the children run the same build), then
    SIGTERM with a child running: the status and the log."""
    proc, port, log = daemon("--registry-role", "--kill-grace", "0.5",
                             "--max-contexts", str(MAX_CONTEXTS), exe=exe,
                             env={**os.environ, **SAN_ENV})
    session(port)
    session(port)
    kill_children_mid_stream(port, log)
    kill_while_spawning(port)
    context_limit_round(port)
    peer = Peer(port)
    in_child(peer, "r1", unique("a"), "echo", value=[1, "x"])
    assert peer.recv() == {"return": [1, "x"], "cid": "r1"}
    got = call(peer, "run_in_children", "r2", specs=[
        [unique("b"), SVC, "sleep_forever", {}],
        [unique("c"), SVC, "raise_error", {"type_str": "KeyError", "text": "k"}]])
    assert got["error"]["type_str"] == "KeyError", got
    call(peer, "spawn_start", "s1", name=unique("d"))
    return terminate(proc), read_log(log)


def test_session_under_asan_lsan_ubsan_reports_nothing(daemon, asan_built):
    status, text = sanitized_session(daemon, ASAN_DAEMON)
    assert sanitizer_report(text) == [], text
    assert status == 0, text


# The leaking variant: the ASan objects linked with every sc_free of the
# runtime dropped, so that what a session frees leaks.
LEAK_SHIM = "void __wrap_sc_free(void *p);\nvoid __wrap_sc_free(void *p) { (void)p; }\n"


def link_leaking_daemon(tmp_path):
    objs = sorted(os.path.join(ASAN_DIR, f[:-2] + ".o")
                  for f in os.listdir(os.path.join(TOP, "ref", "src")) if f.endswith(".c"))
    shim = tmp_path / "leak.c"
    shim.write_text(LEAK_SHIM)
    exe = tmp_path / "scwire-ref-leaking"
    libs = subprocess.run(["pkg-config", "--libs", "msgpack"], capture_output=True,
                          text=True).stdout.split() or ["-lmsgpackc"]
    out = subprocess.run(["cc", "-fsanitize=address,undefined", "-o", str(exe), *objs, str(shim),
                          "-Wl,--wrap=sc_free", "-lev", *libs, "-lm"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        pytest.fail(f"cannot link the leaking daemon:\n{out.stderr[-2000:]}")
    return str(exe)


def test_the_sanitizer_check_catches_a_leak(daemon, asan_built, tmp_path):
    status, text = sanitized_session(daemon, link_leaking_daemon(tmp_path))
    assert status != 0, text
    assert any("LeakSanitizer: detected memory leaks" in line for line in sanitizer_report(text)), \
        text
