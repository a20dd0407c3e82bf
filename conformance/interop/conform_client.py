# SPDX-License-Identifier: AGPL-3.0-or-later
"""The suite's wire library as a neutral client of the matrix (row `scwire-conform`).

Each scenario talks to the server with `scwire_conform.wire.Conn` exactly as
the wire sequences of spec/test-service.md section 4 say; no actor runtime is
involved, so a cell that fails here and passes with tractor (or the other way
round) points at the client, not at the server.  A failed check raises
`Violation` (wire.py's expectations) or `Mismatch`; each function returns the
text of what it saw.
"""
import time
import uuid

from scwire_conform import msgs
from scwire_conform.verdict import Violation
from scwire_conform.wire import SERVICE, Conn
from scwire_conform.wirelog import short

# A supervised call waits for children to start, be cancelled and be reaped.
SPAWN_TIMEOUT = 20.0
ECHO_VALUE = {"a": [1, 2.5, "x", None, True], "b": b"\x00\xff", "n": -(2 ** 40)}


class Mismatch(Exception):
    pass


def sibling_hang(seconds):
    """The finding when a parent never cancels the sibling of a failed child."""
    return (f"robustness: a hang: run_in_children of a child that raises KeyError and one "
            f"that sleeps gave no answer within {seconds:g} s: the failure did not cancel "
            f"the sibling (SUP-8)")


def check(cond, text):
    if not cond:
        raise Mismatch(text)


def call_value(c, ns, func, args, timeout=None):
    r = c.call(ns, func, args, timeout=timeout)
    check(r.kind == "return", f"{ns}.{func} answered {short(r.final)}")
    return r.value


def rpc_return(c, run):
    got = call_value(c, SERVICE, "echo", {"value": ECHO_VALUE})
    check(msgs.same(got, ECHO_VALUE), f"echo returned {short(got)}")
    return "echo returned the value unchanged"


def rpc_error(c, run):
    r = c.call(SERVICE, "raise_error", type_str="ValueError", text="kaboom")
    check(r.functype == "asyncfunc" and r.type_str == "ValueError"
          and "kaboom" in r.error.get("tb_str", ""), f"raise_error answered {short(r.final)}")
    return "functype asyncfunc, then error ValueError with the text"


def asyncgen(c, run):
    values, final = c.open_stream_from(SERVICE, "count", n=5).collect()
    check(values == list(range(5)) and msgs.kind(final) == "stop",
          f"count(5) gave {values} then {short(final)}")
    return "yields 0..4, then stop"


def echo_stream(c, n, pause=0.0):
    """ctx_echo: n yields, each echoed before the next; stop; the result."""
    ctx = c.open_context(SERVICE, "ctx_echo", first="hi")
    check(ctx.started == "hi", f"started {short(ctx.started)}")
    for i in range(n):
        ctx.send_yield(i)
        got = ctx.next()
        check(msgs.yield_(ctx.cid, i)(got), f"sent yield {i}, got {short(got)}")
        time.sleep(pause)
    ctx.send_stop()
    _, stops, final = ctx.finish()
    check(msgs.ret(ctx.cid, n)(final), f"ctx_echo ended with {short(final)}")
    return stops


def ctx_stream(c, run):
    stops = echo_stream(c, 10)
    return f"10 echoes, stop x{stops}, return 10"


def ctx_error(c, run):
    ctx = c.open_context(SERVICE, "ctx_error_after_started", type_str="KeyError")
    check(ctx.started is None, f"started {short(ctx.started)}")
    c.expect(msgs.error(ctx.cid, "KeyError"), cid=ctx.cid)
    return "started nil, then error KeyError"


