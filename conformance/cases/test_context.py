# SPDX-License-Identifier: AGPL-3.0-or-later
"""Context functions: started, the two-way stream, the end (protocol.md sections 4-6).

Covers the context sequence (RPC-8, CTX-1), errors sent by the caller into a
live context (CTX-6, ERR-4, ERR-5), unexpected kinds from the caller (CTX-8),
cid life (CID-4, CID-7, CID-10) and the context functions of test-service.md;
and the caller side (CTX-7), with the IUT calling a context of the suite
through ctx_call (SVC-29).
"""
import time

import pytest

from scwire_conform import msgs
from scwire_conform.callee import Callee, ctx_call
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import Violation, must, should
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short


def expect_error_end(conn, ctx, settings, why):
    """The context ends promptly with one error, which should be RemoteActorError."""
    t0 = time.monotonic()
    m = conn.expect(msgs.error(ctx.cid), timeout=settings.prompt, cid=ctx.cid)
    took = time.monotonic() - t0
    should(m["error"]["type_str"] == "RemoteActorError",
           f"CTX-6: the error ending the context after {why} should be RemoteActorError; "
           f"it is {m['error']['type_str']!r}")
    conn.expect_quiet(ctx.cid, "nothing after the context's error")
    return m, took


@pytest.mark.spec("RPC-8", "CTX-1", "SVC-13")
def test_rpc_8_ctx_echo_full_sequence(conn):
    """ctx_echo("hi") sends `functype context`, `started "hi"`, echoes each yield in
    order, and after our stop sends stop (one or more) and returns the count."""
    cid = conn.command(SERVICE, "ctx_echo", {"first": "hi"})
    conn.expect(msgs.functype(cid, "context"))
    conn.expect(msgs.started(cid, "hi"))
    for v in (0, "one", [2], {"three": b"3"}):
        conn.send({"yield": v, "cid": cid})
        conn.expect(msgs.yield_(cid, v))
    conn.send({"stop": True, "cid": cid})
    conn.expect(msgs.stop(cid))
    while True:
        m = conn.expect(msgs.stop(cid) | msgs.ret(cid, 4))
        if msgs.kind(m) == "return":
            break
    conn.expect_quiet(cid)


@pytest.mark.spec("RPC-8", "SVC-16")
@pytest.mark.parametrize("value", [[1, 2], None, {"k": b"v"}], ids=["array", "nil", "map"])
def test_rpc_8_ctx_return_started_then_return(conn, value):
    """ctx_return(value) sends `functype context`, `started nil`, then `return value`,
    and nothing more."""
    cid = conn.command(SERVICE, "ctx_return", {"value": value})
    conn.expect(msgs.functype(cid, "context"))
    conn.expect(msgs.started(cid, None))
    conn.expect(msgs.ret(cid, value))
    conn.expect_quiet(cid)


@pytest.mark.spec("RPC-8", "SVC-15", "RPC-9")
@pytest.mark.parametrize("type_str", ["KeyError", "ScwireCustomError"])
def test_rpc_8_ctx_error_after_started(conn, type_str):
    """ctx_error_after_started(type_str) sends `functype context`, `started nil`, then
    one `error` with that type_str, and nothing more."""
    cid = conn.command(SERVICE, "ctx_error_after_started", {"type_str": type_str})
    conn.expect(msgs.functype(cid, "context"))
    conn.expect(msgs.started(cid, None))
    conn.expect(msgs.error(cid, type_str))
    conn.expect_quiet(cid)


@pytest.mark.spec("SVC-17", "CTX-1", "RPC-8")
@pytest.mark.parametrize("n", [0, 3, 100])
def test_svc_17_ctx_stream_out(conn, n):
    """ctx_stream_out(n) sends `started nil`, yields 0 to n-1, stop (one or more) and
    returns n."""
    ctx = conn.open_context(SERVICE, "ctx_stream_out", n=n)
    must(ctx.started is None, f"started carried {short(ctx.started)}, not nil")
    values, stops, final = ctx.finish()
    must(values == list(range(n)), f"expected yields 0..{n - 1}; observed {short(values)}")
    must(stops >= 1, "expected at least one stop before the return")
    must(msgs.ret(ctx.cid, n)(final), f"expected return {n}; observed {short(final)}")


