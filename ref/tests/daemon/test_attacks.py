# SPDX-License-Identifier: AGPL-3.0-or-later
"""A deliberate attacker against the scwire-ref daemon: floods that used to
cost every peer (waiters, registrations), hijacks of a spawning child, a
process tree without bound, and peers that hold resources without using
them.  Each test checks that the attacker is contained and that a bystander
on another connection is still served."""
import os
import shutil
import signal
import socket
import time

import msgpack
import pytest

from test_daemon import (DAEMON, TIMEOUT, Peer, call, process_table, send_cmd, start, stop,
                         uid_of, unique, wait_no_leftovers)
from test_daemon import built, reap_children, reap_daemons  # noqa: F401 (autouse fixtures)

SVC = "scwire_service"
# The bound SVC-3 sets on an exit after SIGTERM.
EXIT_BOUND = 5.0


def flood(port, messages, last_cid, name="attacker"):
    """A connection that sends every message in one go, then reads until the
    first answer on last_cid: proof that the daemon has taken all of them."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    uid = [name, f"0c2d2f3e-5a1b-4c6d-8e9f-{os.getpid():012d}"]
    s.sendall(msgpack.packb(uid) + b"".join(msgpack.packb(m) for m in messages(uid)))
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, use_list=False)
    deadline = time.monotonic() + 3 * TIMEOUT
    while time.monotonic() < deadline:
        data = s.recv(1 << 20)
        assert data, f"the daemon closed {name} before answering {last_cid}"
        unpacker.feed(data)
        if any(isinstance(m, dict) and m.get("cid") == last_cid for m in unpacker):
            return s
    pytest.fail(f"no answer on {last_cid} within {3 * TIMEOUT} s: the flood was not taken")


def echo(peer, value, cid):
    peer.call(SVC, "echo", cid, value=value)
    assert peer.recv() == {"functype": "asyncfunc", "cid": cid}
    assert peer.recv() == {"return": value, "cid": cid}


def exits_within(proc, sig, bound):
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=bound)
    except Exception:
        pytest.fail(f"the daemon did not exit within {bound:g} s of signal {sig} (SVC-3)")
    return time.monotonic() - t0


def waiters(count):
    def messages(uid):
        return ({"cmd": ["self", "wait_for_actor", {"name": f"never-{i}"}, uid, f"w{i}"]}
                for i in range(count))
    return messages


def test_a_flood_of_waiters_leaves_a_bystander_served_and_the_exit_prompt():
    """8 connections park 12,000 wait_for_actor calls each on names that never
    register: a bystander's echo is still answered, again once the attackers
    are gone, and SIGTERM still ends the daemon within SVC-3's bound."""
    proc, port = start("--registry-role", "--max-contexts", "16384")
    attackers = [flood(port, waiters(12000), "w11999", f"flood{i}") for i in range(8)]
    bystander = Peer(port)
    echo(bystander, "still here", "e1")
    for s in attackers:
        s.close()
    echo(bystander, "after them", "e2")
    attackers = [flood(port, waiters(12000), "w11999", f"again{i}") for i in range(4)]
    echo(bystander, "with more", "e3")
    exits_within(proc, signal.SIGTERM, EXIT_BOUND)
    for s in attackers:
        s.close()


def registrations(count, name_of):
    def messages(uid):
        return ({"cmd": ["self", "register_actor",
                         {"uid": [name_of(i), f"u{i}"], "sockaddr": ["127.0.0.1", 1]}, uid,
                         f"r{i}"]} for i in range(count))
    return messages


def test_a_flood_of_registrations_is_bounded_and_leaves_a_bystander_served():
    """65,536 registrations over four connections fill the registry to its
    bound and no further; a bystander's echo, find_actor and get_registry are
    answered, and get_registry fits in one message."""
    proc, port = start("--registry-role", "--max-frame", "262144")
    attackers = [flood(port, registrations(16384, lambda i, k=k: f"n{k}-{i}"), "r16383",
                       f"reg{k}") for k in range(4)]
    bystander = Peer(port)
    bystander.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, use_list=False)
    echo(bystander, 1, "e1")
    bystander.call("self", "get_registry", "g1")
    assert bystander.recv() == {"functype": "asyncfunc", "cid": "g1"}
    reply = bystander.recv()
    assert "return" in reply, f"get_registry answered {str(reply)[:300]}"
    assert 1 < len(reply["return"]) < 65536
    echo(bystander, 2, "e2")
    exits_within(proc, signal.SIGTERM, EXIT_BOUND)
    for s in attackers:
        s.close()


# --- supervision: hijacked claims and the process budget of a tree ---------

