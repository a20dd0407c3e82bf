# SPDX-License-Identifier: AGPL-3.0-or-later
"""Streams inside a context: delivery, stop, order (protocol.md sections 3, 4, 6)."""
import pytest

from scwire_conform import msgs
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import must
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short


@pytest.mark.spec("CTX-2")
def test_ctx_2_yields_accepted_before_the_stream_is_opened(conn):
    """Yields sent to ctx_no_stream, which never opens its stream, are accepted while
    they fit its buffer: nothing comes back, and the context can still be cancelled."""
    ctx = conn.open_context(SERVICE, "ctx_no_stream", value="ready")
    for i in range(10):
        ctx.send_yield(i)
    conn.expect_quiet(ctx.cid, "nothing back for 10 buffered yields")
    r = conn.cancel_task(ctx.cid)
    must(r.kind == "return", f"_cancel_task answered {short(r.final)}")


@pytest.mark.spec("CTX-3", "CID-8")
def test_ctx_3_stop_after_all_earlier_yields(conn):
    """Ten yields and a stop written in one segment: the echo of all ten arrives, in
    order, before the context's stop and a return of 10."""
    ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
    conn.send_many([{"yield": i, "cid": ctx.cid} for i in range(10)]
                   + [{"stop": True, "cid": ctx.cid}])
    values, stops, final = ctx.finish()
    must(values == list(range(10)), f"expected echoes 0..9; observed {short(values)}")
    must(msgs.ret(ctx.cid, 10)(final), f"expected return 10; observed {short(final)}")


@pytest.mark.spec("CTX-4")
def test_ctx_4_repeated_stop_is_harmless(conn):
    """A second and third stop after the first change nothing and get no reply: the
    context returns the count once and nothing more is sent on its cid."""
    ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
    ctx.send_yield("a")
    ctx.next()
    conn.send_many([{"stop": True, "cid": ctx.cid}] * 3)
    _, _, final = ctx.finish()
    must(msgs.ret(ctx.cid, 1)(final), f"expected return 1; observed {short(final)}")
    conn.expect_quiet(ctx.cid, "nothing after the return")


@pytest.mark.spec("CTX-5")
@pytest.mark.parametrize("func,kwargs", [("ctx_stream_out", {"n": 50}),
                                         ("ctx_echo", {"first": None})])
def test_ctx_5_no_yield_after_own_stop(conn, func, kwargs):
    """The IUT never sends a yield on a cid after it sent stop on it."""
    ctx = conn.open_context(SERVICE, func, kwargs)
    if func == "ctx_echo":
        conn.send_many([{"yield": i, "cid": ctx.cid} for i in range(50)]
                       + [{"stop": True, "cid": ctx.cid}])
    ctx.finish()   # fails on a yield after a stop
    conn.expect_quiet(ctx.cid, "nothing after the return")


@pytest.mark.spec("MSG-5")
def test_msg_5_key_order_does_not_matter(conn):
    """Messages whose keys come in another order than tractor's (cid first) are
    understood: the whole ctx_echo conversation works with reversed keys."""
    cid = new_cid()
    conn.send({"cmd": [SERVICE, "ctx_echo", {"first": 1}, list(conn.uid), cid]})
    conn.expect(msgs.functype(cid, "context"))
    conn.expect(msgs.started(cid, 1))
    conn.send({"cid": cid, "yield": {"b": 2, "a": 1}})
    conn.expect(msgs.yield_(cid, {"a": 1, "b": 2}))
    conn.send({"cid": cid, "stop": True})
    while msgs.kind(conn.expect(msgs.stop(cid) | msgs.ret(cid, 1))) != "return":
        pass
