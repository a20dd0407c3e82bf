# SPDX-License-Identifier: AGPL-3.0-or-later
"""Malformed and hostile input (protocol.md section 13, SEC; section 9, SELF-2).

Every case here runs its bad input inside the `hostile` frame (bystander.py):
a sanity echo on a fresh connection first and last, a bystander channel that
streams numbered yields through ctx_echo and reads their echoes the whole
time, and the blast-radius grade of the outcome: *message rejected* (the
hostile connection still answers an echo), *connection closed*, or *actor
down* (the IUT exited, refuses or does not serve fresh connections, or cut
the bystander), which always fails (SEC-1).  The bystander must lose nothing,
see its echoes in order and none later than promptly (SEC-2).  The grade is
in each case's observation, next to what tractor 0.1.0a4 does; with
--expect-profile tractor the case is judged by the latter.

`test_sec_8_malformed_input_table` walks the table of section 13 row by row
(it includes the malformed-packet table of the tractor notes); the other
cases go wider: every wrong type in every field of every message kind, a
flood of unknown cids, a storm of 2000 commands, a storm of connect-and-drop.
"""
import math
import time

import pytest

from scwire_conform import mpk, msgs
from scwire_conform.bystander import CLOSED, DOWN, HUNG, REJECTED, SERVED
from scwire_conform.codec import HEADER
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import Violation, info, must, robust, should
from scwire_conform.wire import SERVICE, Closed, Timeout, carry_time
from scwire_conform.wirelog import short

UID = ["scwire-conform", "00000000-0000-4000-8000-000000000000"]
ERROR_MAP = {"tb_str": "Traceback...\nValueError: from the peer\n", "type_str": "ValueError"}
CANCELLED = "was remotely cancelled by its caller"


def cmd(c, ns, func, kwargs, cid=None):
    return {"cmd": [ns, func, kwargs, list(c.uid), cid or new_cid()]}



def slowest_echo(c, n, when):
    """n echoes on c, each answered with its value: the slowest round trip."""
    worst = 0.0
    for i in range(n):
        t0 = time.monotonic()
        r = c.call(SERVICE, "echo", value=i)
        worst = max(worst, time.monotonic() - t0)
        must(r.kind == "return" and r.value == i, f"{when}: echo {i} answered {short(r.final)}")
    return worst

# --- row checks (run after the grading) -------------------------------------

def quiet(h, c, what, cid=None):
    """A rejected message gets no reply (on cid, if given); a closed connection
    at most nil before the close."""
    def check():
        got = [m for m in h.replies(c) if cid is None or (isinstance(m, dict)
                                                          and m.get("cid") == cid)]
        if h.grade_of(c) == CLOSED:
            got = [m for m in got if m is not None]
            must(not got, f"{what}: expected at most nil before the close; observed "
                          + ", ".join(short(m) for m in got))
        else:
            must(not got, f"{what}: expected no reply; observed "
                          + ", ".join(short(m) for m in got))
    h.check(check)


def one_error(h, c, cid, type_str, what):
    """Exactly one `error` type_str on cid, no functype, nothing else on cid."""
    def check():
        got = [m for m in h.replies(c) if isinstance(m, dict) and m.get("cid") == cid]
        c.take_unread(cid)          # taken: later checks read on from here
        if not got and h.grade_of(c) != CLOSED:
            try:
                got = [c.expect(msgs.error(cid), timeout=0.5 + h.settings.slack, cid=cid)]
            except Violation:
                pass
        must(len(got) == 1 and msgs.error(cid, type_str)(got[0]),
             f"{what}: expected exactly one error {type_str} on the cid and no functype; "
             f"observed {', '.join(short(m) for m in got) or 'nothing'}")
    h.check(check)


def context_alive(h, ctx, echoed=0, what="the context"):
    """The live context on the hostile connection still echoes and returns."""
    def check():
        ctx.send_yield("alive?")
        m = ctx.next()
        must(msgs.yield_(ctx.cid, "alive?")(m), f"{what} answered {short(m)}, not the echo")
        ctx.send_stop()
        _, _, final = ctx.finish()
        must(msgs.ret(ctx.cid, echoed + 1)(final),
             f"{what}: expected return {echoed + 1}; observed {short(final)}")
    h.check(check)


def context_ends_with_error(h, c, ctx, settings, what, not_type=None):
    """The context ends promptly with one error (its type not `not_type`)."""
    def check():
        m = c.expect(msgs.error(ctx.cid), timeout=settings.prompt, cid=ctx.cid)
        if not_type:
            must(m["error"]["type_str"] != not_type,
                 f"{what}: the context's error is {not_type}: {short(m)}")
    h.check(check)


# --- the table of protocol.md section 13 ------------------------------------

class Row:
    """A row of the table; `req` is the requirement its allowed outcomes come from,
    when it is not SEC-8 itself."""

    def __init__(self, rid, text, allowed, tractor=None, *, run, codec=None, flags=None,
                 not_registry=False, req=None):
        self.rid, self.text, self.allowed, self.tractor = rid, text, tuple(allowed), tractor
        self.run, self.codec, self.flags = run, codec, flags
        self.not_registry, self.req = not_registry, req

    def param(self):
        marks = [pytest.mark.tractor_kills] if self.tractor == DOWN else []
        return pytest.param(self, id=self.rid, marks=marks)


ROWS = []


def row(rid, text, allowed, tractor=None, **kw):
    def deco(fn):
        ROWS.append(Row(rid, text, allowed, tractor, run=fn, **kw))
        return fn
    return deco


REJECTED_OR_CLOSED = (REJECTED, CLOSED)


@row("01-unknown-cids", "yield, return, stop and error with unknown cids", (REJECTED,), REJECTED)
def _r01(h, s):
    c = h.conn()
    c.send_many([{"yield": 1, "cid": new_cid()}, {"return": 1, "cid": new_cid()},
                 {"stop": True, "cid": new_cid()}, {"error": ERROR_MAP, "cid": new_cid()}])
    quiet(h, c, "messages for unknown cids")


@row("02-int-cid", "a map whose cid is an integer, no cmd", (REJECTED,), REJECTED)
def _r02(h, s):
    c = h.conn()
    c.send_many([{"yield": 1, "cid": 5}, {"stop": True, "cid": 7}])
    quiet(h, c, "an integer cid")


