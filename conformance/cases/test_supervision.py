# SPDX-License-Identifier: AGPL-3.0-or-later
"""Supervision and spawn (protocol.md section 12, SUP) from both sides.

As a parent: an IUT of the case's own is made to spawn and supervise child
actors through the supervision functions of test-service.md section 5; the
children are actors of the IUT's own implementation.  The suite checks what
comes back, talks to children directly where they listen, watches a
registry of its own, and reads the process table: every case ends with no
process of the IUT's children left, neither running nor as a zombie.  An IUT
that does not offer the functions answers AttributeError and these cases
are skipped.

As a child (test-service.md section 5.1): the suite starts the IUT's program
with tractor's child command line and plays the parent on the channel the
child opens, so that the init map and the child's behaviour are on the wire.
"""
import collections
import ctypes
import os
import re
import shlex
import signal
import socket
import subprocess
import time

import pytest

from scwire_conform import caps, msgs
from scwire_conform.callee import Callee
from scwire_conform.iut import in_netns, process_table
from scwire_conform.msgs import new_cid
from scwire_conform.settings import UNREGISTER_WAIT
from scwire_conform.verdict import Violation, info, must, no_hang, robust, should, unproven
from scwire_conform.wire import SERVICE, Conn
from scwire_conform.wirelog import short

SVC = SERVICE
PR_SET_CHILD_SUBREAPER = 36
INIT_KEYS = ("_parent_main_data", "enable_modules", "_arb_addr", "bind_host", "bind_port",
             "_runtime_vars")
# tractor's bounds, assumed for an IUT whose own cannot be set (SUP-8, SUP-9).
TRACTOR_ACK_WAIT = 0.5
TRACTOR_GRACE = 3.0
REF_GRACE = 0.4           # --kill-grace for an IUT that takes scwire-ref's flags
# Where a child listens, as a target for fresh_conn_factory.
Addr = collections.namedtuple("Addr", "host port")


def unique(prefix):
    """A child name nothing else uses: processes are found by it."""
    return f"{prefix}-{new_cid()[:8]}"


def repr_uid(name, uuid):
    return f"('{name}', '{uuid}')"


# --- the process table ------------------------------------------------------


def left_behind(parent_pid, names=()):
    """Processes that are children of parent_pid (zombies included), or whose command
    line carries one of the child names in a --uid."""
    left = []
    for pid, (ppid, state, argv) in process_table().items():
        line = " ".join(argv)
        if ppid == parent_pid or any(f"('{n}', " in line for n in names):
            left.append(f"pid {pid} (parent {ppid}, state {state}): {line[:200]}")
    return left


def no_process_left(iut, names=(), timeout=2.0):
    """SUP-13 on the process table: nothing of the IUT's children is left."""
    deadline = time.monotonic() + timeout
    while True:
        left = left_behind(iut.pid, names)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    must(not left, "processes of the IUT's children are left behind (SUP-13): " + "; ".join(left))


# --- calling the supervision functions --------------------------------------

def offers_supervision(c):
    """spawn_list of an IUT that declared the capability supervision."""
    r = c.call(SVC, "spawn_list")
    must(r.kind == "return" and isinstance(r.value, (list, tuple)),
         f"the IUT declared the capability supervision, but spawn_list answered "
         f"{short(r.final)} (SVC-19: every supervision function or none)")
    return r.value


@pytest.fixture
def parent(private_iut, fresh_conn_factory, settings):
    """An IUT of the case's own that offers the supervision functions, and a connection
    to it.  With the bound flags its kill grace is short, so hard kills are quick."""
    caps.require(settings.caps, "supervision", what="the IUT as a parent of child actors")

    def start(*flags, short_grace=True):
        extra = list(flags)
        if short_grace and "limits" in settings.caps:
            extra += ["--kill-grace", str(REF_GRACE)]
        iut = private_iut(*extra)
        c = fresh_conn_factory(target=iut)
        must(len(offers_supervision(c)) == 0, "a fresh IUT lists children already")
        return iut, c
    return start


def grace_of(settings):
    return REF_GRACE if "limits" in settings.caps else TRACTOR_GRACE


def long_wait(settings):
    """Enough for a cancellation with a hard kill: ack wait, SIGTERM, SIGKILL."""
    return settings.timeout + 2 * grace_of(settings) + TRACTOR_ACK_WAIT


def run_in_child(c, name, func, kwargs, timeout=None):
    return c.call(SVC, "run_in_child", {"name": name, "ns": SVC, "func": func, "kwargs": kwargs},
                  timeout=timeout)


def children(c):
    r = c.call(SVC, "spawn_list")
    must(r.kind == "return", f"spawn_list answered {short(r.final)}")
    return [list(x) for x in r.value]


