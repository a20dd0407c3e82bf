# SPDX-License-Identifier: AGPL-3.0-or-later
"""Client drivers: how each implementation plays the client of a scenario.

`run(scenario, run)` returns the text of what the client saw, or raises `Fail`
(the scenario failed: the reason) or `Skip` (the client cannot play it).
`unsupported(scenario, server_impl)` says before anything starts why a client
cannot play a scenario, or None; `serverless(...)` is true where the client
brings its own server (a child it spawns).  `run` is the matrix's `Run`
(matrix.py): the server's address, the scenario's directory and processes.
"""
import json
import os
import time

import conform_client
from impls import PYTHON, TRACTOR_CLIENT, parent_template
from procs import run_bounded
from scwire_conform import msgs
from scwire_conform.verdict import Violation
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short

# A tractor client's own bound is 15 s (tractor_client.REPLY_TIMEOUT); this one
# also covers its interpreter and tractor starting up.
TRACTOR_CLIENT_TIMEOUT = 40.0
# Registration and unregistration are asynchronous to a process's start and exit.
REGISTRY_SETTLE = 3.0
# How long a role-driven client keeps its traffic up while connections drop.
TRAFFIC_SECONDS = 1.5


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, text):
    if not cond:
        raise Fail(text)


class Driver:
    def __init__(self, impl, caps):
        self.impl = impl
        self.caps = caps

    def unsupported(self, sc, server_impl):
        """Why this client cannot play sc against server_impl, or None."""
        return None

    def serverless(self, sc, server_impl):
        """True when the client plays sc with a server of its own making (a child)."""
        return False


class TractorDriver(Driver):
    """tractor_client.py in a process of its own, one scenario per run."""

    def run(self, sc, run):
        host, port = run.server_addr
        argv = [PYTHON, TRACTOR_CLIENT, "--server", f"{host}:{port}", "--scenario", sc.id,
                "--codec", run.codec, "--name", "interop-tractor-" + run.tag]
        out, err = run.path("tractor-client.stdout"), run.path("tractor-client.log")
        run.logs.append(err)
        rc, text = run_bounded(argv, TRACTOR_CLIENT_TIMEOUT, out, err,
                               env=dict(os.environ, **self.impl.env))
        check(rc is not None, f"the tractor client did not finish within "
                              f"{TRACTOR_CLIENT_TIMEOUT:g} s and was killed (log: {err})")
        res = last_json_line(text)
        check(res is not None, f"the tractor client exited with status {rc} without a "
                               f"result line (log: {err})")
        run.client_name = res.get("name")
        if res.get("result") == "SKIP":
            raise Skip(res.get("reason", ""))
        check(res.get("result") == "PASS", res.get("reason") or "no reason given")
        return res.get("reason", "")


def last_json_line(text):
    for line in reversed(text.splitlines()):
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict) and "result" in v:
            return v
    return None


class ConformDriver(Driver):
    """The suite's wire library, in the runner's process."""

    def run(self, sc, run):
        try:
            return conform_client.run_scenario(sc.id, run)
        except conform_client.Mismatch as e:
            raise Fail(str(e)) from None


ONLY_ROLES = ("{name} is a client here only through its own roles (scwire_service.ctx_call, "
              "registry client, parent of children it spawns): ")
ROLE_GAPS = {
    "rpc_return": "it runs an asyncfunc only in children it spawns, and the server cannot "
                  "be started as its child",
    "rpc_error": "it runs an asyncfunc only in children it spawns, and the server cannot "
                 "be started as its child",
    "asyncgen": "it opens no asyncgen stream on another actor",
    "overrun": "ctx_call sends no yield into the context it opens",
    "cancel_actor": "it sends self.cancel only to children it spawns, and the server cannot "
                    "be started as its child",
    "spawn": "it cannot ask another actor to spawn, and the server cannot be started as its "
             "child",
}