@row("03-empty-cid", "a map whose cid is \"\" or nil, no cmd", (REJECTED,), DOWN)
def _r03(h, s):
    c = h.conn()
    c.send_many([{"yield": 1, "cid": ""}, {"stop": True, "cid": None}])
    quiet(h, c, "an absent cid")


@row("04-cid-and-cmd", "a map with a present cid and a cmd", (REJECTED,), REJECTED)
def _r04(h, s):
    c = h.conn()
    cmd_cid = new_cid()
    c.send({**cmd(c, SERVICE, "echo", {"value": "must not run"}, cmd_cid), "cid": new_cid()})
    quiet(h, c, "a map with cid and cmd (its cmd must not run)")


@row("05-not-exposed", "cmd for a namespace that is not exposed", (REJECTED,), REJECTED)
def _r05(h, s):
    c = h.conn()
    m = cmd(c, "scwire_absent", "echo", {"value": 1})
    c.send(m)
    one_error(h, c, m["cmd"][4], "ModuleNotExposed", "an unexposed namespace")


@row("06-unknown-function", "cmd for an unknown function", (REJECTED,), REJECTED)
def _r06(h, s):
    c = h.conn()
    m = cmd(c, SERVICE, "no_such_function", {})
    c.send(m)
    one_error(h, c, m["cmd"][4], "AttributeError", "an unknown function")


@row("07-bad-kwargs", "cmd with kwargs that do not fit", (REJECTED,), REJECTED)
def _r07(h, s):
    c = h.conn()
    m = cmd(c, SERVICE, "echo", {"wrong": 1})
    c.send(m)
    one_error(h, c, m["cmd"][4], "TypeError", "kwargs that do not fit")


@row("08-nil", "nil", (CLOSED,), CLOSED)
def _r08(h, s):
    c = h.conn()
    c.send(None)
    quiet(h, c, "nil")