def wait_running(c, names, timeout):
    """spawn_list rows of the named children once all are running with a pid."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [x for x in children(c) if x[0] in names]
        if len(rows) == len(names) and all(x[3] == "running" and x[2] for x in rows):
            return rows
        if time.monotonic() > deadline:
            must(False, f"children {names} not all running within {timeout:g} s: {short(rows)}")
        time.sleep(0.02)


def start_child(c, name):
    r = c.call(SVC, "spawn_start", {"name": name})
    must(r.functype == "asyncfunc" and r.kind == "return", f"spawn_start answered {short(r.final)}")
    addr = r.value
    must(isinstance(addr, (list, tuple)) and len(addr) == 2 and isinstance(addr[0], str)
         and isinstance(addr[1], int), f"spawn_start returned {short(addr)}, not [host, port]")
    return addr[0], addr[1]


# --- the IUT as a parent -----------------------------------------------------

@pytest.mark.spec("SUP-1", "SUP-2", "SVC-22", "SVC-25")
def test_sup_1_child_process_gets_uid_and_parent_address(parent, fresh_conn_factory, settings):
    """A child is a process of its own, a child of the IUT, whose command line gives its
    uid and the address of the IUT's listener; it connects back, and shows that uid on
    every channel (here: at the address spawn_start returned)."""
    iut, c = parent()
    name = unique("d")
    host, port = start_child(c, name)
    rows = wait_running(c, [name], settings.prompt)
    _, uuid, pid, _ = rows[0]
    must(isinstance(uuid, str) and msgs.UUID_RE.match(uuid), f"spawn_list uuid {uuid!r}")
    procs = process_table()
    must(pid in procs, f"spawn_list says pid {pid}, which does not exist")
    ppid, state, argv = procs[pid]
    must(ppid == iut.pid, f"the child (pid {pid}) is not a child process of the IUT "
                          f"(pid {iut.pid}) but of {ppid}")
    line = " ".join(argv)
    must(repr_uid(name, uuid) in line,
         f"the child's command line does not carry its uid {repr_uid(name, uuid)}: {line}")
    must(f"{iut.port})" in line or f"{iut.port}]" in line or f":{iut.port}" in line,
         f"the child's command line does not carry the IUT's port {iut.port}: {line}")
    should("--uid" in argv and "--parent_addr" in argv,
           f"the command line is not tractor's (--uid, --parent_addr): {line}")
    d = fresh_conn_factory(target=Addr(host, port))
    must(msgs.same(d.peer_uid, [name, uuid]),
         f"the child's handshake uid {d.peer_uid} is not [{name!r}, {uuid!r}]")
    r = d.call(SVC, "echo", value="direct")
    must(r.kind == "return" and r.value == "direct", f"the child's echo answered {short(r.final)}")
    r = c.call(SVC, "spawn_cancel", {"name": name}, timeout=long_wait(settings))
    must(r.kind == "return" and r.value is True, f"spawn_cancel answered {short(r.final)}")
    must(children(c) == [], "spawn_list still lists the cancelled child")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-3", "SVC-26")
def test_sup_3_init_map_has_the_six_keys_with_their_types(parent, fresh_conn_factory, settings):
    """The init map a child received (spawn_info in the child) holds the six keys of
    tractor's, with their types: maps, [host, port] or nil, str, int, and the runtime
    vars _debug_mode (bool), _is_root (false) and _root_mailbox."""
    iut, c = parent()
    name = unique("d")
    host, port = start_child(c, name)
    d = fresh_conn_factory(target=Addr(host, port))
    r = d.call(SVC, "spawn_info")
    must(r.kind == "return" and isinstance(r.value, dict), f"spawn_info answered {short(r.final)}")
    got = r.value
    must(msgs.same(got.get("uid"), list(d.peer_uid)), f"spawn_info uid {short(got.get('uid'))}")
    must(msgs.same(got.get("sockaddr"), [host, port]),
         f"spawn_info sockaddr {short(got.get('sockaddr'))} is not {host}:{port}")
    init = got.get("init")
    must(isinstance(init, dict), f"the child shows no init map: {short(init)}")
    missing = [k for k in INIT_KEYS if k not in init]
    must(not missing, f"the init map lacks {missing}: {short(init)}")
    must(isinstance(init["_parent_main_data"], dict), "_parent_main_data is not a map")
    mods = init["enable_modules"]
    must(isinstance(mods, dict) and all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in mods.items()),
         f"enable_modules is not a map of str to str: {short(mods)}")
    arb = init["_arb_addr"]
    must(arb is None or (isinstance(arb, (list, tuple)) and len(arb) == 2
                         and isinstance(arb[0], str) and isinstance(arb[1], int)),
         f"_arb_addr is not [host, port] or nil: {short(arb)}")
    must(isinstance(init["bind_host"], str), f"bind_host {short(init['bind_host'])} is not a str")
    must(isinstance(init["bind_port"], int) and not isinstance(init["bind_port"], bool),
         f"bind_port {short(init['bind_port'])} is not an int")
    rv = init["_runtime_vars"]
    must(isinstance(rv, dict), f"_runtime_vars is not a map: {short(rv)}")
    must(isinstance(rv.get("_debug_mode"), bool), f"_debug_mode is {short(rv.get('_debug_mode'))}")
    must(rv.get("_is_root") is False, f"_is_root is {short(rv.get('_is_root'))}, not false")
    mb = rv.get("_root_mailbox")
    must(isinstance(mb, (list, tuple)) and len(mb) == 2
         and (msgs.same(mb, [None, None]) or (isinstance(mb[0], str) and isinstance(mb[1], int))),
         f"_root_mailbox is not [host, port] or [nil, nil]: {short(mb)}")
    info(f"init map: {short(init, 400)}")
    c.call(SVC, "spawn_cancel", {"name": name}, timeout=long_wait(settings))
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-5", "REG-11", "REG-12")
def test_sup_5_children_register_and_unregister(parent, fresh_conn_factory, settings):
    """A parent in the registry role passes its own address as _arb_addr: a child it
    starts registers there with the address its listener is bound to before it is
    handed over, and is gone from the registry once it was cancelled."""
    iut, c = parent("--registry-role")
    name = unique("d")
    host, port = start_child(c, name)
    r = c.call("self", "get_registry")
    must(r.kind == "return" and isinstance(r.value, dict), f"get_registry answered {short(r.final)}")
    mine = {k: v for k, v in r.value.items() if k[0] == name}
    must(len(mine) == 1 and msgs.same(list(mine.values())[0], [host, port]),
         f"the child is not registered under its name with {host}:{port}: {short(r.value)}")
    r = c.call(SVC, "spawn_cancel", {"name": name}, timeout=long_wait(settings))
    must(r.kind == "return", f"spawn_cancel answered {short(r.final)}")
    r = c.call("self", "get_registry")
    gone = [k for k in r.value if k[0] == name]
    must(not gone, f"the cancelled child is still registered: {short(r.value)}")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-7", "SVC-20", "SUP-13")
def test_sup_7_run_in_child_returns_its_result_after_the_reap(parent, settings):
    """run_in_child returns the child's result unchanged, and by then the child process
    is gone: not running, not a zombie, not in spawn_list."""
    iut, c = parent()
    name = unique("w")
    value = {"a": [1, 2.5, "x", None, True], "b": b"\x00\xff"}
    r = run_in_child(c, name, "echo", {"value": value}, timeout=long_wait(settings))
    must(r.functype == "asyncfunc", f"run_in_child answered {short(r.final)} without functype")
    must(r.kind == "return" and msgs.same(r.value, value),
         f"run_in_child returned {short(r.final)}, not the echo of {short(value)}")
    left = left_behind(iut.pid, [name])
    must(not left, "the child process was not reaped when run_in_child returned: "
         + "; ".join(left))
    must(children(c) == [], "spawn_list still lists the child")


@pytest.mark.spec("SUP-7", "SVC-20")
def test_sup_7_run_in_child_error_keeps_the_childs_type_str(parent, settings):
    """A child whose command fails makes run_in_child fail with the child's type_str
    (any name, not only builtins) and its tb_str inside."""
    iut, c = parent()
    name = unique("w")
    text = "raised-in-the-child-" + new_cid()[:8]
    r = run_in_child(c, name, "raise_error", {"type_str": "ScwireChildError", "text": text},
                     timeout=long_wait(settings))
    must(r.functype == "asyncfunc" and r.kind == "error",
         f"run_in_child answered functype={r.functype} {short(r.final)}")
    must(r.type_str == "ScwireChildError", f"type_str {r.type_str!r}, not the child's")
    must(text in r.error.get("tb_str", ""), f"the child's text is not in tb_str: {short(r.error)}")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-8", "SVC-21")
def test_sup_8_a_failing_child_cancels_its_siblings(parent, settings):
    """One child fails while its sibling runs forever: the sibling is cancelled (with
    self.cancel, which it acknowledges), the call fails with the failed child's type_str
    promptly, and both processes are gone."""
    # The call crosses the link: an IUT that takes the bound flags gets a grace
    # longer by the link's margin, so that waiting it out still shows.
    limit = TRACTOR_GRACE
    if "limits" in settings.caps:
        limit += settings.slack
        iut, c = parent("--kill-grace", f"{limit:.3f}", short_grace=False)
    else:
        iut, c = parent(short_grace=False)
    a, b = unique("a"), unique("b")
    t0 = time.monotonic()
    with no_hang("run_in_children with a failing child"):
        r = c.call(SVC, "run_in_children", {"specs": [
            [a, SVC, "sleep_forever", {}],
            [b, SVC, "raise_error", {"type_str": "KeyError", "text": "no such key"}]]},
            timeout=long_wait(settings) + TRACTOR_GRACE)
    elapsed = time.monotonic() - t0
    must(r.kind == "error" and r.type_str == "KeyError",
         f"run_in_children answered {short(r.final)}, not the KeyError of {b}")
    # A cooperative sibling ends on self.cancel: no terminate/kill wait (3 s in tractor).
    must(elapsed < limit, f"the call took {elapsed:.2f} s: the sibling was not "
                          f"cancelled with self.cancel but waited out")
    info(f"returned after {elapsed:.3f} s")
    no_process_left(iut, [a, b])


@pytest.mark.spec("SUP-9", "SVC-23", "SVC-27")
def test_sup_9_a_child_that_ignores_cancel_is_terminated_then_killed(
        parent, fresh_conn_factory, settings):
    """A child that ignores self.cancel and SIGTERM (spawn_stubborn) is terminated when
    the cancellation wait ends and killed a grace period later: spawn_cancel returns
    false, after a bounded time, and the process is gone."""
    iut, c = parent()
    name = unique("s")
    host, port = start_child(c, name)
    d = fresh_conn_factory(target=Addr(host, port))
    cid = d.command(SVC, "spawn_stubborn", {"ignore_sigterm": True})
    d.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    pid = wait_running(c, [name], settings.prompt)[0][2]
    grace = grace_of(settings)
    t0 = time.monotonic()
    r = c.call(SVC, "spawn_cancel", {"name": name}, timeout=long_wait(settings))
    elapsed = time.monotonic() - t0
    must(r.kind == "return" and r.value is False,
         f"spawn_cancel of a child that ignores self.cancel answered {short(r.final)}, not false")
    must(pid not in process_table(), f"the child (pid {pid}) still exists")
    if "limits" in settings.caps:
        # Only a grace period the IUT was given (--kill-grace) bounds it from below.
        must(elapsed >= 1.5 * grace, f"killed after {elapsed:.2f} s: no grace period between "
                                     f"SIGTERM and SIGKILL (grace {grace:g} s)")
    must(elapsed < 2 * grace + TRACTOR_ACK_WAIT + settings.prompt,
         f"the kill took {elapsed:.2f} s, longer than two grace periods of {grace:g} s")
    info(f"terminated and killed after {elapsed:.3f} s (grace {grace:g} s)")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-9", "SVC-23", "SVC-24")
def test_sup_9_a_stopped_child_is_killed(parent, settings):
    """A child stopped with SIGSTOP (spawn_kill) cannot answer self.cancel, nor act on
    its channel's end or SIGTERM: only SIGKILL ends it.  spawn_cancel returns false
    once it is gone, and no process is left."""
    iut, c = parent()
    name = unique("z")
    start_child(c, name)
    pid = wait_running(c, [name], settings.prompt)[0][2]
    r = c.call(SVC, "spawn_kill", {"name": name, "signal": int(signal.SIGSTOP)})
    must(r.kind == "return" and r.value == 1, f"spawn_kill(SIGSTOP) answered {short(r.final)}")
    r = c.call(SVC, "spawn_cancel", {"name": name}, timeout=long_wait(settings))
    must(r.kind == "return" and r.value is False,
         f"spawn_cancel of a stopped child answered {short(r.final)}, not false")
    must(pid not in process_table(), f"the stopped child (pid {pid}) still exists: it was "
                                     f"never sent SIGKILL")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-13", "SVC-20", "SELF-4")
def test_sup_13_a_cancelled_run_in_child_ends_its_child(parent, settings):
    """run_in_child of sleep_forever cancelled with _cancel_task cancels its child:
    the call sends nothing more, and the child's process is gone and reaped."""
    iut, c = parent()
    name = unique("w")
    cid = c.command(SVC, "run_in_child", {"name": name, "ns": SVC, "func": "sleep_forever",
                                          "kwargs": {}})
    c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    wait_running(c, [name], settings.prompt)
    r = c.call("self", "_cancel_task", {"cid": cid}, timeout=long_wait(settings))
    must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    c.expect_quiet(cid, "nothing more on the cancelled call", rid="SUP-13")
    no_process_left(iut, [name], timeout=long_wait(settings))