def spawning_uid(parent_pid, name, timeout=TIMEOUT):
    """The uid a spawning child carries on its command line, as any process
    on the host can read it: (pid, uuid)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, (ppid, _, argv) in process_table().items():
            line = " ".join(argv)
            if ppid == parent_pid and uid_of(name) in line:
                return pid, line.split(uid_of(name), 1)[1].split("'")[1]
        time.sleep(0.01)
    pytest.fail(f"no child {name} of pid {parent_pid} within {timeout} s")


def test_a_process_that_claims_a_spawning_childs_uid_gets_nothing_meant_for_it():
    """A child slow to start (a shell that waits 1 s before exec) has its uid
    on its command line; another process connects first with that uid.  It
    gets no init map and no command: it is served as an ordinary peer; the real
    child then connects and run_in_child returns the child's own answer.
    spawn_list never shows the spawning child's uuid."""
    W = unique("w")
    proc, port = start("--kill-grace", "1", "--child-program", "/bin/sh",
                       "--child-arg=-c", f"--child-arg=sleep 1; exec {DAEMON} \"$@\"",
                       "--child-arg=slow-child")
    peer = Peer(port)
    send_cmd(peer, "run_in_child", "r1", {"name": W, "ns": SVC, "func": "echo",
                                           "kwargs": {"value": "from the child"}})
    assert peer.recv() == {"functype": "asyncfunc", "cid": "r1"}
    pid, uuid = spawning_uid(proc.pid, W)
    rows = call(Peer(port), "spawn_list", "l")["return"]
    assert [r[1] for r in rows if r[0] == W] == [None], f"spawn_list shows {rows}"
    thief = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    thief.sendall(msgpack.packb([W, uuid]))
    unpacker = msgpack.Unpacker(raw=False)
    thief.settimeout(0.3)
    got = []
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        try:
            data = thief.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        unpacker.feed(data)
        got.extend(unpacker)
    assert len(got) == 1 and isinstance(got[0], list), \
        f"the impostor got more than the handshake: {got}"
    thief.settimeout(TIMEOUT)
    reply = peer.recv()
    assert reply == {"return": "from the child", "cid": "r1"}, reply
    thief.close()
    assert wait_no_leftovers(proc.pid, (uid_of(W),)) == []
    status, err = stop(proc)
    assert status == 0, err
    assert "but is not its process" in err, err[-2000:]


def nested_run(W, G, value):
    """run_in_child of W, whose command is run_in_child of G (an echo)."""
    return {"name": W, "ns": SVC, "func": "run_in_child",
            "kwargs": {"name": G, "ns": SVC, "func": "echo", "kwargs": {"value": value}}}


def test_the_root_budget_bounds_the_whole_tree():
    """With --max-children 4 (and no --child-budget) the root's children may
    start none of their own: a nested run_in_child fails with RuntimeError
    naming the budget, and no grandchild process is ever started."""
    W, G = unique("w"), unique("g")
    proc, port = start("--kill-grace", "1", "--max-children", "4")
    peer = Peer(port)
    send_cmd(peer, "run_in_child", "r1", nested_run(W, G, 1))
    assert peer.recv() == {"functype": "asyncfunc", "cid": "r1"}
    reply = peer.recv()
    assert reply.get("error", {}).get("type_str") == "RuntimeError", reply
    assert "budget" in reply["error"]["tb_str"], reply
    assert not any(uid_of(G) in " ".join(argv) for _, _, argv in process_table().values())
    assert wait_no_leftovers(proc.pid, (uid_of(W),)) == []
    status, err = stop(proc)
    assert status == 0, err


def test_a_child_budget_lets_children_spawn_within_the_root_budget():
    """--max-children 6 --child-budget 2: a child may run a grandchild; a
    long-lived child takes 1 + 2 of the 6, so four more children no longer
    fit, three do (each then gets no share: its siblings need the room)."""
    W, G, D = unique("w"), unique("g"), unique("d")
    proc, port = start("--kill-grace", "1", "--max-children", "6", "--child-budget", "2")
    peer = Peer(port)
    send_cmd(peer, "run_in_child", "r1", nested_run(W, G, 5))
    assert peer.recv() == {"functype": "asyncfunc", "cid": "r1"}
    assert peer.recv() == {"return": 5, "cid": "r1"}
    assert "return" in call(peer, "spawn_start", "s1", name=D)
    specs = [[unique(f"s{i}"), SVC, "echo", {"value": i}] for i in range(4)]
    reply = call(peer, "run_in_children", "r2", specs=specs)
    assert reply.get("error", {}).get("type_str") == "RuntimeError", reply
    assert "budget" in reply["error"]["tb_str"], reply
    assert call(peer, "run_in_children", "r3", specs=specs[:3]) == {"return": [0, 1, 2],
                                                                     "cid": "r3"}
    assert call(peer, "spawn_cancel", "c1", name=D) == {"return": True, "cid": "c1"}
    assert wait_no_leftovers(proc.pid, (uid_of(W), uid_of(G), uid_of(D))) == []
    status, err = stop(proc)
    assert status == 0, err


# --- name resolution off the loop -------------------------------------------

@pytest.fixture
def silent_resolver(tmp_path):
    """A name server on 127.0.0.1:53 that never answers, and a resolv.conf
    naming it, for a daemon run in a mount namespace of its own."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to give the daemon a resolv.conf of its own")
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        dns.bind(("127.0.0.1", 53))
    except OSError as e:
        dns.close()
        pytest.skip(f"cannot play a silent name server on 127.0.0.1:53: {e}")
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions timeout:3 attempts:1\n")
    wrapper = ("unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
               str(conf))
    yield wrapper
    dns.close()


def test_a_resolver_that_never_answers_delays_only_the_calls_that_need_it(silent_resolver):
    """Three ctx_call to a host name whose resolution hangs: a bystander's
    echo, sent after them, is answered before any of them, and each of them
    then fails on its own."""
    proc, port = start("--kill-grace", "1", wrapper=silent_resolver)
    caller = Peer(port)
    for i in range(3):
        send_cmd(caller, "ctx_call", f"c{i}", {"host": f"slow{i}.scwire.test", "port": 1,
                                               "ns": SVC, "func": "ctx_echo",
                                               "kwargs": {"first": 1}, "idle": 0})
        assert caller.recv() == {"functype": "asyncfunc", "cid": f"c{i}"}
    bystander = Peer(port)
    echo(bystander, "first", "e1")
    caller.sock.settimeout(0.2)
    with pytest.raises(socket.timeout):
        caller.sock.recv(1)
    caller.sock.settimeout(TIMEOUT)
    failed = [caller.recv() for _ in range(3)]
    assert all("error" in m for m in failed), failed
    status, err = stop(proc)
    assert status == 0, err