@pytest.mark.spec("CTX-6")
@pytest.mark.parametrize("func,kwargs", [("ctx_no_stream", {"value": 1}),
                                         ("ctx_echo", {"first": 1}),
                                         ("ctx_slow_sink", {"delay": 0.5, "backpressure": True})],
                         ids=["not-reading", "reading", "slow-reader"])
def test_ctx_6_error_from_caller_ends_context(conn, settings, func, kwargs):
    """An `error` we send on a live context ends it promptly, even when the function
    does not read its stream, with an `error` on that cid (RemoteActorError)."""
    ctx = conn.open_context(SERVICE, func, kwargs)
    conn.send({"error": {"tb_str": "Traceback...\nValueError: from the caller\n",
                         "type_str": "ValueError"}, "cid": ctx.cid})
    expect_error_end(conn, ctx, settings, "our error")


@pytest.mark.spec("ERR-5", "CTX-6")
def test_err_5_error_without_tb_str_is_served(conn, settings):
    """An `error` without tb_str sent into a live context is taken as having an empty
    tb_str: the context ends with an error, the channel stays usable."""
    ctx = conn.open_context(SERVICE, "ctx_no_stream", value=None)
    conn.send({"error": {"type_str": "ValueError"}, "cid": ctx.cid})
    expect_error_end(conn, ctx, settings, "an error without tb_str")


@pytest.mark.spec("ERR-4", "CTX-6")
@pytest.mark.parametrize("type_str", ["NoSuchErrorAnywhere", "os.system", "__import__",
                                      "SystemExit", "KeyboardInterrupt"])
def test_err_4_any_type_str_accepted(conn, settings, type_str):
    """An `error` with any type_str, known or not (even names of dangerous things), is
    accepted as an error for the context: the context ends with an error and the
    IUT keeps serving."""
    ctx = conn.open_context(SERVICE, "ctx_no_stream", value=None)
    conn.send({"error": {"tb_str": "x", "type_str": type_str}, "cid": ctx.cid})
    expect_error_end(conn, ctx, settings, f"an error of type {type_str!r}")


@pytest.mark.spec("MSG-6")
@pytest.mark.parametrize("extra", [{"message": "m"}, {"suberror_type": "X"}, {5: "non-str key"}],
                         ids=["message", "suberror_type", "int-key"])
def test_msg_6_unknown_keys_in_error_map_ignored(conn, settings, extra):
    """An `error` for a live context whose map has keys beyond tb_str and type_str is
    served like any error: the context ends with an error."""
    ctx = conn.open_context(SERVICE, "ctx_no_stream", value=None)
    err = {"tb_str": "x", "type_str": "ValueError", **extra}
    conn.send({"error": err, "cid": ctx.cid})
    try:
        conn.expect(msgs.error(ctx.cid), timeout=settings.prompt, cid=ctx.cid)
    except Violation as e:      # a SHOULD: the case records it and ends
        should(False, f"an error map with extra keys {sorted(map(str, extra))} was not "
                      f"served: {e}")


@pytest.mark.spec("MSG-6")
def test_msg_6_unknown_keys_beside_a_kind_are_ignored(conn, settings):
    """A command and the `yield` and `stop` of a live ctx_echo, each with a key the
    protocol does not know beside its own, are served as if it were not there:
    the command answered, the yield echoed, the stop ending the context."""
    cid = new_cid()
    conn.send({"cmd": [SERVICE, "echo", {"value": 1}, list(conn.uid), cid], "x-extra": 1})
    ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
    conn.send({"yield": "y", "cid": ctx.cid, "x-extra": [1]})
    conn.send({"stop": True, "cid": ctx.cid, "x-extra": None})
    try:
        conn.expect(msgs.functype(cid, "asyncfunc"), timeout=settings.prompt, cid=cid)
        conn.expect(msgs.ret(cid, 1), timeout=settings.prompt, cid=cid)
        conn.expect(msgs.yield_(ctx.cid, "y"), timeout=settings.prompt, cid=ctx.cid)
        _, _, final = ctx.finish()
    except Violation as e:
        should(False, f"a message with an unknown key was not served as without it: {e}")
        return
    should(msgs.ret(ctx.cid, 1)(final), f"the context ended with {short(final)}, not return 1")