@pytest.mark.spec("SVC-24")
@pytest.mark.parametrize("signo", [0, 65, -1], ids=["0", "65", "minus-1"])
def test_svc_24_signals_outside_1_to_64_refused(parent, signo):
    """spawn_kill with a signal outside 1 to 64 fails with ValueError and signals
    nothing: the child still runs."""
    iut, c = parent()
    name = unique("k")
    start_child(c, name)
    r = c.call(SVC, "spawn_kill", {"name": name, "signal": signo})
    must(r.kind == "error" and r.type_str == "ValueError",
         f"spawn_kill with signal {signo} answered {short(r.final)}, not ValueError")
    rows = children(c)
    must(any(x[0] == name and x[3] == "running" for x in rows),
         f"the child is no longer running after a refused spawn_kill: {short(rows)}")
    r = c.call(SVC, "spawn_cancel", {"name": name})
    must(r.kind == "return", f"spawn_cancel answered {short(r.final)}")


def call_ended(conn, cid):
    """Why a call already ended (its return or error came), or None."""
    conn.poll(0.01)
    done = [m for m in conn.unread(cid) if msgs.kind(m) in ("return", "error")]
    return f"the call ended before its child called back: {short(done[0])}" if done else None


@pytest.mark.spec("SUP-7", "SVC-20")
@pytest.mark.needs("supervision", "ctx-call")
def test_sup_7_the_child_gets_its_command_once(parent, settings, case):
    """run_in_child of ctx_call towards a callee the suite plays: the callee sees the
    child's context exactly once (the child got one command, SUP-7), and the call
    returns the child's result."""
    iut, c = parent()
    name = unique("w")
    with Callee(settings.codec, case.wire_log, host=settings.suite_host,
                timeout=settings.timeout) as callee:
        cid = c.command(SVC, "run_in_child", {"name": name, "ns": SVC, "func": "ctx_call",
                                              "kwargs": {"host": callee.host,
                                                         "port": callee.port,
                                                         "ns": "scwire_peer",
                                                         "func": "ctx_peer", "kwargs": {},
                                                         "idle": 0.2}})
        callee.accept(within=long_wait(settings), ended_first=lambda: call_ended(c, cid),
                      rid="SVC-20")
        callee.start("once")
        callee.conn.send({"return": 1, "cid": callee.cid})
        r = c.result(cid, timeout=long_wait(settings))
        must(r.kind == "return" and msgs.same(r.value, ["once", "returned", 1]),
             f"run_in_child(ctx_call) answered {short(r.final)}")
        must(not callee.another_connection(settings.prompt / 2),
             "the child ran its command twice: a second ctx_call reached the callee")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-10", "SVC-28")