class RoleDriver(Driver):
    """An implementation that is a client only through its roles: a helper
    instance of it is asked, over a connection of the runner's, to ctx_call
    the server; with a `{registry}` template it registers with the server; and
    against its own implementation, it is the parent of the server (a child
    it spawns with the supervision functions), and likewise of a server
    implementation that runs as a child where it can start that one's children
    (scwire-ref --child-program)."""

    def serverless(self, sc, server_impl):
        return sc.id in PARENT_SCENARIOS and bool(self.caps.get("supervision")) \
            and parent_template(self.impl, server_impl) is not None

    def unsupported(self, sc, server_impl):
        if self.serverless(sc, server_impl):
            return None
        if sc.id in ROLE_GAPS:
            return ONLY_ROLES.format(name=self.impl.name) + ROLE_GAPS[sc.id]
        if sc.id == "registry":
            return None if self.impl.registry_client else \
                f"{self.impl.name}'s command has no {{registry}} placeholder: it cannot be " \
                f"started as a registry client"
        # A probe that could not start the implementation: the cell fails on that.
        if not self.caps.get("ctx_call") and "error" not in self.caps:
            return f"{self.impl.name} offers no scwire_service.ctx_call, its only way to call " \
                   f"a context (probe: {self.caps.get('ctx_call_probe', 'not run')})"
        return None

    def run(self, sc, run):
        if sc.id == "registry":
            return self.registry_client(run)
        server = run.server_impl
        parent = self.serverless(sc, server)
        template = parent_template(self.impl, server) if parent else self.impl.plain
        helper = run.start(self.impl.command(template, server.env if parent else None),
                           "client")
        c = run.connect(helper)
        try:
            if parent:
                whose = "" if server.name == self.impl.name else f" of {server.name} children"
                text = f"as a parent{whose}: " + PARENT_SCENARIOS[sc.id](c, run)
            else:
                text = ROLE_SCENARIOS[sc.id](c, run)
            check(c.call(SERVICE, "echo", {"value": 5}).value == 5,
                  f"{self.impl.name} no longer answers echo after the scenario")
            return text
        finally:
            c.close()
            run.stop(helper)

    def registry_client(self, run):
        host, port = run.server_addr
        template = self.impl.registry_client.replace("{registry}", f"{host}:{port}")
        x = run.start(self.impl.command(template), "client")
        c = run.connect(x)
        name = c.peer_uid[0]
        c.close()
        reg = run.connect()
        mine = [x.host, x.port]
        try:
            waited = poll(lambda: wait_for(reg, name), lambda v: any_addr(v, mine))
            check(any_addr(waited, mine), f"wait_for_actor({name}) gave {short(waited)}; it "
                                          f"listens at {x.host}:{x.port}")
            # find_actor answers one address per name: with the server's own name
            # (both named alike) that one may be the server's.
            if name != reg.peer_uid[0]:
                found = find(reg, name)
                check(msgs.same(list(found or []), mine),
                      f"find_actor({name}) gave {short(found)}; it listens at {x.host}:{x.port}")
            rc = run.stop(x)
            gone = poll(lambda: wait_for(reg, name, 0.2), lambda v: not any_addr(v, mine))
            check(not any_addr(gone, mine), f"{name} is still registered {REGISTRY_SETTLE:g} s "
                                            f"after it exited (status {rc}): it did not "
                                            f"unregister")
        finally:
            reg.close()
        note = "" if rc == 0 else f" (exit status {rc} after SIGTERM: SVC-4 asks 0)"
        return f"{name} registered on start (found, waited for) and unregistered on exit" + note


def any_addr(addrs, addr):
    return isinstance(addrs, (list, tuple)) and any(msgs.same(list(a), addr) for a in addrs)


def wait_for(conn, name, timeout=None):
    """self.wait_for_actor: the addresses of name, or None while nobody has it."""
    cid = conn.command("self", "wait_for_actor", {"name": name})
    try:
        r = conn.result(cid, timeout=timeout)
    except Violation as e:
        if getattr(e, "silent", False):      # still waiting: nobody has the name
            conn.cancel_task(cid)
            conn.take_unread(cid)
            return None
        raise
    check(r.kind == "return", f"wait_for_actor({name}) answered {short(r.final)}")
    return r.value


def find(conn, name):
    r = conn.call("self", "find_actor", {"name": name})
    check(r.kind == "return", f"find_actor({name}) answered {short(r.final)}")
    return r.value