@row("09-truncated-then-close", "a truncated message, then close", (SERVED,), SERVED)
def _r09(h, s):
    c = h.conn()
    data = c.codec.encode(cmd(c, SERVICE, "echo", {"value": "x" * 100}))
    c.send_raw(data[:len(data) // 2], note="half a command")
    c.close()
    h.dropped(c)


@row("10-self-unknown", "cmd [\"self\", \"no_such_method\", ...]", (REJECTED,), DOWN)
def _r10(h, s):
    c = h.conn()
    m = cmd(c, "self", "no_such_method", {})
    c.send(m)
    one_error(h, c, m["cmd"][4], "AttributeError", "self.no_such_method")


@row("11-self-cancel_rpc_tasks", "cmd self.cancel_rpc_tasks", (REJECTED,), REJECTED)
def _r11a(h, s):
    c = h.conn()
    m = cmd(c, "self", "cancel_rpc_tasks", {})
    c.send(m)
    one_error(h, c, m["cmd"][4], "AttributeError", "self.cancel_rpc_tasks")


@row("11-self-_from_parent", "cmd self._from_parent", (REJECTED,))
def _r11b(h, s):
    c = h.conn()
    m = cmd(c, "self", "_from_parent", {"parent_addr": ["127.0.0.1", 9]})
    c.send(m)
    one_error(h, c, m["cmd"][4], "AttributeError", "self._from_parent")


@row("12-register-on-non-registry", "cmd self.register_actor to an actor that is not a "
     "registry", (REJECTED,), DOWN, not_registry=True)
def _r12(h, s):
    c = h.conn()
    m = cmd(c, "self", "register_actor", {"uid": UID, "sockaddr": ["127.0.0.1", 9]})
    c.send(m)
    one_error(h, c, m["cmd"][4], "AttributeError", "self.register_actor on a non-registry")


def _bad_uid(value):
    def run(h, s):
        c = h.conn(handshake=False)
        c.send(value)
        quiet(h, c, f"the uid {short(value)}")
    return run


row("13-uid-42", "handshake answered with 42", (CLOSED,), DOWN)(_bad_uid(42))
row("14-uid-nil", "handshake answered with nil", (CLOSED,), DOWN)(_bad_uid(None))
row("14-uid-empty-array", "handshake answered with []", (CLOSED,), DOWN)(_bad_uid([]))
row("14-uid-one-item", "handshake answered with [\"x\"]", (CLOSED,), DOWN)(_bad_uid(["x"]))
row("14-uid-map", "handshake answered with a map", (CLOSED,), DOWN)(
    _bad_uid({"name": "x", "uuid": "y"}))
row("15-uid-str", "handshake answered with the str \"ab\"", (CLOSED,), SERVED, req="HS-6")(
    _bad_uid("ab"))
row("15-uid-int-name", "handshake answered with [5, \"u\"]", (CLOSED,), SERVED, req="HS-6")(
    _bad_uid([5, "u"]))


def _drop(how, partial):
    def run(h, s):
        c = h.conn(handshake=False)
        if partial:
            c.send_raw(c.codec.encode(["scwire-conform", new_cid()])[:5], note="part of a uid")
        (c.abort if how == "reset" else c.close)()
        h.dropped(c)
    return run


row("16-connect-close", "connect, then close without sending", (SERVED,), SERVED)(
    _drop("close", False))
row("16-connect-reset", "connect, then reset without sending", (SERVED,), SERVED)(
    _drop("reset", False))


@row("17-silent-peer", "connect and never send the uid (handshake timeout 1 s)", (CLOSED,),
     HUNG, flags=("--handshake-timeout", "1"))
def _r17(h, s):
    c = h.conn(handshake=False)
    c.closed_within(1 + s.prompt)


def _post(value, note=None):
    def run(h, s):
        c = h.conn()
        c.send(value)
        quiet(h, c, note or short(value))
    return run


row("18-int-42", "the integer 42 as a message", REJECTED_OR_CLOSED, DOWN)(_post(42))
row("19-no-cmd-no-cid", "{\"foo\": 1}: neither cmd nor cid", REJECTED_OR_CLOSED, DOWN)(
    _post({"foo": 1}))
row("20-error-without-cid", "an error without cid from a peer that is not a child",
    REJECTED_OR_CLOSED, DOWN)(_post({"error": ERROR_MAP}))
row("21-cmd-four-items", "cmd array of four items", REJECTED_OR_CLOSED, DOWN)(
    _post({"cmd": [SERVICE, "echo", {"value": 1}, UID]}))
row("22-cmd-cid-map", "cmd of five items whose cid is a map", REJECTED_OR_CLOSED, DOWN)(
    _post({"cmd": [SERVICE, "echo", {"value": 1}, UID, {"c": 1}]}))
# tractor serves these, answering on the cid as given (measured with iut/tractor).
row("22-cmd-cid-int", "cmd of five items whose cid is an int", REJECTED_OR_CLOSED, REJECTED,
    req="SEC-3")(
    _post({"cmd": [SERVICE, "echo", {"value": 1}, UID, 5]}))
row("22-cmd-cid-empty", "cmd of five items whose cid is \"\"", REJECTED_OR_CLOSED, REJECTED,
    req="SEC-3")(
    _post({"cmd": [SERVICE, "echo", {"value": 1}, UID, ""]}))


def _messaging_error(ns, func, kwargs):
    def run(h, s):
        c = h.conn()
        m = cmd(c, ns, func, kwargs)
        c.send(m)
        one_error(h, c, m["cmd"][4], "MessagingError", f"cmd {ns}.{func} with {short(kwargs)}")
    return run


row("23-kwargs-array", "cmd with kwargs not a map", (REJECTED,), REJECTED, req="SEC-4")(
    _messaging_error(SERVICE, "echo", [1]))
row("23-ns-int", "cmd whose ns is an int", (REJECTED,), REJECTED, req="SEC-4")(
    _messaging_error(5, "echo", {"value": 1}))
row("23-cancel_task-kwargs-array", "self._cancel_task with kwargs not a map", (REJECTED,),
    DOWN)(_messaging_error("self", "_cancel_task", ["c"]))
row("23-context-kwargs-array", "a context function with kwargs not a map", (REJECTED,),
    DOWN)(_messaging_error(SERVICE, "ctx_echo", ["c"]))


@row("24-reused-live-cid", "cmd reusing the cid of a live context", (REJECTED,), REJECTED,
     req="CID-10")
def _r24(h, s):
    c = h.conn()
    ctx = c.open_context(SERVICE, "ctx_echo", first=None)
    c.send(cmd(c, SERVICE, "echo", {"value": 1}, ctx.cid))
    one_error(h, c, ctx.cid, "MessagingError", "a command reusing a live cid")
    context_alive(h, ctx, what="the live context whose cid was reused")


def _into_context(bad, kind):
    def run(h, s):
        c = h.conn(usable=SERVED if kind == "served" else REJECTED)
        ctx = c.open_context(SERVICE, "ctx_no_stream" if kind == "served" else "ctx_echo",
                             {"value": None} if kind == "served" else {"first": None})
        c.send({**bad, "cid": ctx.cid})
        if kind == "served":
            context_ends_with_error(h, c, ctx, s, f"{short(bad)} into a live context")
        else:
            quiet(h, c, f"{short(bad)} into a live context", cid=ctx.cid)
            context_alive(h, ctx)
    return run


row("25-error-not-a-map", "an error for a live context whose value is not a map",
    (REJECTED,), DOWN)(_into_context({"error": 5}, "rejected"))
row("25-error-without-type_str", "an error for a live context without type_str",
    (REJECTED,), DOWN)(_into_context({"error": {"tb_str": "x"}}, "rejected"))
row("26-error-without-tb_str", "an error for a live context without tb_str", (SERVED,),
    DOWN)(_into_context({"error": {"type_str": "ValueError"}}, "served"))
row("27-error-key-message", "an error map with a key `message`", (SERVED,), DOWN)(
    _into_context({"error": {**ERROR_MAP, "message": "m"}}, "served"))
row("27-error-key-suberror_type", "an error map with a key `suberror_type`", (SERVED,),
    DOWN)(_into_context({"error": {**ERROR_MAP, "suberror_type": "X"}}, "served"))
row("27-error-int-key", "an error map with a non-str key", (SERVED,), DOWN)(
    _into_context({"error": {**ERROR_MAP, 5: "five"}}, "served"))
row("28-no-kind-key", "a routed message for a live context with no kind key", (REJECTED,),
    REJECTED, req="SEC-5")(_into_context({"x": 1}, "rejected"))


def _body(raw, allowed_note, partial=False):
    """Send raw as one message body.  A partial message (a header promising more) is
    not probed afterwards: the probe's bytes would only continue it; the connection
    is graded closed, or hung when the IUT keeps waiting for the rest."""
    def run(h, s):
        c = h.conn(probe=not partial, usable=HUNG if partial else None)
        c.send_body(raw, note=allowed_note)
        if partial:
            c.closed_within(s.prompt)
        quiet(h, c, allowed_note)
    return run


row("29-byte-c1", "the byte c1 (never valid msgpack)", (CLOSED,), DOWN)(
    _body(b"\xc1", "the byte c1"))
row("29-bytes-c1c1c1", "c1 c1 c1 (tractor notes, section 9)", (CLOSED,), DOWN)(
    _body(b"\xc1\xc1\xc1", "the bytes c1 c1 c1"))
row("30-invalid-utf8", "a str holding invalid UTF-8 (a1 ff)", (CLOSED,), DOWN)(
    _body(b"\xa1\xff", "a str holding ff"))
row("31-map-as-key", "a map used as a map key (81 81 01 02 03)", REJECTED_OR_CLOSED, DOWN)(
    _body(bytes.fromhex("8181010203"), "a map keyed by a map"))
row("32-nesting-100", "100 nested arrays, then nil", (CLOSED,), DOWN)(
    _body(b"\x91" * 100 + b"\xc0", "100 nested arrays"))


@row("33-oversized", "a message over the size limit (made of small strs)", (CLOSED,), HUNG)
def _r33(h, s):
    # With msgpack only the first limit + 1000 bytes go: a partial message, which is
    # not probed (the probe's bytes would continue it).
    c = h.conn(probe=False, usable=HUNG)
    limit = h.max_frame
    n = (limit + 4096) // 29      # strs of 29 bytes: the message ends well past the limit
    value = mpk.array([mpk.str_("s" * 28) for _ in range(n)], 32)
    body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), value)]), c.uid, new_cid())
    data = body[:limit + 1000] if c.codec.name == "msgpack" else c.codec.frame(body)
    try:
        for i in range(0, len(data), 65536):
            c.send_raw(data[i:i + 65536], note=f"bytes {i}.. of {len(data)} of a "
                                                 f"{len(body)}-byte message")
    except Closed:
        pass
    c.closed_within(s.prompt)


row("34-map32-huge", "map32 header claiming 268 435 455 entries", (CLOSED,))(
    _body(bytes.fromhex("df0fffffff") + b"\xc0" * 4, "df 0f ff ff ff and 4 bytes", True))