def test_sup_10_actor_level_error_is_the_childs_failure(parent, settings):
    """A child that sends its parent an actor-level error (spawn_crash) has failed:
    run_in_child fails with that type_str and text."""
    iut, c = parent()
    name = unique("w")
    r = run_in_child(c, name, "spawn_crash", {"type_str": "ScwireCrash", "text": "crash-text"},
                     timeout=long_wait(settings))
    must(r.kind == "error" and r.type_str == "ScwireCrash",
         f"run_in_child answered {short(r.final)}, not the child's ScwireCrash")
    must("crash-text" in r.error.get("tb_str", ""), f"tb_str lacks the text: {short(r.error)}")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-11", "SVC-21")
def test_sup_11_several_failures_come_together(parent, settings):
    """Two children fail: the call fails once, with type_str MultiError, naming each
    child's uid and type_str."""
    iut, c = parent()
    a, b = unique("a"), unique("b")
    r = c.call(SVC, "run_in_children", {"specs": [
        [a, SVC, "raise_error", {"type_str": "KeyError", "text": "k"}],
        [b, SVC, "raise_error", {"type_str": "ValueError", "text": "v"}]]},
        timeout=long_wait(settings))
    must(r.kind == "error" and r.type_str == "MultiError",
         f"run_in_children with two failures answered {short(r.final)}")
    tb = r.error.get("tb_str", "")
    for n, t in ((a, "KeyError"), (b, "ValueError")):
        must(f"('{n}', '" in tb and t in tb, f"tb_str does not name {n} and {t}: {tb[:600]!r}")
    no_process_left(iut, [a, b])


@pytest.mark.spec("SVC-21")
def test_svc_21_results_in_the_order_of_the_specs(parent, settings):
    """Without failures run_in_children returns the results in the order of its specs."""
    iut, c = parent()
    names = [unique("r") for _ in range(3)]
    r = c.call(SVC, "run_in_children", {"specs": [
        [n, SVC, "echo", {"value": i}] for i, n in enumerate(names)]}, timeout=long_wait(settings))
    must(r.kind == "return" and msgs.same(r.value, [0, 1, 2]),
         f"run_in_children answered {short(r.final)}, not [0, 1, 2]")
    no_process_left(iut, names)


@pytest.mark.spec("SVC-24", "SVC-20")
def test_svc_24_a_killed_child_fails_the_call_and_the_iut_serves_on(
        parent, fresh_conn_factory, settings):
    """kill -9 of a child while run_in_child waits for it (spawn_kill): the call fails
    with ActorDied saying how the process ended, and the IUT keeps serving."""
    iut, c = parent()
    name = unique("w")
    cid = c.command(SVC, "run_in_child", {"name": name, "ns": SVC, "func": "sleep_forever",
                                          "kwargs": {}})
    c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    other = fresh_conn_factory(target=iut)
    wait_running(other, [name], settings.prompt)
    r = other.call(SVC, "spawn_kill", {"name": name, "signal": 9})
    must(r.kind == "return" and r.value == 1, f"spawn_kill answered {short(r.final)}, not 1")
    final = c.expect(msgs.error(cid, "ActorDied"), timeout=long_wait(settings), cid=cid,
                     rid="SVC-24")
    must(re.search(r"\b9\b", final["error"].get("tb_str", "")),
         f"the ActorDied tb_str does not say how the process ended (signal 9): {short(final)}",
         rid="SVC-20")
    r = other.call(SVC, "echo", value="still here")
    must(r.kind == "return" and r.value == "still here", f"echo answered {short(r.final)}")
    no_process_left(iut, [name])


@pytest.mark.spec("SUP-13", "SVC-3")
def test_sup_13_sigterm_of_the_parent_ends_and_reaps_every_child(
        parent, fresh_conn_factory, settings):
    """SIGTERM to a parent with a long-lived child and a child busy in run_in_child:
    both children are cancelled and reaped, and the parent exits within 5 s."""
    iut, c = parent()
    d, w = unique("d"), unique("w")
    host, port = start_child(c, d)
    direct = fresh_conn_factory(target=Addr(host, port))
    busy = fresh_conn_factory(target=iut)
    busy.command(SVC, "run_in_child", {"name": w, "ns": SVC, "func": "sleep_forever",
                                       "kwargs": {}})
    wait_running(c, [d, w], settings.prompt)
    t0 = time.monotonic()
    iut.send_signal(signal.SIGTERM)
    rc = iut.wait_exit(5.0)
    must(rc is not None, "the IUT with children still runs 5 s after SIGTERM")
    info(f"exit status {rc} after {time.monotonic() - t0:.3f} s")
    how = direct.closed_within(settings.prompt)
    must(how is not None, "the long-lived child still holds its connection")
    no_process_left(iut, [d, w], timeout=0.5)


