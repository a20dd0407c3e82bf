# SPDX-License-Identifier: AGPL-3.0-or-later
"""Cancellation: `self._cancel_task`, `self.cancel`, and the end of a channel.

protocol.md sections 9 (SELF) and 11 (CAN).  Whether a channel's contexts are
gone after it ended is seen from another channel with the same peer uid: a
command reusing a cid that still names a live context is refused with
MessagingError (CID-10), one whose context was removed is served.
"""
import time

import pytest

from scwire_conform import msgs
from scwire_conform.iut import serves_connections
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import info, must, should
from scwire_conform.wire import SERVICE, link_backlog
from scwire_conform.wirelog import short

CANCELLED_TEXT = "was remotely cancelled by its caller"


def check_context_alive(ctx, echoed_before=0):
    ctx.send_yield("alive?")
    m = ctx.next()
    must(msgs.yield_(ctx.cid, "alive?")(m), f"the context answered {short(m)}, not the echo")
    ctx.send_stop()
    _, _, final = ctx.finish()
    must(msgs.ret(ctx.cid, echoed_before + 1)(final),
         f"expected the context to return {echoed_before + 1}; observed {short(final)}")


def wait_cid_free(conn, cid, settings):
    """Reuse cid for an echo until it is served (its old context removed), at most
    `prompt` seconds once the link has carried what we wrote before; returns the
    seconds it took."""
    t0 = time.monotonic()
    limit = settings.prompt + link_backlog()
    while True:
        conn.command(SERVICE, "echo", {"value": "reuse"}, cid=cid)
        r = conn.result(cid)
        if r.kind == "return":
            return time.monotonic() - t0
        must(r.type_str == "MessagingError", f"reusing cid {cid} got {short(r.final)}")
        must(time.monotonic() - t0 < limit,
             f"the context {cid} of the ended channel still lives after {limit:g} s "
             f"(a command reusing its cid still gets MessagingError)")
        time.sleep(0.05)


@pytest.mark.spec("SELF-4", "SELF-6", "SVC-14", "SELF-1")
def test_self_4_cancelled_context_ends_before_the_cancel_returns(conn):
    """_cancel_task of a ctx_no_stream of this connection ends it with `error`
    ContextCancelled (tb_str: "was remotely cancelled by its caller"), and the
    cancel returns nil only after that error was sent."""
    ctx = conn.open_context(SERVICE, "ctx_no_stream", value="ready")
    must(ctx.started == "ready", f"started carried {short(ctx.started)}, not 'ready'")
    ccid = conn.command("self", "_cancel_task", {"cid": ctx.cid})
    order = []
    while not any(msgs.ret(ccid, None)(m) for m in order):
        m = conn.expect(msgs.functype(ccid, "asyncfunc") | msgs.ret(ccid, None)
                        | msgs.error(ctx.cid, "ContextCancelled", CANCELLED_TEXT))
        order.append(m)
    must(any(msgs.error(ctx.cid)(m) for m in order),
         "the cancel returned before the cancelled context sent its ContextCancelled error")
    conn.expect_quiet(ctx.cid, "nothing after ContextCancelled")


@pytest.mark.spec("SELF-7")
def test_self_7_cancelled_asyncfunc_sends_nothing_more(conn):
    """A sleep_forever cancelled with _cancel_task sends nothing more on its cid; the
    cancel returns nil."""
    cid = conn.command(SERVICE, "sleep_forever")
    conn.expect(msgs.functype(cid, "asyncfunc"))
    r = conn.cancel_task(cid)
    must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    conn.expect_quiet(cid, "nothing after the cancel")


# So many yields that no implementation sends them all before the cancel lands:
# the stream provably still runs when it is cancelled.
ENDLESS = 2 ** 31 - 1
# The least unsent output an IUT may be given (LIM-13: at least the message limit,
# itself at least 64 KiB).
SMALL_OUTPUT = ("--max-frame", "65536", "--max-outbuf", "65536")
# What may still come after the cancel: yields queued before it was read, up to
# twice the output limit (limits.md, LIM-13: 4 MiB) and the sockets' buffers.
QUEUED_BYTES = 10 * 1048576