@pytest.mark.spec("CTX-8")
def test_ctx_8_unexpected_kinds_from_caller_change_nothing(conn):
    """`return`, `functype` and `started` sent by us into a live ctx_echo neither end
    nor change it: it still echoes, and returns the number of yields only."""
    ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
    for m in ({"return": 5, "cid": ctx.cid}, {"functype": "asyncfunc", "cid": ctx.cid},
              {"started": 1, "cid": ctx.cid}):
        conn.send(m)
    ctx.send_yield("y")
    m = ctx.next()
    must(msgs.yield_(ctx.cid, "y")(m), f"expected the echo of 'y'; observed {short(m)}")
    ctx.send_stop()
    _, _, final = ctx.finish()
    must(msgs.ret(ctx.cid, 1)(final), f"expected return 1; observed {short(final)}")


@pytest.mark.spec("CID-10", "CID-9")
def test_cid_10_live_cid_is_found_by_the_channel_uid_not_the_caller_uid(conn):
    """A command reusing the cid of a live context of this channel, with a
    caller_uid naming another actor, is still refused with MessagingError: the
    context is named by the handshake's uid, never by the caller_uid (which
    differs from it here, so that the two keys cannot coincide)."""
    ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
    other = ("someone-else", new_cid())
    conn.command(SERVICE, "echo", {"value": 1}, cid=ctx.cid, caller_uid=other)
    conn.expect(msgs.error(ctx.cid, "MessagingError"), cid=ctx.cid, rid="CID-10")
    conn.expect_quiet(ctx.cid, "nothing more after the MessagingError")


@pytest.mark.spec("CID-10")
@pytest.mark.parametrize("live", ["context", "asyncfunc"])
def test_cid_10_command_reusing_a_live_cid(conn, live):
    """A command whose cid names a live context is answered with exactly one `error`
    MessagingError on that cid (no functype), and the live context goes on."""
    if live == "context":
        ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
        cid = ctx.cid
    else:
        cid = conn.command(SERVICE, "sleep_forever")
        conn.expect(msgs.functype(cid, "asyncfunc"))
    conn.command(SERVICE, "echo", {"value": 1}, cid=cid)
    conn.expect(msgs.error(cid, "MessagingError"), cid=cid)
    conn.expect_quiet(cid, "nothing more after the MessagingError")
    if live == "context":
        ctx.send_yield(7)
        m = ctx.next()
        must(msgs.yield_(cid, 7)(m), f"the live context answered {short(m)}, not the echo")
        ctx.send_stop()
        _, _, final = ctx.finish()
        must(msgs.ret(cid, 1)(final), f"expected return 1; observed {short(final)}")
    else:
        r = conn.cancel_task(cid)
        must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")


@pytest.mark.spec("CID-7")
def test_cid_7_context_exists_before_first_reply(conn):
    """The callee creates the context when it accepts the command: a yield and a stop
    written in the same segment as the ctx_echo command are delivered to it."""
    cid = new_cid()
    conn.send_many([{"cmd": [SERVICE, "ctx_echo", {"first": 0}, list(conn.uid), cid]},
                    {"yield": "early", "cid": cid}, {"stop": True, "cid": cid}])
    conn.expect(msgs.functype(cid, "context"))
    conn.expect(msgs.started(cid, 0))
    conn.expect(msgs.yield_(cid, "early"))
    ctx_final = None
    while ctx_final is None:
        m = conn.expect(msgs.stop(cid) | msgs.ret(cid, 1))
        if msgs.kind(m) == "return":
            ctx_final = m