def poll(fn, done, within=REGISTRY_SETTLE):
    deadline = time.monotonic() + within
    while True:
        v = fn()
        if done(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


def ctx_call(c, run, func, kwargs, idle):
    host, port = run.server_addr
    return c.call(SERVICE, "ctx_call", {"host": host, "port": port, "ns": SERVICE,
                                        "func": func, "kwargs": kwargs, "idle": idle},
                  timeout=idle + 15)


def expect_call(c, run, func, kwargs, idle, want):
    r = ctx_call(c, run, func, kwargs, idle)
    check(r.kind == "return" and msgs.same(r.value, want),
          f"ctx_call({func}) answered {short(r.final)}; expected return {short(want)}")


def role_ctx_stream(c, run):
    expect_call(c, run, "ctx_stream_out", {"n": 5}, 3, [None, "returned", 5])
    return ("ctx_call(ctx_stream_out 5) returned [nil, 'returned', 5]; one way only: ctx_call "
            "leaves the callee's yields unread and sends none")


def role_ctx_error(c, run):
    r = ctx_call(c, run, "ctx_error_after_started", {"type_str": "KeyError"}, 10)
    check(r.kind == "error" and "KeyError" in r.error.get("tb_str", ""),
          f"ctx_call(ctx_error_after_started) answered {short(r.final)}")
    note = "" if r.type_str == "RemoteActorError" else \
        f" (type_str {r.type_str}; SVC-29 says it SHOULD be RemoteActorError)"
    return "ctx_call failed with the callee's KeyError" + note


def role_ctx_cancel(c, run):
    expect_call(c, run, "ctx_no_stream", {"value": "ready"}, 0.3, ["ready", "cancelled", None])
    return "ctx_call(ctx_no_stream) cancelled it when idle ended: ['ready', 'cancelled', nil]"


def role_cancel_task(c, run):
    expect_call(c, run, "ctx_echo", {"first": "hi"}, 0.3, ["hi", "cancelled", None])
    return "ctx_call(ctx_echo) cancelled the task (_cancel_task) with its stream open"


def role_connect_drop(c, run):
    n, t0 = 0, time.monotonic()
    while n < 5 or time.monotonic() - t0 < TRAFFIC_SECONDS:
        expect_call(c, run, "ctx_stream_out", {"n": 40}, 3, [None, "returned", 40])
        n += 1
    return f"{n} x ctx_call(ctx_stream_out 40) returned 40 each"


ROLE_SCENARIOS = {
    "ctx_stream": role_ctx_stream,
    "ctx_error": role_ctx_error,
    "ctx_cancel": role_ctx_cancel,
    "cancel_task": role_cancel_task,
    "connect_drop": role_connect_drop,
    "connect_reset": role_connect_drop,
}

def parent_rpc_return(c, run):
    v = conform_client.ECHO_VALUE
    got = conform_client.call_value(c, SERVICE, "run_in_child", {
        "name": "w", "ns": SERVICE, "func": "echo", "kwargs": {"value": v}},
        timeout=conform_client.SPAWN_TIMEOUT)
    check(msgs.same(got, v), f"run_in_child(echo) returned {short(got)}")
    return "its child answered echo with the value unchanged (run_in_child)"


def parent_rpc_error(c, run):
    r = c.call(SERVICE, "run_in_child", {"name": "f", "ns": SERVICE, "func": "raise_error",
                                         "kwargs": {"type_str": "ValueError", "text": "kaboom"}},
               timeout=conform_client.SPAWN_TIMEOUT)
    check(r.type_str == "ValueError" and "kaboom" in r.error.get("tb_str", ""),
          f"run_in_child(raise_error) answered {short(r.final)}")
    return "its child's ValueError came back through run_in_child"


def parent_cancel_actor(c, run):
    t = conform_client.SPAWN_TIMEOUT
    addr = conform_client.call_value(c, SERVICE, "spawn_start", {"name": "d"}, timeout=t)
    acked = conform_client.call_value(c, SERVICE, "spawn_cancel", {"name": "d"}, timeout=t)
    check(acked is True, f"spawn_cancel: the child did not acknowledge self.cancel ({acked!r})")
    left = conform_client.call_value(c, SERVICE, "spawn_list", {})
    check(not left, f"spawn_list after spawn_cancel: {short(left)}")
    return f"its child at {short(addr)} acknowledged self.cancel and was reaped (spawn_cancel)"


def parent_spawn(c, run):
    return conform_client.spawn(c, run)


PARENT_SCENARIOS = {
    "rpc_return": parent_rpc_return,
    "rpc_error": parent_rpc_error,
    "cancel_actor": parent_cancel_actor,
    "spawn": parent_spawn,
}

DRIVERS = {"tractor": TractorDriver, "conform": ConformDriver, "roles": RoleDriver}