@pytest.mark.spec("SUP-12", "SUP-13")
def test_sup_12_children_die_with_a_killed_parent(parent, settings):
    """kill -9 of the parent: its children (one idle, one running a call) exit on their
    own, promptly.  The suite adopts them as a subreaper to see that and reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("the suite cannot become a subreaper (prctl) to watch orphans")
    pids = []
    try:
        iut, c = parent()
        d, w = unique("d"), unique("w")
        start_child(c, d)
        c.command(SVC, "run_in_child", {"name": w, "ns": SVC, "func": "sleep_forever",
                                        "kwargs": {}})
        pids = [x[2] for x in wait_running_on_new_conn(iut, [d, w], settings)]
        iut.send_signal(signal.SIGKILL)
        iut.wait_exit(settings.timeout)
        deadline = time.monotonic() + settings.prompt
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
        must(not left, f"children {sorted(left)} still run {settings.prompt:g} s after their "
                       f"parent was killed", rid="SUP-12")
        left = left_behind(iut.pid, [d, w])
        must(not left, "processes left: " + "; ".join(left))
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def wait_running_on_new_conn(iut, names, settings):
    with Conn.connect(iut.host, iut.port, settings.codec, timeout=settings.timeout) as c:
        c.handshake()
        return wait_running(c, names, settings.prompt)


@pytest.mark.spec("SVC-19")
@pytest.mark.parametrize("func,kwargs", [
    ("run_in_child", {"name": "x", "ns": SVC, "func": "echo"}),
    ("run_in_child", {"name": "x", "ns": SVC, "func": "echo", "kwargs": {}, "extra": 1}),
    ("run_in_children", {}),
    ("spawn_start", {}),
    ("spawn_cancel", {"name": "x", "extra": 1}),
    ("spawn_kill", {"name": "x"}),
    ("spawn_list", {"extra": 1}),
    ("spawn_info", {"extra": 1}),
    ("spawn_stubborn", {}),
    ("spawn_crash", {"type_str": "E"}),
], ids=["run_in_child-missing", "run_in_child-extra", "run_in_children-missing",
        "spawn_start-missing", "spawn_cancel-extra", "spawn_kill-missing", "spawn_list-extra",
        "spawn_info-extra", "spawn_stubborn-missing", "spawn_crash-missing"])
def test_svc_19_supervision_functions_take_exactly_their_kwargs(parent, func, kwargs):
    """Every supervision function is there, and kwargs that do not fit it are answered
    with one TypeError error and no functype (RPC-4)."""
    iut, c = parent()
    r = c.call(SVC, func, kwargs)
    must(r.functype is None and r.type_str == "TypeError",
         f"{func}({short(kwargs)}) answered functype={r.functype} {short(r.final)}")
    must(children(c) == [], "a refused call started a child")


@pytest.mark.spec("SVC-22", "SVC-23")
def test_svc_22_names_of_running_children_are_unique(parent, settings):
    """spawn_start refuses the name of a running child of its own with ValueError;
    spawn_cancel of a name no such child has fails with KeyError."""
    iut, c = parent()
    name = unique("d")
    start_child(c, name)
    r = c.call(SVC, "spawn_start", {"name": name})
    must(r.kind == "error" and r.type_str == "ValueError",
         f"a second spawn_start({name!r}) answered {short(r.final)}")
    r = c.call(SVC, "spawn_cancel", {"name": unique("nobody")})
    must(r.kind == "error" and r.type_str == "KeyError",
         f"spawn_cancel of an unknown name answered {short(r.final)}")
    r = c.call(SVC, "spawn_cancel", {"name": name}, timeout=long_wait(settings))
    must(r.kind == "return" and r.value is True, f"spawn_cancel answered {short(r.final)}")
    no_process_left(iut, [name])


@pytest.mark.spec("SVC-27", "SVC-28", "SVC-26")
def test_svc_27_child_only_functions_refused_outside_a_child(parent):
    """spawn_stubborn and spawn_crash fail with RuntimeError in an actor that is not a
    child, and spawn_info there shows no init map."""
    iut, c = parent()
    for func, kwargs in (("spawn_stubborn", {"ignore_sigterm": False}),
                         ("spawn_crash", {"type_str": "E", "text": "t"})):
        r = c.call(SVC, func, kwargs)
        must(r.kind == "error" and r.type_str == "RuntimeError",
             f"{func} outside a child answered {short(r.final)}")
    r = c.call(SVC, "spawn_info")
    must(r.kind == "return" and isinstance(r.value, dict) and r.value.get("init") is None
         and msgs.same(r.value.get("uid"), list(c.peer_uid))
         and msgs.same(r.value.get("sockaddr"), [iut.host, iut.port]),
         f"spawn_info of the IUT answered {short(r.final)}")
    r = c.call(SVC, "echo", value=1)
    must(r.kind == "return", "the IUT stopped serving")


def spawn_list_rows(c, cid):
    """The rows of a spawn_list answered on cid."""
    r = c.result(cid)
    must(r.kind == "return" and isinstance(r.value, (list, tuple)),
         f"spawn_list answered {short(r.final)}")
    return [list(x) for x in r.value]


@pytest.mark.spec("SUP-14")
def test_sup_14_a_spawning_childs_uuid_is_not_disclosed(parent, fresh_conn_factory, settings):
    """While a child of run_in_child has not connected back (state `spawning`),
    spawn_list should show its uuid as nil: the uid on its command line is the only
    credential it has.  spawn_list is asked 20 times right behind the run_in_child
    command, then from another connection until the child runs; a run in which no
    `spawning` row is seen is INFO.  The call, cancelled, leaves no process."""
    iut, c = parent()
    name = unique("w")
    cid = new_cid()
    polls = [new_cid() for _ in range(20)]
    c.send_many([{"cmd": [SVC, "run_in_child", {"name": name, "ns": SVC, "func": "sleep_forever",
                                                "kwargs": {}}, list(c.uid), cid]}]
                + [{"cmd": [SVC, "spawn_list", {}, list(c.uid), p]} for p in polls])
    c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    rows = [x for p in polls for x in spawn_list_rows(c, p) if x[0] == name]
    other = fresh_conn_factory(target=iut)
    deadline = time.monotonic() + settings.prompt
    while not any(x[3] == "running" for x in rows[-1:]):
        must(time.monotonic() < deadline,
             f"the child {name} is not running {settings.prompt:g} s after run_in_child: "
             f"{short(rows[-3:])}")
        rows += [x for x in children(other) if x[0] == name]
    spawning = [x for x in rows if x[3] == "spawning"]
    shown = [x for x in spawning if x[1] is not None]
    should(not shown, f"SUP-14: spawn_list showed the uuid of a child still spawning: "
                      f"{short(shown[0]) if shown else ''}")
    if spawning:
        info(f"{len(spawning)} of {len(rows)} rows seen in state spawning, "
             f"{len(shown)} with a uuid; then {short(rows[-1])}")
    else:
        unproven(f"no row of {len(rows)} was in state spawning (the child connected back "
                 f"before the first spawn_list was answered): nothing to judge")
    r = c.call("self", "_cancel_task", {"cid": cid}, timeout=long_wait(settings))
    must(r.kind == "return", f"_cancel_task of the run_in_child call answered {short(r.final)}")
    no_process_left(iut, [name], timeout=long_wait(settings))


@pytest.mark.spec("SUP-14", "SVC-25")
def test_sup_14_a_second_channel_with_a_childs_uid_is_an_ordinary_peer(
        parent, fresh_conn_factory, settings):
    """A connection to the parent that presents the uid of its running child of
    spawn_start (read from spawn_list) should be an ordinary peer: within promptly it
    receives no init map and no command, and an echo on it is answered.  The real
    child still answers at its own address and, the imitator still connected,
    acknowledges spawn_cancel (true) while the imitator receives nothing."""
    iut, c = parent()
    name = unique("d")
    host, port = start_child(c, name)
    uuid = wait_running(c, [name], settings.prompt)[0][1]
    must(isinstance(uuid, str), f"spawn_list shows the running child's uuid as {short(uuid)}",
         rid="SVC-25")
    twin = fresh_conn_factory(target=iut, name=name, uuid=uuid)
    twin.poll(settings.prompt)
    pushed = twin.unread()
    should(not pushed, f"SUP-14: a second connection with the running child's uid {name!r} "
                       f"received {short(pushed[0]) if pushed else ''} unasked: it was taken "
                       f"as the child's channel")
    r = twin.call(SVC, "echo", value="ordinary")
    should(r.kind == "return" and r.value == "ordinary",
           f"SUP-14: a second connection with the child's uid is not served as an ordinary "
           f"peer: its echo answered {short(r.final)}")
    d = fresh_conn_factory(target=Addr(host, port))
    r = d.call(SVC, "echo", value="real")
    must(r.kind == "return" and r.value == "real", f"the child's echo answered {short(r.final)}")
    r = c.call(SVC, "spawn_cancel", {"name": name}, timeout=long_wait(settings))
    should(r.kind == "return" and r.value is True,
           f"SUP-14: spawn_cancel of the child, with a connection imitating it open, answered "
           f"{short(r.final)}, not true")
    twin.poll(0.1)
    pushed = twin.unread()
    should(not pushed, f"SUP-14: the connection imitating the child received "
                       f"{short(pushed[0]) if pushed else ''} while the child was cancelled")
    no_process_left(iut, [name])


def descendants(pid):
    """The processes below pid (zombies included): {pid: argv}."""
    table = process_table()
    below = {}
    for p, (ppid, _, _) in table.items():
        below.setdefault(ppid, []).append(p)
    found, todo = {}, list(below.get(pid, []))
    while todo:
        p = todo.pop()
        if p not in found:
            found[p] = " ".join(table[p][2])[:120]
            todo += below.get(p, [])
    return found


@pytest.mark.spec("SUP-15")
@pytest.mark.needs("supervision", "limits")
def test_sup_15_the_bound_on_children_covers_the_whole_tree(parent, settings):
    """With 2 processes allowed below the IUT (--max-children 2), run_in_children of two
    children that each run run_in_children of two children sleeping 0.3 s (6 processes
    in all) should never have more than 2 processes below the IUT (the process table is
    read throughout: a process beyond the bound would sleep long enough to be seen),
    and should fail with RuntimeError (MultiError of RuntimeErrors when both children
    report it); afterwards run_in_children of two echo children returns [1, 2]."""
    iut, c = parent("--max-children", "2")
    outer = [unique("o") for _ in range(2)]
    inner = [unique("i") for _ in range(4)]
    specs = [[o, SVC, "run_in_children",
              {"specs": [[inner[2 * k], SVC, "sleep", {"seconds": 0.3}],
                         [inner[2 * k + 1], SVC, "sleep", {"seconds": 0.3}]]}]
             for k, o in enumerate(outer)]
    cid = c.command(SVC, "run_in_children", {"specs": specs})
    peak, at_peak = 0, {}
    wait = long_wait(settings) + 2 * grace_of(settings)
    deadline = time.monotonic() + wait
    while not [m for m in c.unread(cid) if msgs.kind(m) in ("return", "error")]:
        must(time.monotonic() < deadline, f"run_in_children of nested children did not end "
                                          f"within {wait:g} s")
        now = descendants(iut.pid)
        if len(now) > peak:
            peak, at_peak = len(now), now
        c.poll(0.002)
    r = c.result(cid)
    info(f"at most {peak} processes below the IUT at once; the call answered "
         f"{r.type_str or r.kind}: {short(r.final, 300)}")
    should(peak <= 2, f"SUP-15: with --max-children 2, {peak} processes ran below the IUT at "
                      f"once: {'; '.join(f'{p}: {a}' for p, a in at_peak.items())}")
    tb = r.error.get("tb_str", "") if r.kind == "error" else ""
    should(r.kind == "error" and (r.type_str == "RuntimeError"
                                  or (r.type_str == "MultiError" and "RuntimeError" in tb)),
           f"SUP-15: run_in_children needing 6 processes with 2 allowed answered "
           f"{short(r.final)}, not an error RuntimeError")
    no_process_left(iut, outer + inner, timeout=long_wait(settings))
    names = [unique("e") for _ in range(2)]
    r = c.call(SVC, "run_in_children", {"specs": [[n, SVC, "echo", {"value": i + 1}]
                                                  for i, n in enumerate(names)]},
               timeout=long_wait(settings))
    should(r.kind == "return" and msgs.same(r.value, [1, 2]),
           f"SUP-15: with --max-children 2, run_in_children of two echo children answered "
           f"{short(r.final)}, not [1, 2]")
    no_process_left(iut, names)


# --- the IUT as a child ------------------------------------------------------

def is_actor_error(m):
    """An error without cid: the sender failed as an actor (SUP-10)."""
    return isinstance(m, dict) and set(m) == {"error"} and isinstance(m["error"], dict)


ACTOR_ERROR = msgs.Pattern("an error without cid", is_actor_error)


class ChildRun:
    """The IUT started as a child, with the suite as its parent."""

    def __init__(self, settings, case, name, registry=None):
        self.settings = settings
        self.name = name
        self.registry = registry     # [host, port] the default init map names, or None
        self.uuid = new_cid()
        self.lsock = socket.create_server((settings.suite_host, 0))
        self.port = self.lsock.getsockname()[1]
        self.uid = ("scwire-conform-parent", new_cid())
        self.argv = [w.replace("{uid}", repr_uid(name, self.uuid))
                     .replace("{parent_addr}", f"('{settings.suite_host}', {self.port})")
                     .replace("{codec}", settings.codec)
                     for w in shlex.split(settings.child_cmd)]
        self.argv = in_netns(self.argv, settings.iut_netns)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.chan = None
        self.chan = Conn(self._accept(), settings.codec, log=case.wire_log,
                         timeout=settings.timeout, accepted=True)

    def _accept(self):
        """The child's connection; a child that exits first fails the case at once,
        with what it said on stderr (a usage error, most often)."""
        self.lsock.settimeout(0.05)
        deadline = time.monotonic() + self.settings.timeout
        while time.monotonic() < deadline:
            try:
                return self.lsock.accept()[0]
            except socket.timeout:
                if self.proc.poll() is not None:
                    break
        rc = self.proc.poll()
        err = self.proc.stderr.read().decode(errors="replace").strip() if rc is not None else ""
        self.stop()
        how = (f"it exited with status {rc} without connecting to its parent"
               + (f"; its stderr: {err[-600:]}" if err else "")) if rc is not None \
            else f"it did not connect to its parent within {self.settings.timeout:g} s"
        must(False, f"the IUT started as a child ({' '.join(self.argv)}): {how}")

    def listener(self, when="after its init map", rid=None):
        """[host, port] of the child's listener, from its spawn_info."""
        r = self.result(self.cmd("spawn_info"), rid=rid)
        addr = r.value.get("sockaddr") if r.kind == "return" and isinstance(r.value, dict) \
            else None
        must(isinstance(addr, (list, tuple)) and len(addr) == 2,
             f"spawn_info of the child {when} answered {short(r.final)}, not a map with "
             f"sockaddr [host, port] (SVC-26)")
        return addr

    def init_map(self, **over):
        m = {"_parent_main_data": {}, "enable_modules": {SVC: "scwire_service"},
             "_arb_addr": self.registry, "bind_host": self.settings.host, "bind_port": 0,
             "_runtime_vars": {"_debug_mode": False, "_is_root": False,
                               "_root_mailbox": [self.settings.suite_host, self.port]}}
        m.update(over)
        return m

    def cmd(self, func, kwargs=None, ns=SVC):
        cid = new_cid()
        self.chan.send({"cmd": [ns, func, kwargs or {}, list(self.uid), cid]})
        return cid

    def result(self, cid, timeout=None, rid=None):
        """The child's answer to a command of ours.  A child that died instead, or
        failed as an actor (an error without cid to its parent), failed in
        robustness: no case here asks it to."""
        try:
            return self.chan.result(cid, "asyncfunc", timeout)
        except Violation as e:
            crashed = [m for m in self.chan.unread() if is_actor_error(m)]
            rc = self.wait_exit(self.settings.prompt if crashed else 0.5)
            robust(rc is None, f"the IUT as a child exited (status {rc}) instead of answering: "
                               f"{e}")
            robust(not crashed, f"the IUT as a child failed as an actor (it sent its parent "
                                f"{short(crashed[0]) if crashed else ''}) instead of "
                                f"answering: {e}")
            e.rid = e.rid or rid
            raise

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        if self.chan:
            self.chan.close()
        self.lsock.close()