@pytest.mark.spec("CID-7")
def test_cid_7_cid_free_again_after_the_end(conn):
    """Once a request has ended, its context is removed: a new command with the same
    cid is served as a fresh request (not refused as a reused live cid)."""
    cid = new_cid()
    for value in (1, 2):
        conn.command(SERVICE, "echo", {"value": value}, cid=cid)
        r = conn.result(cid)
        must(r.kind == "return" and r.value == value,
             f"echo #{value} on a reused finished cid answered {short(r.final)}")


@pytest.mark.spec("CID-4")
def test_cid_4_context_reached_from_another_channel_with_the_same_uid(fresh_conn_factory):
    """Contexts are keyed by (peer uid, cid): a yield sent on a second channel with the
    same peer uid reaches the context opened on the first."""
    uuid = new_cid()
    a = fresh_conn_factory(uuid=uuid)
    b = fresh_conn_factory(uuid=uuid)
    ctx = a.open_context(SERVICE, "ctx_echo", first=None)
    b.send({"yield": "via b", "cid": ctx.cid})
    a.barrier()
    b.barrier()
    ctx.send_stop()
    values, _, final = ctx.finish()
    values += [m["yield"] for m in b.take_unread(ctx.cid) if msgs.kind(m) == "yield"]
    must(values == ["via b"], f"expected the echo of 'via b' on either channel; observed "
                              f"{short(values)}")
    must(msgs.ret(ctx.cid, 1)(final), f"expected return 1; observed {short(final)}")


# Two uuids and a cid whose keys (name, uuid, cid) collide under 32-bit FNV-1a,
# fed part by part with a 0xff byte after each part (found by a birthday search
# over uuids numbered in the first field): a table that keeps that hash and
# compares the cid alone merges the two peers' contexts.
COLLIDING_UUIDS = ("0000289b-c011-4de0-8000-000000000000",
                   "000459c8-c011-4de0-8000-000000000000")
COLLIDING_CID = "c0111de-0000-4000-8000-000000000000"


def fnv1a_parts(parts):
    h = 2166136261
    for part in parts:
        for b in part.encode() + b"\xff":
            h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


@pytest.mark.spec("CID-4")
def test_cid_4_one_cid_of_two_peers_is_two_contexts(fresh_conn_factory):
    """Peers whose uids differ in the uuid alone each have their own context under the
    same cid: while the first one's sleep_forever lives on the cid, the second
    one's echo on it is served, not refused as a reused live cid.  The keys
    coincide under a common 32-bit hash (FNV-1a), so that a table comparing the
    hash and the cid but not the uid cannot pass."""
    name = "scwire-conform"
    assert len({fnv1a_parts((name, u, COLLIDING_CID)) for u in COLLIDING_UUIDS}) == 1
    a = fresh_conn_factory(name=name, uuid=COLLIDING_UUIDS[0])
    b = fresh_conn_factory(name=name, uuid=COLLIDING_UUIDS[1])
    a.command(SERVICE, "sleep_forever", cid=COLLIDING_CID)
    a.expect(msgs.functype(COLLIDING_CID, "asyncfunc"))
    b.command(SERVICE, "echo", {"value": "b's own"}, cid=COLLIDING_CID)
    r = b.result(COLLIDING_CID)
    must(r.kind == "return" and r.value == "b's own",
         f"the second peer's echo on the cid of the first peer's live task answered "
         f"{short(r.final)}, not its own value")
    r = a.cancel_task(COLLIDING_CID)
    must(r.kind == "return" and r.value is None,
         f"cancelling the first peer's task answered {short(r.final)}")


# ctx_call's idle time when the case wants the IUT to sit on the context:
# far beyond any wait of the suite, so that only the callee's message can
# end the call within the case.
IDLE = 600


@pytest.fixture
def callee(settings, case):
    c = Callee(settings.codec, case.wire_log, host=settings.suite_host, timeout=settings.timeout)
    yield c
    c.close()