row("35-array32-huge", "array32 header claiming 2^32 - 1 entries", (CLOSED,))(
    _body(bytes.fromhex("ddffffffff") + b"\xc0" * 4, "dd ff ff ff ff and 4 bytes", True))


def _raw(data, note, drop=False, partial=False):
    def run(h, s):
        c = h.conn(probe=not partial, usable=HUNG if partial else None)
        c.send_raw(data, note=note)
        if drop:
            c.close()
            h.dropped(c)
            return
        if partial:
            c.closed_within(s.prompt)
        quiet(h, c, note)
    return run


LP = "lenprefix"
row("36-header-4GiB", "lenprefix: a header announcing 2^32 - 1 bytes", (CLOSED,), codec=LP)(
    _raw(b"\xff\xff\xff\xff\x81", "header ff ff ff ff", partial=True))
row("37-trailing-bytes", "lenprefix: a frame with bytes after its object", (CLOSED,),
    codec=LP)(_raw(HEADER.pack(2) + b"\xc0\xc0", "a frame of nil and one more byte"))
row("37-empty-frame", "lenprefix: an empty frame", (CLOSED,), codec=LP)(
    _raw(HEADER.pack(0), "an empty frame"))
row("38-two-bad-frames", "lenprefix: two undecodable frames", (CLOSED,), DOWN, codec=LP)(
    _raw((HEADER.pack(1) + b"\xc1") * 2, "two frames holding c1"))
row("39-close-mid-body", "lenprefix: a header, then close in the middle of the body",
    (SERVED,), DOWN, codec=LP)(
    _raw(HEADER.pack(100) + b"\x81" + b"\xa1x" * 4, "10 of 100 announced bytes", drop=True))


@row("40-overrun", "100 unread messages into a context with no stream", (SERVED,), SERVED)
def _r40(h, s):
    c = h.conn(usable=SERVED)
    ctx = c.open_context(SERVICE, "ctx_no_stream", value=None)
    c.send_many([{"yield": i, "cid": ctx.cid} for i in range(100)])

    def check():
        got = [m for m in h.replies(c) if isinstance(m, dict) and m.get("cid") == ctx.cid]
        c.take_unread(ctx.cid)
        while len(got) < 36:
            try:
                got.append(c.expect(msgs.error(ctx.cid), timeout=s.prompt, cid=ctx.cid))
            except Violation:
                break
        bad = [m for m in got if not msgs.error(ctx.cid, "StreamOverrun")(m)]
        must(len(got) == 36 and not bad, f"expected exactly 36 StreamOverrun errors; observed "
                                         f"{len(got)} messages, {len(bad)} of another kind")
        c.expect_quiet(ctx.cid, "no 37th StreamOverrun")
    h.check(check)


@row("41-error-into-full-buffer", "an error into a context whose buffer is full", (SERVED,),
     SERVED, req="OVR-5")
def _r41(h, s):
    c = h.conn(usable=SERVED)
    ctx = c.open_context(SERVICE, "ctx_no_stream", value=None)
    c.send_many([{"yield": i, "cid": ctx.cid} for i in range(64)]
                + [{"error": ERROR_MAP, "cid": ctx.cid}])
    context_ends_with_error(h, c, ctx, s, "an error into a full buffer", not_type="StreamOverrun")


@row("42-flood-backpressured", "500 yields into a backpressured context that reads one per "
     "50 ms", (SERVED, HUNG), HUNG)
def _r42(h, s):
    c = h.conn(usable=SERVED)
    ctx = c.open_context(SERVICE, "ctx_slow_sink", delay=0.05, backpressure=True)
    c.send_many([{"yield": i, "cid": ctx.cid} for i in range(500)])

    def check():
        should(h.grade_of(c) == SERVED, "OVR-7: an echo beside the backpressured context "
                                        "should be served (the flood stays within the parking)")
        if h.grade_of(c) == SERVED:
            r = c.cancel_task(ctx.cid)
            must(r.kind == "return", f"_cancel_task of the sink answered {short(r.final)}")
    h.check(check)


@row("43-cancel-foreign-cid", "_cancel_task naming the bystander's context (another "
     "connection)", (SERVED,), SERVED)
def _r43(h, s):
    c = h.conn(usable=SERVED)
    r = c.cancel_task(h.bystander.ctx_cid)
    must(r.kind == "return" and r.value is None,
         f"_cancel_task of another connection's context answered {short(r.final)}")


@row("44-too-many-contexts", "more contexts on one channel than the limit (256)",
     (SERVED,), flags=("--max-contexts", "256"))
def _r44(h, s):
    c = h.conn(usable=SERVED, probe=False)
    cids = [new_cid() for _ in range(256)]
    c.send_many([cmd(c, SERVICE, "sleep_forever", {}, cid) for cid in cids])
    for cid in cids:
        c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    extra = c.command(SERVICE, "echo", {"value": 1})
    c.expect(msgs.error(extra, "TooManyContexts"), cid=extra)


@row("45-too-many-connections", "more connections than the limit (64)", (CLOSED,),
     flags=("--max-conns", "64"))
def _r45(h, s):
    fillers = []
    deadline = time.monotonic() + s.timeout
    while len(fillers) < 63:           # the bystander holds the 64th
        f = h.factory(target=h.target, handshake=False)
        try:
            f.handshake()
            fillers.append(f)
        except (Violation, Closed, OSError):
            f.close()              # a connection closed a moment ago still counted
            must(time.monotonic() < deadline, "could not open 63 connections beside the "
                                              "bystander under a limit of 64")
            time.sleep(0.01)
    c = h.conn(handshake=False)
    try:
        c.send_uid()
    except Closed:
        pass
    c.closed_within(s.prompt)
    for f in fillers:
        f.close()
    # Let the count drop before the sanity echo at the end.
    while True:
        probe = h.factory(target=h.target, handshake=False)
        try:
            probe.handshake()
            probe.close()
            return
        except (Violation, Closed, OSError):
            probe.close()
            must(time.monotonic() < deadline + s.prompt,
                 "no new connection is accepted after the others closed")
            time.sleep(0.02)


@row("46-never-reads", "a peer that sends requests and never reads the replies", (SERVED,),
     flags=("--max-outbuf", "1048576"))