@pytest.fixture
def child_run(settings, case, registry_server):
    """Start the IUT as a child; the child runs are stopped (and reaped) afterwards.
    The init map names a registry of the suite's, so that a child is judged on
    what a case checks and not on a nil `_arb_addr` (test_sup_5_nil_... checks that)."""
    # A child reports to its parent with spawn_info and spawn_crash, which
    # belong to the supervision family (SVC-19).
    caps.require(settings.caps, "child", "supervision", what="the IUT as a child actor")
    runs = []

    server = registry_server()

    def start(name=None):
        run = ChildRun(settings, case, name or unique("kid"), [server.host, server.port])
        runs.append(run)
        return run
    yield start
    for run in runs:
        run.stop()


@pytest.mark.spec("SUP-2", "SUP-5", "REG-11", "SELF-8")
def test_sup_2_child_handshakes_takes_the_init_map_registers_then_serves(
        child_run, registry_server, fresh_conn_factory, settings):
    """The child connects to the address on its command line, sends the uid from it,
    takes the init map as the first message, listens where it says, registers with
    _arb_addr, and only then answers the command sent right after the map; its answer
    to self.cancel comes before its parent channel closes, and it unregisters.  (Its
    wait for the unregistration is short: over a link that loses packets the
    scenario is repeated with a new child, and fails when no child unregisters.)"""
    tries = settings.tries(UNREGISTER_WAIT)
    for attempt in range(1, tries + 1):
        msg = child_registers_serves_and_leaves(child_run, registry_server, fresh_conn_factory,
                                                settings)
        if msg is not None or attempt == tries:
            break
        info(f"try {attempt} of {tries}: no unregister_actor; the link may have lost it")
    must(msg is not None, "the child did not unregister on its way out (REG-12)"
                          + (f" in {tries} tries" if tries > 1 else ""))