@pytest.mark.spec("SELF-7")
def test_self_7_cancelled_asyncgen_ends_with_stop(conn):
    """A count(2**31 - 1), far more than it can send before the cancel lands,
    cancelled with _cancel_task while it streams ends with `stop` (after no more
    yields, in order, than 10 MiB of output queued before the cancel was read can
    hold) and the cancel returns nil."""
    stream = conn.open_stream_from(SERVICE, "count", n=ENDLESS)
    ccid = conn.command("self", "_cancel_task", {"cid": stream.cid})
    per_yield = len(conn.codec.encode({"yield": 0, "cid": stream.cid}))
    values, final = stream.collect(limit=QUEUED_BYTES // per_yield)
    must(msgs.stop(stream.cid)(final), f"expected stop; observed {short(final)}")
    must(values == list(range(len(values))), "the yields before the stop were not 0, 1, ...")
    r = conn.result(ccid)
    must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    conn.expect_quiet(stream.cid, "nothing after the stop")
    info(f"{len(values)} yields before the stop")


@pytest.mark.spec("SELF-5", "SEC-7")
@pytest.mark.parametrize("whose", ["unknown", "finished", "other-channel-same-uid",
                                   "other-channel"])
def test_self_5_cancel_of_a_foreign_or_unknown_cid_does_nothing(fresh_conn_factory, whose):
    """_cancel_task for a cid that names no task started on this connection (unknown,
    finished, or started on another channel, even one claiming the same uid)
    returns nil and affects nothing."""
    uuid = new_cid()
    a = fresh_conn_factory(uuid=uuid)
    ctx = a.open_context(SERVICE, "ctx_echo", first=None)
    b = fresh_conn_factory(uuid=uuid if whose == "other-channel-same-uid" else None)
    if whose == "unknown":
        target = new_cid()
    elif whose == "finished":
        target = b.call(SERVICE, "echo", value=1).cid
    else:
        target = ctx.cid
    r = b.cancel_task(target)
    must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    b.expect_quiet(target, "nothing on the target cid")
    check_context_alive(ctx)


@pytest.mark.spec("SELF-3")
@pytest.mark.may_kill
@pytest.mark.parametrize("func,kwargs", [("_cancel_task", {}), ("_cancel_task", {"cid": 5}),
                                         ("_cancel_task", {"cid": "c", "extra": 1}),
                                         ("cancel", {"now": True})],
                         ids=["cancel_task-missing", "cancel_task-int", "cancel_task-extra",
                              "cancel-extra"])
def test_self_3_self_method_kwargs_mismatch_type_error(conn, func, kwargs):
    """An allowed self method called with kwargs that do not fit is answered with one
    `error` TypeError without functype, and runs not (`cancel` does not end the IUT)."""
    r = conn.call("self", func, kwargs)
    must(r.functype is None and r.type_str == "TypeError",
         f"self.{func}({kwargs}) answered functype={r.functype} {short(r.final)}")
    conn.expect_quiet(r.cid, "nothing after the refusal")


@pytest.mark.spec("SELF-8", "SELF-9", "SELF-1")
def test_self_8_cancel_answers_true_then_the_actor_exits(private_iut, fresh_conn_factory,
                                                         settings):
    """self.cancel is answered with `functype asyncfunc` and `return true`; then the
    IUT closes the requesting and every other connection, stops accepting and exits
    promptly."""
    iut = private_iut()
    other = fresh_conn_factory(target=iut)
    other.open_context(SERVICE, "ctx_no_stream", value=None)
    c = fresh_conn_factory(target=iut)
    r = c.call("self", "cancel")
    must(r.functype == "asyncfunc" and r.kind == "return" and r.value is True,
         f"self.cancel answered functype={r.functype} {short(r.final)}")
    for conn in (c, other):
        how = conn.closed_within(settings.prompt)
        must(how is not None, f"{conn.name} still open {settings.prompt:g} s after the cancel")
    rc = iut.wait_exit(settings.prompt)
    must(rc is not None, f"the IUT still runs {settings.prompt:g} s after answering cancel")
    must(not serves_connections(iut.host, iut.port, 0.5 + settings.slack),
         "the IUT's port still accepts connections after the cancel")
    info(f"exit status {rc}")


@pytest.mark.spec("SELF-8", "SELF-6", "SELF-7", "SELF-9")
def test_self_8_tasks_end_before_the_acknowledgement(private_iut, fresh_conn_factory,
                                                    settings):
    """self.cancel sent on a channel that runs a context and a streaming asyncgen:
    whatever final message their cancellation sends (a ContextCancelled, a stop)
    comes before the `return true` (the tasks are cancelled first, then the cancel
    is acknowledged), and nothing of theirs comes after it.  (An IUT that takes the
    bound flags gets the least output bound, 64 KiB, so that the endless stream's
    backlog, which a slow link carries slowly, cannot hold the acknowledgement back
    past the IUT's prompt exit.)"""
    iut = private_iut(*SMALL_OUTPUT if "limits" in settings.caps else ())
    c = fresh_conn_factory(target=iut)
    ctx = c.open_context(SERVICE, "ctx_no_stream", value=None)
    stream = c.open_stream_from(SERVICE, "count", n=ENDLESS)
    ccid = c.command("self", "cancel")
    iut.exit_judged = True       # self.cancel ends the IUT: its exit is this case's
    c.closed_within(settings.timeout)
    ends = {ctx.cid: msgs.error(ctx.cid, "ContextCancelled"), stream.cid: msgs.stop(stream.cid),
            ccid: msgs.ret(ccid, True)}
    order = [(i, cid) for i, m in enumerate(c.drained) for cid, pat in ends.items() if pat(m)]
    seen = [cid for _, cid in order]
    must(seen.count(ccid) == 1, f"self.cancel answered {seen.count(ccid)} `return true`")
    ack = next(i for i, cid in order if cid == ccid)
    late = [m for m in c.drained[ack + 1:] if isinstance(m, dict)
            and m.get("cid") in (ctx.cid, stream.cid)]
    must(not late, f"after self.cancel's `return true`: {', '.join(short(m) for m in late)}; "
                   f"the actor acknowledged before its tasks had ended")
    info("before the acknowledgement: " + (", ".join(
        {ctx.cid: "the context's ContextCancelled", stream.cid: "the stream's stop"}[cid]
        for cid in seen if cid != ccid) or "no final message of the cancelled tasks"))
    must(iut.wait_exit(settings.prompt) is not None,
         f"the IUT still runs {settings.prompt:g} s after answering self.cancel", rid="SELF-9")


@pytest.mark.spec("CAN-5", "CAN-3")
@pytest.mark.no_chop("bulk: 2 MB of echoes left unread")
def test_can_5_tasks_end_at_eof_though_output_is_left_unsent(fresh_conn_factory, settings):
    """A channel that ends with its half-close (FIN) while 2 MB of its echoes are still
    unsent (we do not read them) has its tasks cancelled at once, not when that
    output is finally flushed or dropped: another channel of the same uid can
    reuse the cid of its sleep_forever promptly."""
    uuid = new_cid()
    a = fresh_conn_factory(uuid=uuid)
    cid = a.command(SERVICE, "sleep_forever")
    a.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    a.send_many([{"cmd": [SERVICE, "echo", {"value": "u" * 65536}, list(a.uid), new_cid()]}
                 for _ in range(32)])
    b = fresh_conn_factory(uuid=uuid)
    # We never read a: whatever of the echoes the IUT answered is unsent output.
    a.shutdown_write()
    took = wait_cid_free(b, cid, settings)
    info(f"the task ended {took:.3f} s after the FIN, its channel's output still unread")


@pytest.mark.spec("CAN-1", "CAN-2")
def test_can_1_nil_ends_the_channel(conn, settings):
    """On nil the IUT stops reading the channel (a command written right after the nil
    is not run), closes the connection, and should answer nil first."""
    conn.open_context(SERVICE, "ctx_no_stream", value=None)
    after = new_cid()
    conn.send_many([None, {"cmd": [SERVICE, "echo", {"value": 1}, list(conn.uid), after]}])
    how = conn.closed_within(settings.prompt)
    must(how is not None, f"the connection is still open {settings.prompt:g} s after nil")
    ran = [m for m in conn.drained if isinstance(m, dict) and m.get("cid") == after]
    must(not ran, f"the command sent after nil was run: {', '.join(short(m) for m in ran)}")
    should(None in conn.drained, f"CAN-2: no nil came back before the close "
                                 f"(got {', '.join(short(m) for m in conn.drained) or 'nothing'})")


@pytest.mark.spec("CAN-3", "CAN-5")
@pytest.mark.parametrize("end", ["close", "reset", "nil", "codec-error"])
def test_can_5_ended_channel_tasks_removed(fresh_conn_factory, settings, end):
    """When a channel ends (FIN, RST or nil from us, or a codec error that makes the IUT
    close it while we leave our socket open) its tasks are cancelled and their
    contexts removed promptly: another channel with the same uid can then reuse
    their cids."""
    uuid = new_cid()
    a = fresh_conn_factory(uuid=uuid)
    cids = [a.open_context(SERVICE, "ctx_no_stream", value=None).cid,
            a.open_context(SERVICE, "ctx_echo", first=None).cid]
    cid = a.command(SERVICE, "sleep_forever")
    a.expect(msgs.functype(cid, "asyncfunc"))
    cids.append(cid)
    b = fresh_conn_factory(uuid=uuid)
    b.command(SERVICE, "echo", {"value": 1}, cid=cids[0])
    r = b.result(cids[0])
    must(r.type_str == "MessagingError",
         f"while the first channel lives, reusing its context's cid should be refused "
         f"(CID-10), got {short(r.final)}", rid="CID-10")
    if end == "codec-error":
        a.send_body(b"\xc1", note="the never-used byte 0xc1: the IUT ends the channel")
    else:
        if end == "nil":
            a.send(None)
        (a.abort if end == "reset" else a.close)()
    took = max(wait_cid_free(b, c, settings) for c in cids)
    info(f"contexts removed {took:.3f} s after the channel ended")