@pytest.mark.spec("SVC-29", "HS-1", "HS-3", "CAN-4")
@pytest.mark.needs("ctx-call")
def test_svc_29_ctx_call_returns_started_and_result(conn, callee, settings):
    """ctx_call connects to the suite, sends its uid (the same as on our connection),
    sends one context command with the ns, func and kwargs given and its own uid
    as caller; once the context started and returned it answers
    [started, "returned", value] (at the latest when its idle time of 0.5 s ends),
    then ends the connection it opened, with nil first (CAN-4)."""
    cid, cmd = ctx_call(conn, callee, idle=0.5)
    must(list(callee.conn.peer_uid) == list(conn.peer_uid),
         f"the IUT's uid is {callee.conn.peer_uid!r} on the connection it opened and "
         f"{conn.peer_uid!r} on ours")
    must(list(cmd[3]) == list(conn.peer_uid), f"the command's caller uid is {cmd[3]!r}")
    callee.start({"s": [1]})
    callee.conn.send({"return": [2, "r"], "cid": callee.cid})
    conn.expect(msgs.ret(cid, [{"s": [1]}, "returned", [2, "r"]]), cid=cid)
    how = callee.conn.closed_within(settings.prompt)
    must(how is not None, "the IUT kept the connection of a finished ctx_call open",
         rid="SVC-29")
    should(None in callee.conn.drained, f"CAN-4: the IUT closed the connection it opened "
                                        f"without nil first ({how})", rid="CAN-4")


@pytest.mark.spec("CTX-7", "SVC-29")
@pytest.mark.needs("ctx-call")
@pytest.mark.parametrize("type_str", ["KeyError", "ContextCancelled"],
                         ids=["error", "unasked-cancelled"])
def test_ctx_7_error_fails_a_caller_context_nobody_reads(conn, callee, settings, type_str):
    """An `error` on a context the IUT called and does not read (ctx_call idles for
    600 s) fails it at once: ctx_call answers promptly with an error naming the
    remote type and text.  A ContextCancelled the IUT did not ask for counts as
    such an error.  The channel we called ctx_call on stays usable."""
    cid, _ = ctx_call(conn, callee, idle=IDLE)
    callee.start("go")
    callee.conn.send({"yield": 1, "cid": callee.cid})     # unread: nobody reads the context
    callee.send_error(type_str, "the callee gives up")
    m = conn.expect(msgs.error(cid), timeout=settings.prompt, cid=cid, rid="CTX-7")
    tb = m["error"].get("tb_str", "")
    must(type_str in tb and "the callee gives up" in tb,
         f"the error ctx_call failed with does not carry the remote {type_str} and its "
         f"text: {short(m)}")
    should(m["error"]["type_str"] in ("RemoteActorError", type_str),
           f"SVC-29: the failure should be RemoteActorError; it is {m['error']['type_str']!r}")
    r = conn.call(SERVICE, "echo", value="after")
    must(r.kind == "return", f"echo after the failed call answered {short(r.final)}")


@pytest.mark.spec("CTX-7", "SVC-29")
@pytest.mark.needs("ctx-call")
def test_ctx_7_cancelled_answering_own_cancel_is_no_failure(conn, callee, settings):
    """When idle ends, ctx_call cancels the context with self._cancel_task on the
    same channel; a ContextCancelled answering that request does not fail the
    call, which answers [started, "cancelled", nil]."""
    cid, _ = ctx_call(conn, callee, idle=0.2)
    callee.start(["s"])
    m = callee.conn.recv(timeout=settings.timeout)
    cmd = m.get("cmd") if isinstance(m, dict) else None
    must(isinstance(cmd, (list, tuple)) and len(cmd) == 5 and
         msgs.same(list(cmd[:3]), ["self", "_cancel_task", {"cid": callee.cid}]),
         f"expected self._cancel_task for cid {callee.cid} once idle ended; got {short(m)}")
    callee.conn.send_many([{"functype": "asyncfunc", "cid": cmd[4]},
                           {"error": {"tb_str": "Traceback...\nContextCancelled: cancelled by "
                                                "its caller\n", "type_str": "ContextCancelled"},
                            "cid": callee.cid},
                           {"return": None, "cid": cmd[4]}])
    conn.expect(msgs.ret(cid, [["s"], "cancelled", None]), timeout=settings.prompt, cid=cid)