def child_registers_serves_and_leaves(child_run, registry_server, fresh_conn_factory, settings):
    """One child through SUP-2's life; its unregister_actor message, or None."""
    run = child_run()
    uid = run.chan.recv_uid()
    must(msgs.same(uid, [run.name, run.uuid]),
         f"the child's handshake uid {uid} is not its --uid {[run.name, run.uuid]}")
    server = registry_server()
    run.chan.send_uid(*run.uid)
    run.chan.send(run.init_map(_arb_addr=[server.host, server.port]))
    cid = run.cmd("spawn_info")
    r = run.result(cid)
    conn, msg = server.wait_command("register_actor", 0)
    must(msg is not None, "the child answered its parent's command before it registered")
    must(r.kind == "return" and isinstance(r.value, dict), f"spawn_info answered {short(r.final)}")
    addr = r.value.get("sockaddr")
    must(msgs.same(msg["cmd"][2].get("sockaddr"), addr),
         f"registered {short(msg['cmd'][2].get('sockaddr'))}, listening at {short(addr)}")
    must(addr[0] == settings.host, f"the child listens on {addr[0]}, not bind_host {settings.host}")
    d = fresh_conn_factory(target=Addr(addr[0], addr[1]))
    must(msgs.same(d.peer_uid, [run.name, run.uuid]), f"uid {d.peer_uid} at the child's listener")
    cid = run.cmd("cancel", ns="self")
    r = run.result(cid)
    must(r.kind == "return" and r.value is True, f"self.cancel answered {short(r.final)}")
    # The acknowledgement came first (result() would have seen the close); then the
    # channel ends.
    how = run.chan.closed_within(settings.prompt)
    must(how is not None, "the child kept its parent channel open after self.cancel")
    should(None in run.chan.drained, "CAN-4: the child closed the channel it opened without nil")
    rc = run.wait_exit(settings.prompt + 0.5)
    must(rc == 0, f"the child's exit status after self.cancel is {rc}")
    conn, msg = server.wait_command("unregister_actor", settings.prompt)
    return msg