def cancel_context(c, ctx):
    r = c.cancel_task(ctx.cid)
    check(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    c.expect(msgs.error(ctx.cid, "ContextCancelled"), cid=ctx.cid)


def ctx_cancel(c, run):
    ctx = c.open_context(SERVICE, "ctx_no_stream", value="ready")
    check(ctx.started == "ready", f"started {short(ctx.started)}")
    cancel_context(c, ctx)
    return "started 'ready'; _cancel_task nil; ContextCancelled"


def overrun(c, run):
    ctx = c.open_context(SERVICE, "ctx_no_stream", value="ready")
    c.send_many([{"yield": i, "cid": ctx.cid} for i in range(65)])
    c.expect(msgs.error(ctx.cid, "StreamOverrun"), cid=ctx.cid)
    cancel_context(c, ctx)
    return "65 yields: StreamOverrun; then cancelled"


def registry(c, run):
    name = "interop-conform-" + uuid.uuid4().hex[:8]
    me = [name, str(uuid.uuid4())]
    addr = list(run.server_addr)
    call_value(c, "self", "register_actor", {"uid": me, "sockaddr": addr})
    found = call_value(c, "self", "find_actor", {"name": name})
    check(msgs.same(list(found or []), addr), f"find_actor({name}) gave {short(found)}")
    waited = wait_for_late(c, run, name)
    call_value(c, "self", "unregister_actor", {"uid": me})
    gone = call_value(c, "self", "find_actor", {"name": name})
    check(gone is None, f"find_actor({name}) after unregister gave {short(gone)}")
    return f"registered, found, {waited}, unregistered"


def wait_for_late(c, run, name):
    """wait_for_actor blocks on a second connection until `late` registers."""
    late = [name + "-late", str(uuid.uuid4())]
    addr = list(run.server_addr)
    w = run.connect()
    cid = w.command("self", "wait_for_actor", {"name": late[0]})
    w.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    time.sleep(0.3)          # wait_for_actor must be waiting by now
    call_value(c, "self", "register_actor", {"uid": late, "sockaddr": addr})
    got = w.expect(msgs.ret(cid), cid=cid)["return"]
    w.close()
    call_value(c, "self", "unregister_actor", {"uid": late})
    check(isinstance(got, (list, tuple)) and any(msgs.same(list(a), addr) for a in got),
          f"wait_for_actor({late[0]}) returned {short(got)}")
    return "wait_for_actor returned once the name registered"


def cancel_task(c, run):
    cid = c.command(SERVICE, "sleep_forever", {})
    c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    r = c.cancel_task(cid)
    check(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    c.expect_quiet(cid, "nothing for the cancelled task")
    return "sleep_forever cancelled: nil, nothing more on its cid"


def cancel_actor(c, run):
    r = c.call("self", "cancel", {})
    check(r.kind == "return" and r.value is True, f"self.cancel answered {short(r.final)}")
    return "self.cancel answered true"


def spawn(c, run):
    got = call_value(c, SERVICE, "run_in_child",
                     {"name": "w", "ns": SERVICE, "func": "echo", "kwargs": {"value": 3}},
                     timeout=SPAWN_TIMEOUT)
    check(got == 3, f"run_in_child(echo 3) returned {short(got)}")
    r = c.call(SERVICE, "run_in_child", {"name": "f", "ns": SERVICE, "func": "raise_error",
                                         "kwargs": {"type_str": "KeyError", "text": "nope"}},
               timeout=SPAWN_TIMEOUT)
    check(r.type_str == "KeyError" and "nope" in r.error.get("tb_str", ""),
          f"run_in_child(raise_error) answered {short(r.final)}")
    try:
        r = c.call(SERVICE, "run_in_children", {"specs": [
            ["a", SERVICE, "sleep_forever", {}],
            ["b", SERVICE, "raise_error", {"type_str": "KeyError", "text": "gone"}]]},
            timeout=SPAWN_TIMEOUT)
    except Violation as e:
        if getattr(e, "silent", False):
            raise Mismatch(sibling_hang(SPAWN_TIMEOUT)) from e
        raise
    check(r.type_str == "KeyError" and "gone" in r.error.get("tb_str", ""),
          f"run_in_children answered {short(r.final)}")
    return "a child's result; a child's KeyError; one-cancels-all with the KeyError"


def connect_drop(c, run):
    stops = echo_stream(c, 300, pause=0.005)
    return f"300 echoes in order (stop x{stops})"


SCENARIOS = {f.__name__: f for f in (rpc_return, rpc_error, asyncgen, ctx_stream, ctx_error,
                                     ctx_cancel, overrun, registry, cancel_task, cancel_actor,
                                     spawn, connect_drop)}
SCENARIOS["connect_reset"] = connect_drop      # the same traffic; other drops meanwhile


def run_scenario(sid, run):
    """Run scenario sid on a fresh handshaken connection; returns what it saw."""
    c = run.connect()
    try:
        return SCENARIOS[sid](c, run)
    finally:
        c.close()


def new_conn(host, port, codec, log, timeout):
    c = Conn.connect(host, port, codec, log=log, timeout=timeout)
    c.handshake("interop-conform")
    return c