def _r46(h, s):
    c = h.conn(usable=SERVED)
    value = "z" * 100_000
    reqs = [c.codec.encode(cmd(c, SERVICE, "echo", {"value": value})) for _ in range(200)]
    size, data = len(reqs[0]), b"".join(reqs)
    sent = c.send_while_accepted(data, idle=0.5)
    must(sent < len(data), f"the IUT took all {sent} bytes from a peer that reads nothing")
    whole, part = divmod(sent, size)
    got = 0
    while got < whole:
        if msgs.kind(c.recv(timeout=s.timeout)) == "return":
            got += 1
    if part:
        c.send_raw(data[sent:(whole + 1) * size], note="the rest of the last request")
        while msgs.kind(c.recv(timeout=s.timeout)) != "return":
            pass
    h.note(f"the IUT took {sent} of {len(data)} bytes before pausing")


@pytest.mark.spec("SEC-8", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("r", [x.param() for x in ROWS])
def test_sec_8_malformed_input_table(r, hostile, settings, private_iut):
    """Each input of the table of protocol.md section 13 (which includes the
    malformed-packet table of the tractor notes) gets an outcome the table allows
    for it, while a bystander channel streams echoes undisturbed; the IUT is never
    brought down."""
    if r.codec and settings.codec != r.codec:
        pytest.skip(f"row {r.rid} is about the {r.codec} codec; this run uses {settings.codec}")
    if r.not_registry and settings.registry:
        pytest.skip("the IUT is configured as a registry, where this method is served")
    target = private_iut(*r.flags) if r.flags else None
    max_frame = 1048576     # the reference default (limits.md), unless a small IUT is had
    if r.rid.startswith("33") and "limits" in settings.caps and settings.iut_cmd:
        target, max_frame = private_iut("--max-frame", "65536"), 65536
    h = hostile(target=target, allowed=r.allowed, tractor=r.tractor, rid=r.req)
    h.max_frame = max_frame
    with h:
        h.note(f"row {r.rid}: {r.text}")
        r.run(h, settings)


# --- every wrong type in every field of every message kind ------------------

WRONG = {"int": 5, "nil": None, "true": True, "float": 1.5, "bin": b"x", "array": ["x"],
         "map": {"x": 1}, "str": "s"}


def wrong(*exclude, extra=()):
    return [(k, v) for k, v in WRONG.items() if k not in exclude] + list(extra)


# (kind, field): (wrong values, allowed grades, what the row checks)
FIELDS = {
    ("cmd", "ns"): (wrong("str"), (REJECTED,), "messaging-error"),
    ("cmd", "func"): (wrong("str"), (REJECTED,), "messaging-error"),
    ("cmd", "kwargs"): (wrong("map", extra=[("int-key", {1: 1}), ("bin-key", {b"k": 1})]),
                        (REJECTED,), "messaging-error"),
    ("cmd", "caller_uid"): (wrong("array", extra=[("one-str", ["x"]), ("ints", [1, 2]),
                                                  ("str-and-int", ["a", 5])]),
                            (REJECTED,), "messaging-error"),
    ("cmd", "cid"): (wrong("str", extra=[("empty-str", ""), ("empty-array", [])]),
                     REJECTED_OR_CLOSED, "quiet"),
    ("uid", "name"): (wrong("str"), (CLOSED,), "quiet"),
    ("uid", "uuid"): (wrong("str"), (CLOSED,), "quiet"),
    ("yield", "cid"): (wrong("str"), (REJECTED,), "quiet"),
    ("stop", "stop"): (wrong("true", extra=[("false", False), ("zero", 0)]),
                       REJECTED_OR_CLOSED, "none"),
    ("stop", "cid"): (wrong("str"), (REJECTED,), "quiet"),
    ("error", "error"): (wrong("map"), (REJECTED,), "quiet-alive"),
    ("error", "type_str"): (wrong("str", extra=[("empty-str", "")]), (REJECTED,), "none"),
    ("error", "tb_str"): (wrong("str"), REJECTED_OR_CLOSED, "none"),
    ("error", "cid"): (wrong("str"), (REJECTED,), "quiet"),
    ("return", "return"): (wrong(), (REJECTED,), "quiet-alive"),
    ("return", "cid"): (wrong("str"), (REJECTED,), "quiet"),
    ("started", "started"): (wrong(), (REJECTED,), "quiet-alive"),
    ("started", "cid"): (wrong("str"), (REJECTED,), "quiet"),
    ("functype", "functype"): (wrong(extra=[("unknown-str", "asyncfoo")]), (REJECTED,),
                               "quiet-alive"),
    ("functype", "cid"): (wrong("str"), (REJECTED,), "quiet"),
}
def field_rid(kind, field):
    """The requirement a wrong type in that field is judged by."""
    if kind == "uid":
        return "HS-6"
    if kind == "cmd":
        return "SEC-3" if field == "cid" else "SEC-4"
    if field == "cid":
        return "CID-6"
    # A return, started or functype from the caller is unexpected in a context
    # whatever it holds.
    return "CTX-8" if kind in ("return", "started", "functype") else "SEC-5"


KIND_TEXT = {"cmd": "a command", "uid": "the handshake uid", "yield": "a yield",
             "stop": "a stop", "error": "an error", "return": "a return",
             "started": "a started", "functype": "a functype"}


def build(kind, field, value, c, ctx_cid):
    """The message of `kind` with `field` set to value (live context ctx_cid)."""
    if kind == "cmd":
        parts = {"ns": SERVICE, "func": "echo", "kwargs": {"value": 1},
                 "caller_uid": list(c.uid or UID), "cid": new_cid()}
        parts[field] = value
        return {"cmd": [parts[k] for k in ("ns", "func", "kwargs", "caller_uid", "cid")]}
    if kind == "uid":
        uid = ["scwire-conform", new_cid()]
        uid[0 if field == "name" else 1] = value
        return uid
    if kind == "error" and field in ("type_str", "tb_str"):
        err = dict(ERROR_MAP)
        err[field] = value
        return {"error": err, "cid": ctx_cid}
    msg = {"yield": 1, "stop": True, "error": dict(ERROR_MAP), "return": 1, "started": 1,
           "functype": "asyncfunc"}
    m = {kind: msg[kind], "cid": ctx_cid}
    m[field] = value
    return m


@pytest.mark.spec("SEC-3", "SEC-4", "SEC-5", "CID-6", "HS-6", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("kind,field", list(FIELDS), ids=[f"{k}-{f}" for k, f in FIELDS])
def test_sec_3_wrong_type_in_every_field(hostile, settings, kind, field):
    """Every field of every message kind (the uid's two items, the five of a command,
    the kind key and cid of every routed message, type_str and tb_str of an error)
    given each value of a wrong type, one connection each: a command with a usable
    cid gets one MessagingError, a bad uid closes the connection, a routed message
    that names no context or has no valid kind is dropped without reply; never the
    IUT down, never the bystander hurt."""
    values, allowed, checks = FIELDS[(kind, field)]
    with hostile(allowed=allowed, what=f"{kind}.{field}", rid=field_rid(kind, field)) as h:
        for label, value in values:
            c = h.conn(handshake=(kind != "uid"), label=f"{field}={label}")
            ctx = None
            if kind not in ("cmd", "uid"):
                ctx = c.open_context(SERVICE, "ctx_echo", first=None)
            m = build(kind, field, value, c, ctx.cid if ctx else None)
            c.send(m)
            what = f"{KIND_TEXT[kind]} with {field} = {short(value)}"
            if checks == "messaging-error":
                one_error(h, c, m["cmd"][4], "MessagingError", what)
            elif checks.startswith("quiet"):
                quiet(h, c, what, cid=ctx.cid if ctx and field != "cid" else None)
                if checks == "quiet-alive":
                    context_alive(h, ctx, what=f"the context after {what}")
            elif field == "cid" and ctx is not None:
                context_alive(h, ctx, what=f"the context after {what}")


# --- the cases that predate the table, now with a bystander ------------------

MALFORMED = [
    ("int-42", 42, DOWN), ("str", "hello", DOWN), ("true", True, DOWN),
    ("array", [1, 2], DOWN), ("bin", b"\x00", DOWN),
    ("map-without-cmd-or-cid", {"foo": 1}, DOWN),
    ("error-without-cid", {"error": {"tb_str": "", "type_str": "ValueError"}}, DOWN),
    ("cmd-not-array", {"cmd": "echo"}, DOWN),
    ("cmd-4-items", {"cmd": [SERVICE, "echo", {"value": 1}, UID]}, DOWN),
    ("cmd-6-items", {"cmd": [SERVICE, "echo", {"value": 1}, UID, "c6", "extra"]}, DOWN),
    ("cmd-cid-map", {"cmd": [SERVICE, "echo", {"value": 1}, UID, {"c": 1}]}, DOWN),
    # tractor serves these, answering on the cid as given (measured with iut/tractor).
    ("cmd-cid-int", {"cmd": [SERVICE, "echo", {"value": 1}, UID, 5]}, REJECTED),
    ("cmd-cid-empty", {"cmd": [SERVICE, "echo", {"value": 1}, UID, ""]}, REJECTED),
    ("cmd-cid-nil", {"cmd": [SERVICE, "echo", {"value": 1}, UID, None]}, REJECTED),
]


def _param(mid, value, tractor):
    marks = [pytest.mark.tractor_kills] if tractor == DOWN else []
    return pytest.param(value, tractor, id=mid, marks=marks)


@pytest.mark.spec("SEC-3", "SEC-8", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("bad,tractor", [_param(*m) for m in MALFORMED])
def test_sec_3_malformed_message_rejected_or_connection_closed(hostile, bad, tractor):
    """A post-handshake value that is neither nil nor a usable map, or a `cmd` that is
    not an array of five with a non-empty str cid, is dropped without reply or its
    connection is closed; the IUT keeps serving the bystander and new connections."""
    with hostile(allowed=REJECTED_OR_CLOSED, tractor=tractor, rid="SEC-3") as h:
        c = h.conn()
        c.send(bad)
        quiet(h, c, short(bad))


# tractor: the source read for the table, and iut/tractor's measurements (it answers
# most of these with another error, or serves them, and exits on a non-str func).
BAD_FIELDS = [
    ("ns-int", [5, "echo", {"value": 1}, UID], REJECTED),
    ("ns-nil", [None, "echo", {"value": 1}, UID], REJECTED),
    ("func-int", [SERVICE, 5, {"value": 1}, UID], DOWN),
    ("func-array", [SERVICE, ["echo"], {"value": 1}, UID], DOWN),
    ("kwargs-array", [SERVICE, "echo", [1], UID], REJECTED),
    ("kwargs-nil", [SERVICE, "echo", None, UID], REJECTED),
    ("kwargs-int-key", [SERVICE, "echo", {1: 1}, UID], REJECTED),
    ("uid-str", [SERVICE, "echo", {"value": 1}, "ab"], REJECTED),
    ("uid-one-item", [SERVICE, "echo", {"value": 1}, ["x"]], REJECTED),
    ("uid-ints", [SERVICE, "echo", {"value": 1}, [1, 2]], REJECTED),
    ("cancel_task-kwargs-array", ["self", "_cancel_task", ["c"], UID], DOWN),
    ("context-kwargs-array", [SERVICE, "ctx_echo", ["c"], UID], DOWN),
    ("asyncgen-kwargs-nil", [SERVICE, "count", None, UID], REJECTED),
]


@pytest.mark.spec("SEC-4", "SEC-8", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("fields,tractor", [_param(*m) for m in BAD_FIELDS])
def test_sec_4_cmd_with_a_wrong_field_messaging_error(hostile, fields, tractor):
    """A `cmd` of five items with a usable cid but a field of the wrong type is
    answered with exactly one `error` MessagingError on that cid, without functype,
    and the connection stays usable."""
    with hostile(allowed=(REJECTED,), tractor=tractor, rid="SEC-4") as h:
        c = h.conn()
        cid = new_cid()
        c.send({"cmd": fields + [cid]})
        one_error(h, c, cid, "MessagingError", f"cmd {short(fields)}")


BAD_ROUTED = [
    ("no-kind-key", {"x": 1}, REJECTED),
    ("error-int", {"error": 5}, DOWN),
    ("error-str", {"error": "boom"}, DOWN),
    ("error-without-type_str", {"error": {"tb_str": "x"}}, DOWN),
    ("error-type_str-int", {"error": {"tb_str": "x", "type_str": 5}}, None),
]


@pytest.mark.spec("SEC-5", "SEC-8", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("bad,tractor", [_param(*m) for m in BAD_ROUTED])
def test_sec_5_routed_message_without_a_valid_kind_dropped(hostile, bad, tractor):
    """A message for a live context with no kind key, or whose `error` is not a map
    with a str type_str, is dropped: no reply, and the context goes on as before."""
    with hostile(allowed=(REJECTED,), tractor=tractor, rid="SEC-5") as h:
        c = h.conn()
        ctx = c.open_context(SERVICE, "ctx_echo", first=None)
        c.send({**bad, "cid": ctx.cid})
        quiet(h, c, f"{short(bad)} into a live context", cid=ctx.cid)
        context_alive(h, ctx)


# tractor looks self methods up with getattr (protocol.md section 9, note): unknown
# names make it exit, existing ones run (measured with iut/tractor: cancel_rpc_tasks
# cancels the bystander's context, the others fail with TypeError).
SELF_METHODS = [("no_such_method", DOWN), ("cancel_rpc_tasks", REJECTED),
                ("_from_parent", REJECTED), ("__init__", REJECTED), ("Cancel", DOWN),
                ("_cancel_task ", DOWN),
                ("register_actor", DOWN), ("unregister_actor", DOWN), ("find_actor", DOWN),
                ("wait_for_actor", DOWN), ("get_registry", DOWN)]
REGISTRY_METHODS = {"register_actor", "unregister_actor", "find_actor", "wait_for_actor",
                    "get_registry"}


@pytest.mark.spec("SELF-2", "SEC-6", "SEC-8", "SEC-1")
@pytest.mark.may_kill
@pytest.mark.parametrize("method,tractor", [_param(m, m, t) for m, t in SELF_METHODS])
def test_self_2_other_self_methods_attribute_error(hostile, settings, method, tractor):
    """A `self` command for a method that is not allowed (registry methods included,
    on an IUT that is not a registry) is answered with exactly one `error`
    AttributeError without functype; nothing runs and the connection stays usable."""
    if method in REGISTRY_METHODS and settings.registry:
        pytest.skip("the IUT is configured as a registry, where this method is served")
    kwargs = {"uid": UID, "sockaddr": ["127.0.0.1", 1]} if method == "register_actor" else {}
    with hostile(allowed=(REJECTED,), tractor=tractor, rid="SELF-2") as h:
        c = h.conn()
        cid = c.command("self", method, kwargs)
        one_error(h, c, cid, "AttributeError", f"self.{method}")


@pytest.mark.spec("CID-9", "SEC-7")
def test_cid_9_caller_uid_is_not_used(fresh_conn_factory):
    """A command's caller_uid changes nothing: a command claiming another channel's
    uid is answered on the channel that carried it, and a _cancel_task claiming the
    uid of the channel that owns a context does not cancel it."""
    a = fresh_conn_factory()
    b = fresh_conn_factory()
    cid = a.command(SERVICE, "echo", {"value": 1}, caller_uid=b.uid)
    r = a.result(cid)
    must(r.kind == "return" and r.value == 1, f"echo with a foreign caller_uid: {short(r.final)}")
    b.barrier()
    must(not b.unread(cid), "a reply went to the channel named by caller_uid")
    ctx = a.open_context(SERVICE, "ctx_echo", first=None)
    ccid = b.command("self", "_cancel_task", {"cid": ctx.cid}, caller_uid=a.uid)
    r = b.result(ccid)
    must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    ctx.send_yield(1)
    m = ctx.next()
    must(msgs.yield_(ctx.cid, 1)(m), f"the context answered {short(m)}: it was cancelled?")


@pytest.mark.spec("SEC-2", "SEC-1")
@pytest.mark.may_kill
def test_sec_2_hostile_connections_do_not_delay_others(hostile, settings, private_iut):
    """While one peer holds half a message, one holds half a uid, and one sends 300
    requests without reading any reply, the bystander's echoes and echoes on another
    channel are answered promptly.  (Over a link so slow that sending those requests
    outlasts a handshake timeout of 10 s, an IUT that takes the bound flags gets a
    timeout that outlasts them, so that the half uid is still held at the end.)"""
    volume = 300 * 10_000 + 50_000
    target = None
    if "limits" in settings.caps and carry_time(volume) > 1.0:
        target = private_iut("--handshake-timeout", str(math.ceil(10 + 2 * carry_time(volume))))
    with hostile(allowed=(SERVED,), target=target) as h:
        half = h.conn(probe=False, usable=SERVED, label="half-message")
        data = half.codec.encode(cmd(half, SERVICE, "echo", {"value": "x" * 50_000}))
        half.send_raw(data[:len(data) // 2], note="half a message, the rest withheld")
        shy = h.conn(handshake=False, probe=False, label="half-uid")
        shy.send_raw(shy.codec.encode(["shy", new_cid()])[:5], note="half a uid")
        deaf = h.conn(probe=False, usable=SERVED, label="deaf")
        deaf.send_many([cmd(deaf, SERVICE, "echo", {"value": "y" * 10_000})
                        for _ in range(300)])
        worst = slowest_echo(h.factory(), 10, "next to the hostile peers")
        must(worst <= settings.prompt, f"an echo took {worst:.2f} s next to the hostile peers")
        h.note(f"slowest echo on another channel {worst * 1000:.1f} ms")


@pytest.mark.spec("CID-6", "SEC-2", "SEC-1")
@pytest.mark.may_kill
def test_cid_6_flood_of_unknown_cids(hostile):
    """5000 messages of every routed kind for unknown cids, written at once, are all
    dropped: nothing comes back, the connection stays usable, and the bystander is
    not delayed."""
    with hostile(allowed=(REJECTED,), tractor=REJECTED) as h:
        c = h.conn()
        kinds = [lambda cid: {"yield": 1, "cid": cid}, lambda cid: {"stop": True, "cid": cid},
                 lambda cid: {"return": None, "cid": cid},
                 lambda cid: {"error": ERROR_MAP, "cid": cid},
                 lambda cid: {"started": 0, "cid": cid}]
        data = b"".join(c.codec.encode(kinds[i % 5](new_cid())) for i in range(5000))
        c.send_raw(data, note=f"5000 messages for unknown cids ({len(data)} bytes)")
        quiet(h, c, "5000 messages for unknown cids")


@pytest.mark.spec("RPC-10", "SEC-2", "SEC-1")
@pytest.mark.may_kill
def test_rpc_10_storm_of_2000_commands_on_one_connection(hostile, settings):
    """2000 echo commands written at once on one connection are all answered, each
    with functype and its own value, while the bystander on another connection is
    served promptly."""
    with hostile(allowed=(SERVED,), tractor=SERVED) as h:
        c = h.conn(usable=SERVED)
        cmds = [cmd(c, SERVICE, "echo", {"value": i}) for i in range(2000)]
        data = b"".join(c.codec.encode(m) for m in cmds)
        c.send_raw(data, note=f"2000 echo commands ({len(data)} bytes)")
        want = {m["cmd"][4]: i for i, m in enumerate(cmds)}
        done, t0 = {}, time.monotonic()
        while len(done) < len(want):
            m = c.recv(timeout=settings.timeout)
            cid = m.get("cid") if isinstance(m, dict) else None
            if cid in want and msgs.kind(m) == "return":
                must(msgs.same(m["return"], want[cid]), f"echo of {want[cid]} returned "
                                                        f"{short(m)}")
                done[cid] = True
        h.note(f"2000 echoes answered in {time.monotonic() - t0:.2f} s")


@pytest.mark.spec("HS-8", "SEC-2", "SEC-1")
@pytest.mark.may_kill
def test_hs_8_connect_and_drop_storm_beside_a_conversation(hostile):
    """200 connections that end before or during the handshake (closed, reset, after
    part of a uid, after reading the IUT's uid) leave the bystander's conversation
    undisturbed and the IUT serving new connections."""
    with hostile(allowed=(SERVED,), tractor=SERVED) as h:
        for i in range(200):
            c = h.conn(handshake=False, label=f"drop-{i}")
            way = i % 4
            try:
                if way == 1:
                    c.send_raw(c.codec.encode(["scwire-conform", new_cid()])[:7],
                               note="part of a uid")
                elif way == 2:
                    c.recv_uid(timeout=2.0)
            except (Violation, Closed, Timeout, OSError):
                pass
            (c.abort if i % 2 else c.close)()
            h.dropped(c)
        h.note("200 connect-and-drop: close, reset, part of a uid, after the IUT's uid")


# --- floods that leave something behind (a registry IUT) ---------------------

# A waiter list that is walked to add or to free a waiter costs seconds at this
# size (128000 waiters), and blocks everyone while the connections close.
FLOOD_CONNS = 16
FLOOD_EACH = 8000


def registry_iut(private_iut, settings, iut):
    """The session IUT when it is a registry, else one of the case's own."""
    return iut if settings.registry else private_iut("--registry-role")


def flood(factory, target, settings, messages_for, label):
    """FLOOD_CONNS connections each write FLOOD_EACH messages at once, then
    read until the first answer on their last cid: proof that the IUT has
    taken every message before it (answered or refused, it does not matter)."""
    conns = []
    for k in range(FLOOD_CONNS):
        c = factory(target=target, conn_name=f"{label}-{k}")
        msgs_k = messages_for(c, k)
        c.send_raw(b"".join(c.codec.encode(m) for m in msgs_k),
                   note=f"{len(msgs_k)} {label} commands at once")
        conns.append((c, msgs_k[-1]["cmd"][4]))
    for c, last in conns:
        deadline = time.monotonic() + settings.timeout
        while True:
            left = deadline - time.monotonic()
            robust(left > 0, f"{c.name}: no answer on its last {label} command within "
                             f"{settings.timeout:g} s: the IUT did not take the flood", "SEC-2")
            try:
                m = c.recv(timeout=left)
            except Timeout:
                m = None
            if isinstance(m, dict) and m.get("cid") == last:
                break
    return [c for c, _ in conns]


def prompt_echoes(factory, target, settings, when):
    """Five echoes on a fresh connection, each answered within the prompt bound."""
    c = factory(target=target, conn_name=f"bystander-{when.split()[0]}")
    worst = slowest_echo(c, 5, when)
    robust(worst <= settings.prompt, f"{when}: an echo on another connection took {worst:.2f} s, "
                                     f"more than the prompt bound {settings.prompt:g} s", "SEC-2")
    c.close()
    return worst


@pytest.mark.spec("SEC-2", "SEC-1", "REG-6")
@pytest.mark.needs("registry-role")
def test_sec_2_a_flood_of_waiters_delays_no_one(private_iut, fresh_conn_factory, settings, iut):
    """16 connections park 8000 wait_for_actor calls each on names that never register (or
    have them refused past the context limit); an echo on another connection is answered
    promptly, and again right after the 16 have closed, while their waiters go."""
    target = registry_iut(private_iut, settings, iut)

    def waiters(c, k):
        return [{"cmd": ["self", "wait_for_actor", {"name": f"never-{k}-{i}"}, list(c.uid),
                         new_cid()]} for i in range(FLOOD_EACH)]
    conns = flood(fresh_conn_factory, target, settings, waiters, "wait_for_actor")
    during = prompt_echoes(fresh_conn_factory, target, settings, "with 128000 waiters parked")
    for c in conns:
        c.close()
    after = prompt_echoes(fresh_conn_factory, target, settings, "after their connections closed")
    info(f"slowest echo {during * 1000:.1f} ms beside the waiters, {after * 1000:.1f} ms after")


@pytest.mark.spec("SEC-2", "SEC-1", "REG-2")
@pytest.mark.needs("registry-role")
def test_sec_2_a_flood_of_registrations_delays_no_one(private_iut, fresh_conn_factory, settings,
                                                       iut):
    """16 connections register 2000 new names each (or have them refused past the
    registry's bound); an echo on another connection is answered promptly, find_actor
    still answers, and get_registry is answered (with the table or an error), not with a
    closed connection."""
    target = registry_iut(private_iut, settings, iut)

    def registrations(c, k):
        return [{"cmd": ["self", "register_actor",
                         {"uid": [f"flood-{k}-{i}", new_cid()], "sockaddr": ["127.0.0.1", 9]},
                         list(c.uid), new_cid()]} for i in range(FLOOD_EACH // 4)]
    flood(fresh_conn_factory, target, settings, registrations, "register_actor")
    worst = prompt_echoes(fresh_conn_factory, target, settings, "after 32000 registrations")
    c = fresh_conn_factory(target=target, conn_name="asker")
    r = c.call("self", "find_actor", {"name": "flood-0-0"})
    must(r.kind == "return", f"find_actor after the flood answered {short(r.final)}")
    try:
        r = c.call("self", "get_registry", {})
    except Closed as e:
        robust(False, f"get_registry after the flood closed the connection ({e})", "SEC-2")
    must(r.kind in ("return", "error"), f"get_registry after the flood answered {short(r.final)}")
    info(f"slowest echo {worst * 1000:.1f} ms after the registrations; get_registry gave "
         f"{'a table of ' + str(len(r.value)) + ' entries' if r.kind == 'return' else 'an error'}")