@pytest.mark.spec("SUP-4", "SEC-7")
def test_sup_4_unknown_keys_ignored_and_no_init_map_on_other_channels(
        child_run, fresh_conn_factory, settings):
    """Keys beside the six are ignored; an init map sent to the child's listener by
    anyone else is not taken (that connection is refused as malformed input) and the
    child keeps the map of its parent."""
    run = child_run()
    run.chan.handshake(*run.uid)
    first = run.init_map(_unknown_key={"x": 1}, another=[1, 2])
    run.chan.send(first)
    host, port = run.listener("with unknown keys in its init map")
    other = fresh_conn_factory(target=Addr(host, port))
    other.send(run.init_map(bind_port=1, _arb_addr=["10.0.0.1", 1]))
    how = other.closed_within(settings.prompt)
    should(how is not None, "an init map on another channel did not close that channel "
                            "(it is no valid message there)")
    r = run.result(run.cmd("spawn_info"))
    must(r.kind == "return" and msgs.same(r.value.get("init"), first),
         f"the child's init map changed: {short(r.final)}")
    must(run.proc.poll() is None, "the child exited")


@pytest.mark.spec("SUP-5", "SUP-3")
def test_sup_5_a_nil_registry_address_means_no_registration(child_run):
    """An init map whose `_arb_addr` is nil (SUP-3 allows it) gives a child that
    registers nowhere and serves its parent's commands."""
    run = child_run()
    run.chan.handshake(*run.uid)
    run.chan.send(run.init_map(_arb_addr=None))
    run.listener("with a nil _arb_addr", rid="SUP-5")
    must(run.proc.poll() is None, "the child exited with a nil _arb_addr")


@pytest.mark.spec("SUP-6", "MSG-4")
@pytest.mark.parametrize("bad", [
    {"bind_port": "not-a-port"}, {"enable_modules": {"scwire_absent": "/nowhere"}},
    {"_runtime_vars": []}, None,
], ids=["bind_port-str", "unknown-module", "runtime_vars-array", "missing-bind_host"])
def test_sup_6_bad_init_map_is_an_actor_level_error_and_exit(child_run, settings, bad):
    """An init map the child cannot apply: an error without cid goes to the parent and
    the child exits with a non-zero status."""
    run = child_run()
    run.chan.handshake(*run.uid)
    m = run.init_map(**(bad or {}))
    if bad is None:
        del m["bind_host"]
    run.chan.send(m)
    msg = run.chan.expect(msgs.Pattern("an error without cid, with a type_str",
                                       lambda x: is_actor_error(x)
                                       and isinstance(x["error"].get("type_str"), str)),
                          rid="SUP-6")
    info(f"actor-level error: {short(msg)}")
    rc = run.wait_exit(settings.prompt)
    must(rc is not None and rc != 0, f"the child's exit status is {rc}, not non-zero")


@pytest.mark.spec("SUP-12", "CAN-3")
def test_sup_12_child_exits_when_its_parent_channel_ends(child_run, fresh_conn_factory, settings):
    """The parent channel ends (EOF): the child cancels its tasks, closes its other
    connections and exits promptly."""
    run = child_run()
    run.chan.handshake(*run.uid)
    run.chan.send(run.init_map())
    host, port = run.listener()
    other = fresh_conn_factory(target=Addr(host, port))
    other.open_context(SVC, "ctx_no_stream", value=None)
    t0 = time.monotonic()
    run.chan.close()
    rc = run.wait_exit(settings.prompt)
    must(rc is not None, f"the child still runs {settings.prompt:g} s after its parent's "
                         f"channel ended", rid="SUP-12")
    must(other.closed_within(settings.prompt) is not None, "the child's other channel stays open")
    info(f"exit status {rc} after {time.monotonic() - t0:.3f} s")


@pytest.mark.spec("MSG-4", "SVC-28", "SUP-10")
def test_msg_4_actor_level_error_goes_only_to_the_parent(child_run, fresh_conn_factory, settings):
    """spawn_crash called over another connection: the actor-level error goes to the
    parent channel, never to that connection, and the child exits non-zero."""
    run = child_run()
    run.chan.handshake(*run.uid)
    run.chan.send(run.init_map())
    host, port = run.listener()
    other = fresh_conn_factory(target=Addr(host, port))
    other.command(SVC, "spawn_crash", {"type_str": "ScwireCrash", "text": "t"})
    msg = run.chan.expect(ACTOR_ERROR)
    must(msg["error"].get("type_str") == "ScwireCrash", f"actor-level error {short(msg)}")
    other.closed_within(settings.prompt)
    stray = [m for m in other.drained if isinstance(m, dict) and "error" in m and "cid" not in m]
    must(not stray, f"an actor-level error went to a connection that is not the parent's: "
                    f"{short(stray)}")
    rc = run.wait_exit(settings.prompt)
    must(rc is not None and rc != 0, f"the child's exit status is {rc}")
