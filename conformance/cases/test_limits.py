# SPDX-License-Identifier: AGPL-3.0-or-later
"""Resource limits (limits.md, LIM).

Crossing cases run against an IUT of their own started with small limits
(scwire-ref's flags), so that the suite knows them and crossing them is cheap;
without those flags they are skipped.  They run in the `hostile` frame
(bystander.py): sanity echoes first and last, a bystander channel streaming
echoes throughout, the blast-radius grade in the observation.  The
minimum-acceptance cases (LIM-14) run against the session IUT, whose limits
must be at least the minimums.  The hardening bounds (LIM-20 to LIM-25) are
SHOULDs, checked on an IUT of the case's own started with the bound's flag; the
refusal of strs holding a NUL byte (LIM-26) is checked wherever the test
service turns a str into a host or a name: a child's init map, ctx_call, and
run_in_child.
"""
import ipaddress
import re
import select
import socket
import struct
import time

import msgpack
import pytest

from scwire_conform import iutlog, mpk, msgs
from scwire_conform.bystander import CLOSED, DOWN, HUNG, SERVED
from scwire_conform.codec import HEADER
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import Violation, info, must, observe, should, unproven
from scwire_conform.wire import SERVICE, Closed, Timeout
from scwire_conform.wirelog import short
from test_supervision import (ACTOR_ERROR, child_run, long_wait,  # noqa: F401 (fixtures)
                              no_process_left, parent, unique)

MAX_FRAME, MAX_DEPTH, MAX_STR, MAX_ENTRIES = 65536, 16, 1000, 4096
SMALL = ["--max-frame", str(MAX_FRAME), "--max-depth", str(MAX_DEPTH), "--max-str", str(MAX_STR),
         "--max-entries", str(MAX_ENTRIES)]


@pytest.fixture
def small(private_iut):
    """An IUT with small limits: 64 KiB messages, depth 16, str 1000, 4096 entries."""
    return private_iut(*SMALL)


def send_until_closed(c, data, chunk=16384):
    """Send data in chunks, stopping early when the IUT closes the connection."""
    try:
        for i in range(0, len(data), chunk):
            c.send_raw(data[i:i + chunk], note=f"bytes {i}..{min(len(data), i + chunk)} "
                                               f"of {len(data)}")
    except Closed:
        pass


def wait_closed(c, settings):
    """Let the IUT close c (the grading then sees it closed)."""
    if not c.closed:
        c.closed_within(settings.prompt)


def nested(levels):
    """Raw msgpack: `levels` arrays nested, innermost holding nil."""
    return b"\x91" * levels + b"\xc0"


@pytest.mark.spec("LIM-2", "SVC-30", "SEC-1", "SEC-2")
@pytest.mark.may_kill
def test_lim_2_oversized_message_closes_connection(small, hostile, settings):
    """A command larger than the 64 KiB message limit, made of small strs (no single
    item over a limit), makes the IUT close the connection; with msgpack the first
    66000 bytes, still an incomplete message, suffice."""
    with hostile(target=small, allowed=(CLOSED,), limit_value=MAX_FRAME) as h:
        # A partial message with msgpack: not probed (the probe would continue it).
        c = h.conn(probe=False, usable=HUNG)
        items = [mpk.str_("s" * 28) for _ in range(2500)]
        value = mpk.array(items, 16)
        body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), value)]), c.uid,
                           new_cid())
        data = body[:66000] if c.codec.name == "msgpack" else c.codec.frame(body)
        send_until_closed(c, data)
        wait_closed(c, settings)


def echo_body_of_size(c, size, cid, piece=900):
    """An echo command whose msgpack body is exactly `size` bytes: its value an
    array of strs of at most piece + 2 bytes (under the string limit), so that of
    all the limits only the message limit can refuse it.  (body, value)."""
    def build(full, tail):
        value = ["v" * piece] * full + ["w" * tail]
        items = [mpk.str_(s, 16) for s in value]
        kwargs = mpk.map_([(mpk.obj("value"), mpk.array(items, 16))])
        return mpk.command(SERVICE, "echo", kwargs, c.uid, cid), value
    empty = len(build(0, 0)[0])
    full = (size - empty) // (piece + 3)
    tail = size - len(build(full, 0)[0])
    body, value = build(full, tail)
    assert len(body) == size and tail <= piece + 2
    return body, value


@pytest.mark.spec("LIM-2", "LIM-3", "LIM-14")
def test_lim_2_message_of_exactly_the_limit_is_served(small, fresh_conn_factory):
    """A command of exactly 65536 bytes, the message limit (with lenprefix, a frame
    body of that size), is served: the limit is the largest message taken, not
    the first one refused."""
    c = fresh_conn_factory(target=small)
    cid = new_cid()
    body, value = echo_body_of_size(c, MAX_FRAME, cid)
    c.send_body(body, note=f"a {len(body)}-byte command")
    c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    c.expect(msgs.ret(cid, value), cid=cid, what=f"the echo of the {len(value)} strs")


@pytest.mark.spec("LIM-2", "LIM-3", "SVC-30", "SEC-1", "SEC-2")
@pytest.mark.may_kill
def test_lim_2_one_byte_over_the_limit_closes(small, hostile, settings):
    """A whole command of 65537 bytes, one over the message limit, made of strs
    under the string limit (so that the message limit is the check that fires),
    makes the IUT close the connection."""
    with hostile(target=small, allowed=(CLOSED,), limit_value=MAX_FRAME) as h:
        c = h.conn(probe=False, usable=HUNG)
        body, _ = echo_body_of_size(c, MAX_FRAME + 1, new_cid())
        c.send_body(body, note=f"a {len(body)}-byte command")
        wait_closed(c, settings)


@pytest.mark.spec("LIM-3", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("size", [MAX_FRAME + 1, 2 ** 32 - 1], ids=["limit+1", "4GiB"])
def test_lim_3_oversized_lenprefix_header_closes_at_once(settings, private_iut, hostile, size):
    """With lenprefix, a header announcing more than the message limit makes the IUT
    close the connection without waiting for the body, and without allocating for
    it (its peak memory does not jump)."""
    if settings.codec != "lenprefix":
        pytest.skip("checks the lenprefix codec; this run uses " + settings.codec)
    iut = private_iut(*SMALL)
    before = iut.memory_peak_kb()
    with hostile(target=iut, allowed=(CLOSED,), limit_value=MAX_FRAME) as h:
        c = h.conn(probe=False, usable=HUNG)
        c.send_raw(HEADER.pack(size) + b"\x81", note=f"header announcing {size} bytes")
        wait_closed(c, settings)
        h.check(lambda: peak_did_not_jump(h, iut, before))


@pytest.mark.spec("LIM-4", "LIM-14", "SEC-1", "SEC-2")
@pytest.mark.may_kill
def test_lim_4_too_deep_closes_and_the_limit_itself_is_served(small, hostile, settings):
    """With a depth limit of 16, a command nested 16 levels deep is served and one
    nested 17 levels deep closes the connection."""
    with hostile(target=small, allowed=(CLOSED,), limit_value=MAX_DEPTH) as h:
        ok = h.factory(target=small)
        # The command map, cmd array and kwargs map are levels 1-3; the value's 13
        # arrays are levels 4-16 (the nil inside is no container).
        cid = new_cid()
        ok.send_body(mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), nested(13))]),
                                 ok.uid, cid), note="16 levels")
        ok.expect(msgs.functype(cid, "asyncfunc"))
        ok.expect(msgs.ret(cid))
        bad = h.conn()
        bad.send_body(mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), nested(14))]),
                                  bad.uid, new_cid()), note="17 levels")
        wait_closed(bad, settings)


@pytest.mark.spec("LIM-4", "SEC-1", "SEC-2")
@pytest.mark.may_kill
def test_lim_4_too_deep_is_refused_before_the_message_ends(small, hostile, settings):
    """With a depth limit of 16, the first bytes of a command whose value opens a 17th
    level, and no more, make the IUT close the connection: the depth is checked
    while decoding, not once the message is whole (msgpack; a lenprefix frame is
    whole by construction)."""
    if settings.codec != "msgpack":
        pytest.skip("checks the msgpack codec; this run uses " + settings.codec)
    with hostile(target=small, allowed=(CLOSED,), limit_value=MAX_DEPTH) as h:
        c = h.conn(probe=False, usable=HUNG)
        deep = b"\x92" * 14          # levels 4-17: two items each, only the first begun
        body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), deep)]), c.uid,
                           new_cid())
        c.send_raw(body[:body.index(deep) + len(deep)], note="a value opening level 17, cut")
        wait_closed(c, settings)


@pytest.mark.spec("LIM-4", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.tractor_kills
def test_lim_4_deep_nesting_closes_session_iut(hostile, settings):
    """100 nested arrays then nil (row 32 of the hostile-input table) make the IUT
    close the connection; it keeps serving."""
    with hostile(allowed=(CLOSED,), tractor=DOWN) as h:
        c = h.conn()
        c.send_body(nested(100), note="100 nested arrays")
        wait_closed(c, settings)


@pytest.mark.spec("LIM-5", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("kind", ["str", "bin", "ext"])
def test_lim_5_long_str_bin_ext_closes_from_its_header(small, hostile, settings, kind):
    """A str, bin or ext declaring more bytes than the string limit (1000) makes the IUT
    close the connection, judging by its header: with msgpack only 10 of its bytes
    are sent; a lenprefix frame (whose body is read whole) carries all of them."""
    with hostile(target=small, allowed=(CLOSED,), limit_value=MAX_STR) as h:
        long_value(h.conn(probe=False, usable=HUNG), settings, kind)


def echo_raw(c, value_raw, what):
    """Echo a value given as raw msgpack; the decoded reply (None if the IUT
    closed the connection instead)."""
    cid = new_cid()
    c.send_body(mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), value_raw)]), c.uid,
                            cid), note=what)
    try:
        c.expect(msgs.functype(cid, "asyncfunc"), cid=cid, what=f"functype for {what}")
        return c.expect(msgs.ret(cid), cid=cid, what=f"the echo of {what}")["return"]
    except Violation:
        if c.closed:
            return None
        raise


@pytest.mark.spec("LIM-5", "LIM-14", "SVC-8")
@pytest.mark.parametrize("kind", ["str", "bin", "ext"])
def test_lim_5_str_bin_ext_of_exactly_the_limit_are_served(small, fresh_conn_factory, kind):
    """A str, bin or ext of exactly 1000 bytes, the string limit, is echoed unchanged
    (in the 16-bit length form, so only the length differs from the refused one).
    An IUT may refuse ext values altogether (FRAME-11): one that echoes a 5-byte ext
    must echo the 1000-byte one too."""
    c = fresh_conn_factory(target=small)
    data = bytes(range(256)) * 3 + bytes(232)
    raw = {"str": mpk.str_("s" * MAX_STR, 16), "bin": mpk.bin_(data, 16),
           "ext": mpk.ext(7, data, 16)}[kind]
    want = {"str": "s" * MAX_STR, "bin": data, "ext": msgpack.ExtType(7, data)}[kind]
    if kind == "ext":
        small_ext = echo_raw(c, mpk.ext(7, b"\x01" * 5), "a 5-byte ext")
        if small_ext is None:
            info("the IUT refuses ext values altogether (FRAME-11): nothing more to check")
            return
    got = echo_raw(c, raw, f"a {kind} of exactly {MAX_STR} bytes")
    must(got is not None, f"the IUT closed the connection on a {kind} of exactly the string "
                          f"limit ({MAX_STR} bytes)")
    must(msgs.same(got, want), f"the {kind} came back changed: {short(got)}")


@pytest.mark.spec("LIM-6", "LIM-14", "SVC-8")
@pytest.mark.parametrize("kind", ["array", "map"])
def test_lim_6_array_map_of_exactly_the_limit_are_served(small, fresh_conn_factory, kind):
    """An array or map of exactly 4096 entries, the entries limit, is echoed
    unchanged."""
    c = fresh_conn_factory(target=small)
    if kind == "array":
        want = list(range(MAX_ENTRIES))
        raw = mpk.array([mpk.obj(i) for i in want], 16)
    else:
        want = {i: None for i in range(MAX_ENTRIES)}
        raw = mpk.map_([(mpk.obj(i), mpk.NIL) for i in want], 16)
    got = echo_raw(c, raw, f"an {kind} of exactly {MAX_ENTRIES} entries")
    must(got is not None, f"the IUT closed the connection on an {kind} of exactly the entries "
                          f"limit ({MAX_ENTRIES})")
    must(msgs.same(got, want), f"the {kind} came back changed ({len(got)} entries)")


def long_value(c, settings, kind):
    n = MAX_STR + 1
    head = {"str": b"\xda" + struct.pack(">H", n), "bin": b"\xc5" + struct.pack(">H", n),
            "ext": b"\xc8" + struct.pack(">H", n) + b"\x05"}[kind]
    sent = n if c.codec.prefixed else 10
    value = head + b"x" * sent
    body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), value)]), c.uid, new_cid())
    data = c.codec.frame(body) if c.codec.prefixed else body[:body.index(value) + len(value)]
    c.send_raw(data, note=f"{kind} header declaring {n} bytes, then {sent} of them")
    wait_closed(c, settings)


@pytest.mark.spec("LIM-6", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("kind", ["array", "map"])
def test_lim_6_too_many_entries_closes_from_the_header(small, hostile, settings, kind):
    """An array or map declaring more entries than the limit (4096) makes the IUT close
    the connection, judging by its header: with msgpack only 4 entries follow it; a
    lenprefix frame (whose body is read whole) carries them all."""
    with hostile(target=small, allowed=(CLOSED,), limit_value=MAX_ENTRIES) as h:
        many_entries(h.conn(probe=False, usable=HUNG), settings, kind)


def many_entries(c, settings, kind):
    n = MAX_ENTRIES + 1
    head = (b"\xdc" if kind == "array" else b"\xde") + struct.pack(">H", n)
    entries = [mpk.obj(i) if kind == "array" else mpk.obj(i) + mpk.NIL for i in range(n)]
    sent = n if c.codec.prefixed else 4
    value = head + b"".join(entries[:sent])
    body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), value)]), c.uid, new_cid())
    data = c.codec.frame(body) if c.codec.prefixed else body[:body.index(value) + len(value)]
    c.send_raw(data, note=f"{kind} declaring {n} entries, then {sent}")
    wait_closed(c, settings)


def peak_did_not_jump(h, iut, before):
    """The IUT's peak virtual memory grew by less than 256 MiB: it allocated nothing
    for a size it was only announced (unless its memory cannot be read)."""
    after = iut.memory_peak_kb() if iut.managed else None
    if before is None or after is None:
        h.note("peak virtual memory not checked: it cannot be read")
        return
    must(after - before < 256 * 1024,
         f"the IUT's peak virtual memory grew by {(after - before) // 1024} MiB")
    h.note(f"peak virtual memory {before} kB before, {after} kB after")


@pytest.mark.spec("LIM-7", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("head", ["df0fffffff", "ddffffffff", "dbffffffff"],
                         ids=["map32-2^28", "array32-2^32", "str32-4GiB"])
def test_lim_7_huge_declared_sizes_refused_without_allocating(hostile, iut, settings, head):
    """A header claiming far more entries or bytes than any message can hold, followed
    by a few bytes, makes the IUT close the connection without allocating for it
    (its peak memory does not jump)."""
    before = iut.memory_peak_kb() if iut.managed else None
    with hostile(allowed=(CLOSED,)) as h:
        c = h.conn(probe=False, usable=HUNG)      # a partial message: not probed
        body = bytes.fromhex(head) + b"\xc0" * 4
        c.send_raw(c.codec.frame(body), note=f"header {head} and 4 bytes")
        wait_closed(c, settings)

        h.check(lambda: peak_did_not_jump(h, iut, before))


# Entries allowed beyond what a message can hold, so that the check of a header's
# claim against the room left in the message is the one that fires.
WIDE = ["--max-frame", str(MAX_FRAME), "--max-entries", "100000"]


@pytest.mark.spec("LIM-7", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("kind,claim", [("array", 70000), ("map", 40000)],
                         ids=["array-70000", "map-40000-pairs"])
def test_lim_7_claim_beyond_the_room_of_the_message(private_iut, hostile, settings, kind,
                                                    claim):
    """With 100000 entries allowed but messages of 65536 bytes, an array header
    claiming 70000 entries (1 byte each at least) or a map header claiming 40000
    pairs (2 bytes each at least: 80000, though 40000 entries would fit), followed
    by 4 entries, makes the IUT close the connection from the header, without
    waiting for entries that could never fit (msgpack; a lenprefix frame bounds
    the claim by its body, which a short frame closes anyway)."""
    if settings.codec != "msgpack":
        pytest.skip("checks the msgpack codec, where the message limit bounds a claim; "
                    "this run uses " + settings.codec)
    with hostile(target=private_iut(*WIDE), allowed=(CLOSED,), rid="LIM-7") as h:
        c = h.conn(probe=False, usable=HUNG)
        head = (b"\xdd" if kind == "array" else b"\xdf") + struct.pack(">I", claim)
        entries = b"\x01" * 4 if kind == "array" else b"\x01\xc0" * 4
        body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), head + entries)]),
                           c.uid, new_cid())
        c.send_raw(body[:body.index(head) + len(head) + len(entries)],
                   note=f"{kind} header claiming {claim}, then 4 entries")
        wait_closed(c, settings)


@pytest.mark.spec("LIM-19", "LIM-14", "SVC-13")
def test_lim_19_a_reply_of_exactly_the_limit_is_sent(small, fresh_conn_factory):
    """ctx_echo given a yield of exactly 65536 bytes, the message limit, sends its
    echo, of the same size: a message at the limit is within it, on the way out as
    on the way in."""
    c = fresh_conn_factory(target=small)
    ctx = c.open_context(SERVICE, "ctx_echo", first=None)

    def body(n):
        return mpk.map_([(mpk.obj("yield"), mpk.array([mpk.str_("y" * 900, 16)] * n
                                                      + [mpk.str_("", 16)], 16)),
                         (mpk.obj("cid"), mpk.obj(ctx.cid))])
    n = (MAX_FRAME - len(body(0))) // 903
    tail = MAX_FRAME - len(body(n))
    value = ["y" * 900] * n + ["z" * tail]
    raw = mpk.map_([(mpk.obj("yield"), mpk.array([mpk.str_(s, 16) for s in value], 16)),
                    (mpk.obj("cid"), mpk.obj(ctx.cid))])
    assert len(raw) == MAX_FRAME and tail <= MAX_STR
    c.send_body(raw, note=f"a yield of {len(raw)} bytes")
    m = c.expect(msgs.yield_(ctx.cid, value) | msgs.error(ctx.cid), cid=ctx.cid, rid="LIM-19",
                 what=f"the echo of the {len(raw)}-byte yield")
    must(msgs.kind(m) == "yield", f"the echo of a yield of exactly the limit was replaced by "
                                  f"{short(m)}", rid="LIM-19")


@pytest.mark.spec("LIM-8", "LIM-15")
def test_lim_8_context_limit_too_many_contexts(private_iut, fresh_conn_factory):
    """With 256 live contexts per channel allowed, the 257th command is answered with
    one `error` TooManyContexts without functype; the channel stays usable, and a
    _cancel_task should still be accepted at the limit."""
    iut = private_iut("--max-contexts", "256")
    c = fresh_conn_factory(target=iut)
    cids = [new_cid() for _ in range(256)]
    c.send_many([{"cmd": [SERVICE, "sleep_forever", {}, list(c.uid), cid]} for cid in cids])
    for cid in cids:
        c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
    extra = c.command(SERVICE, "echo", {"value": 1})
    c.expect(msgs.error(extra, "TooManyContexts"), cid=extra)
    r = c.cancel_task(cids[0])
    if not should(r.kind == "return" and r.value is None,
                  f"LIM-15: _cancel_task at the context limit answered {short(r.final)}"):
        return
    r = c.call(SERVICE, "echo", value="room again")
    must(r.kind == "return", f"echo after freeing one context answered {short(r.final)}")


@pytest.mark.spec("LIM-10", "SVC-30")
def test_lim_10_connection_limit(private_iut, fresh_conn_factory, settings):
    """With 64 connections allowed, a 65th is closed at once without being served,
    the 64 keep working, and once one closes a new connection is accepted."""
    iut = private_iut("--max-conns", "64")
    conns = [fresh_conn_factory(target=iut) for _ in range(64)]
    extra = fresh_conn_factory(target=iut, handshake=False)
    try:
        extra.send_uid()
        extra.command(SERVICE, "echo", {"value": 1})
    except Closed:
        pass
    how = extra.closed_within(settings.prompt)
    must(how is not None, "the 65th connection was not closed")
    served = [m for m in extra.drained if isinstance(m, dict)]
    must(not served, f"the 65th connection was served: {', '.join(short(m) for m in served)}")
    iutlog.must_log(iut, (0, 0), iutlog.conn_names(extra), "refusing the 65th connection",
                    value=64)
    for c in (conns[0], conns[-1]):
        r = c.call(SERVICE, "echo", value=1)
        must(r.kind == "return", f"an existing connection got {short(r.final)}")
    conns[0].close()
    deadline = time.monotonic() + settings.prompt
    while True:
        late = fresh_conn_factory(target=iut, handshake=False)
        try:
            late.handshake()
            r = late.call(SERVICE, "echo", value="late")
            if r.kind == "return":
                break
        except (Violation, Closed, OSError):
            pass   # closed as the 65th again: the count has not dropped yet
        must(time.monotonic() < deadline,
             "no new connection is served after one of the 64 closed")
        time.sleep(0.05)


LIM14 = ["message-64KiB", "depth-16", "array-4096", "map-4096", "contexts-256", "conns-64"]


@pytest.mark.spec("LIM-14")
@pytest.mark.parametrize("what", LIM14)
def test_lim_14_minimum_values_accepted(fresh_conn_factory, what):
    """Inputs at the minimum values every implementation accepts are served: a 65536-byte
    message, 16 levels of nesting, arrays and maps of 4096 entries, 256 live contexts
    on one channel, 64 open connections."""
    c = fresh_conn_factory()
    if what == "contexts-256":
        cids = [new_cid() for _ in range(256)]
        c.send_many([{"cmd": [SERVICE, "sleep_forever", {}, list(c.uid), cid]} for cid in cids])
        for cid in cids:
            c.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
        return
    if what == "conns-64":
        others = [fresh_conn_factory() for _ in range(63)]
        for o in others[::9] + [c]:
            r = o.call(SERVICE, "echo", value=1)
            must(r.kind == "return", f"echo on one of 64 connections answered {short(r.final)}")
        return
    cid = new_cid()
    if what == "message-64KiB":
        empty = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), mpk.str_("", 32))]),
                            c.uid, cid)
        value = "v" * (65536 - len(empty))
        raw = mpk.str_(value, 32)
        expected = value
    elif what == "depth-16":
        raw, expected = nested(13), None
        for _ in range(13):
            expected = [expected]
    elif what == "array-4096":
        raw, expected = mpk.array([mpk.obj(i % 100) for i in range(4096)], 16), \
            [i % 100 for i in range(4096)]
    else:
        raw = mpk.map_([(mpk.obj(i), mpk.NIL) for i in range(4096)], 16)
        expected = {i: None for i in range(4096)}
    body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), raw)]), c.uid, cid)
    if what == "message-64KiB":
        must(len(body) == 65536, f"the suite built a {len(body)}-byte message")
    c.send_body(body, note=what)
    c.expect(msgs.functype(cid, "asyncfunc"))
    c.expect(msgs.ret(cid, expected))


@pytest.mark.spec("LIM-13", "SEC-1", "SEC-2")
def test_lim_13_peer_that_never_reads_is_paused(private_iut, hostile, settings):
    """A peer that sends 100 KB echo requests and never reads the replies makes the IUT
    (output limit 1 MiB) stop reading it: of 48 MB offered it takes far less, its
    memory stays bounded, other connections are served promptly, and once the peer
    reads, every request it sent is answered."""
    iut = private_iut("--max-outbuf", "1048576")
    with hostile(target=iut, allowed=(SERVED,)) as h:
        never_reads(h, iut, settings)


def never_reads(h, iut, settings):
    deaf = h.conn(usable=SERVED)
    value = "z" * 100_000
    reqs = [deaf.codec.encode({"cmd": [SERVICE, "echo", {"value": value}, list(deaf.uid),
                                       new_cid()]}) for _ in range(480)]
    size = len(reqs[0])
    data = b"".join(reqs)
    before = iut.memory_peak_kb()
    sent = deaf.send_while_accepted(data, idle=1.0)
    must(sent < 32 * 2 ** 20, f"the IUT took {sent} of {len(data)} bytes from a peer that "
                              f"reads nothing")
    other = h.factory(target=iut)
    t0 = time.monotonic()
    r = other.call(SERVICE, "echo", value=1)
    took = time.monotonic() - t0
    must(r.kind == "return" and took <= settings.prompt,
         f"another connection got {short(r.final)} after {took:.2f} s")
    after = iut.memory_peak_kb()
    if before is not None and after is not None:
        must(after - before < 128 * 1024,
             f"the IUT's peak virtual memory grew by {(after - before) // 1024} MiB")
    whole, part = divmod(sent, size)

    def drain(n):
        # Reading lets the IUT write again, and so read again.
        got = 0
        while got < n:
            if msgs.kind(deaf.recv(timeout=settings.timeout)) == "return":
                got += 1
    drain(whole)
    if part:
        deaf.send_raw(data[sent:(whole + 1) * size], note="the rest of the last request")
        drain(1)
    h.note(f"took {sent} bytes ({whole + bool(part)} requests) before pausing; all answered")


@pytest.mark.spec("LIM-1", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("bad", ["deep", "long-str", "many-entries"])
def test_lim_1_limits_apply_to_the_handshake_uid(small, hostile, settings, bad):
    """The message limits apply to the uid as well: a uid nested 17 deep, with a str
    over the string limit, or with more items than the entries limit closes that
    connection, and the IUT keeps serving others.  (Whether the log names the limit
    is not checked.)"""
    with hostile(target=small, allowed=(CLOSED,)) as h:
        bad_uid(h.conn(handshake=False), settings, bad)


def bad_uid(c, settings, bad):
    name, uuid = mpk.obj("n"), mpk.obj(new_cid())
    if bad == "deep":
        uid = mpk.array([name, uuid, nested(MAX_DEPTH)])   # levels 1 to 17
    elif bad == "long-str":
        uid = mpk.array([mpk.str_("n" * (MAX_STR + 1), 16), uuid])
    else:
        uid = mpk.array([name, uuid] + [mpk.NIL] * MAX_ENTRIES, 16)
    send_until_closed(c, c.codec.frame(uid))
    wait_closed(c, settings)


@pytest.mark.spec("LIM-12", "OVR-8")
@pytest.mark.parametrize("size", ["100KB", "small"])
def test_lim_12_parking_is_bounded_per_connection(private_iut, fresh_conn_factory, settings,
                                                  size):
    """A backpressured sink that takes nothing (one message per 600 s) flooded with
    yields: in bytes, of 48 MB of 100 KB yields the IUT should take far less than
    all (its buffer of 64, the parking area and the socket buffers: under 32 MiB);
    in messages, an echo behind 64 + 1024 + 976 small yields should stay unanswered
    (reading paused) while the parking area is full.  Another connection is served
    promptly meanwhile (OVR-8); closing the flooding connection ends it all."""
    iut = private_iut()
    flood = fresh_conn_factory(target=iut)
    sink = flood.open_context(SERVICE, "ctx_slow_sink", delay=600, backpressure=True)
    if size == "100KB":
        value = "p" * 100_000
        data = b"".join(flood.codec.encode({"yield": value, "cid": sink.cid})
                        for _ in range(480))
        sent = flood.send_while_accepted(data, idle=1.0)
        should(sent < 32 * 2 ** 20, f"the IUT took {sent} of {len(data)} bytes of yields for a "
                                    f"sink that reads none: its parking area is not bounded "
                                    f"in bytes")
        seen = f"the IUT took {sent} of {len(data)} bytes"
    else:
        for i in range(0, 2064, 516):
            flood.send_many([{"yield": j, "cid": sink.cid} for j in range(i, i + 516)])
        behind = flood.command(SERVICE, "echo", {"value": "behind"})
        try:
            flood.recv_for(behind, timeout=settings.prompt)
            should(False, "an echo behind 2064 yields for a sink that reads none was "
                          "answered: the parking area is not bounded in messages")
            seen = "the echo behind 2064 yields was answered"
        except Timeout:
            seen = "the echo behind 2064 yields waits: the IUT stopped reading that connection"
    r = fresh_conn_factory(target=iut).call(SERVICE, "echo", value=1, timeout=settings.prompt)
    must(r.kind == "return", f"another connection got {short(r.final)}")
    observe(seen)


# --- hardening bounds (LIM-20 to LIM-26) ------------------------------------------
#
# These bounds are SHOULDs (LIM-26 aside): an IUT that lacks one is reported
# NON-STRICT.  The cases that set a bound start an IUT of their own with the flag
# (capability `hardening`, or `limits` for --max-conns) and skip without it.

MiB = 1 << 20
# Bytes of the value each ctx_no_stream context of LIM-20 keeps: its command and
# its `started` fit in a message of the smallest message limit (LIM-14).
KEEP = 60_000


def keep(c, value):
    """ctx_no_stream(value) on c, a context that keeps value while it waits.
    Returns (cid, refusal, functype_seen): refusal is None once `started` came, else
    the error the command got (functype_seen: whether a functype came first)."""
    cid = c.command(SERVICE, "ctx_no_stream", {"value": value})
    first = c.expect(msgs.functype(cid, "context") | msgs.error(cid), cid=cid,
                     what=f"functype context, or an error, for ctx_no_stream keeping "
                          f"{len(value)} bytes")
    if msgs.kind(first) == "error":
        return cid, first, False
    second = c.expect(msgs.started(cid) | msgs.error(cid), cid=cid,
                      what=f"started, or an error, for ctx_no_stream keeping {len(value)} bytes")
    return cid, (None if msgs.kind(second) == "started" else second), True


def keep_until_refused(c, value, most):
    """Open contexts keeping value until one is refused or `most` are open:
    (cids kept, the refusal or None, functype_seen)."""
    kept = []
    for _ in range(most):
        cid, refusal, ft = keep(c, value)
        if refusal is not None:
            return kept, refusal, ft
        kept.append(cid)
    return kept, None, False


def is_memory_error(refusal, functype_seen):
    return refusal is not None and not functype_seen and \
        refusal["error"].get("type_str") == "MemoryError"


def keeps_again(c, value, settings):
    """Whether c can keep value again within `prompt` (what a cancelled context or a
    closed connection gives back may take a moment): None, or the last refusal."""
    deadline = time.monotonic() + settings.prompt
    while True:
        _, refusal, _ = keep(c, value)
        if refusal is None or time.monotonic() > deadline:
            return refusal
        time.sleep(0.05)


def echo_answered(c, value, timeout):
    """Whether an echo on c is answered within timeout (a close or silence is not)."""
    try:
        r = c.call(SERVICE, "echo", value=value, timeout=timeout)
    except Violation:
        return False
    return r.kind == "return" and msgs.same(r.value, value)


@pytest.mark.spec("LIM-20")
def test_lim_20_bytes_kept_for_one_connection_are_bounded(private_iut, fresh_conn_factory,
                                                          settings):
    """With 4 MiB allowed per connection (--max-conn-bytes 4194304), ctx_no_stream
    contexts keeping 60 000 bytes each fill one connection's account: the command that
    would cross it should be answered with one `error` MemoryError without functype, by
    the 100th at the latest (6 MB); that connection stays usable, another connection can
    still keep 60 000 bytes, and once two of the first one's contexts are cancelled it
    can keep a value again."""
    iut = private_iut("--max-conn-bytes", str(4 * MiB))
    c = fresh_conn_factory(target=iut)
    value = "k" * KEEP
    kept, refusal, ft = keep_until_refused(c, value, 100)
    if not should(refusal is not None,
                  f"LIM-20: 100 contexts keeping {KEEP} bytes each ({100 * KEEP} bytes) were "
                  f"all started on one connection with a budget of {4 * MiB} bytes: nothing "
                  f"bounds what a connection keeps"):
        return
    info(f"context {len(kept) + 1} refused with {len(kept) * KEEP} bytes of values kept: "
         f"{short(refusal, 200)}")
    should(is_memory_error(refusal, ft),
           f"LIM-20: the command that would cross the budget (context {len(kept) + 1}) was "
           f"answered {'after a functype ' if ft else ''}with {short(refusal)}, not with one "
           f"error MemoryError and no functype")
    if not should(len(kept) * KEEP >= 2 * MiB,
                  f"LIM-20: the budget of {4 * MiB} bytes refused context {len(kept) + 1} with "
                  f"only {len(kept) * KEEP} bytes of values kept, not half of it"):
        return
    should(echo_answered(c, "still usable", settings.prompt),
           "LIM-20: the connection whose command was refused no longer answers an echo")
    other = fresh_conn_factory(target=iut)
    _, refused, _ = keep(other, value)
    should(refused is None, f"LIM-20: another connection, which keeps nothing, could not keep "
                            f"{KEEP} bytes: {short(refused)} (the budget is per connection)")
    for cid in kept[:2]:
        r = c.cancel_task(cid)
        must(r.kind == "return", f"_cancel_task of a ctx_no_stream context answered "
                                 f"{short(r.final)}")
    refused = keeps_again(c, value, settings)
    should(refused is None, f"LIM-20: after two of its contexts ({2 * KEEP} bytes) were "
                            f"cancelled, the connection still cannot keep {KEEP} bytes: "
                            f"{short(refused)}")


@pytest.mark.spec("LIM-20", "OVR-8")
def test_lim_20_a_connection_imitating_a_uid_spends_its_own_budget(
        private_iut, fresh_conn_factory, settings):
    """Connection A opens two backpressured sinks that take nothing (ctx_slow_sink, one
    message per 600 s); connections presenting A's uid, whose messages reach A's
    contexts (CID-4), flood them.  2100 small yields into one sink fill the parking
    area: only the flooding connection stops being read (an echo behind its flood waits),
    while A's echo is answered promptly.  Yields of 50 000 bytes, 6 MB in all, into
    the other sink with 4 MiB allowed per connection (--max-conn-bytes 4194304): the
    flooding connection is bounded (StreamOverrun, or no longer read), and A can still
    keep 60 000 bytes: what waits in A's contexts is on the account of the connection
    that delivered it.  (A run where the parking area never fills is INFO.)"""
    iut = private_iut("--max-conn-bytes", str(4 * MiB))
    a = fresh_conn_factory(target=iut)
    sinks = [a.open_context(SERVICE, "ctx_slow_sink", delay=600, backpressure=True)
             for _ in range(2)]
    seen = []

    # Parking: 2100 small yields, then an echo behind them.
    b1 = fresh_conn_factory(target=iut, name=a.uid[0], uuid=a.uid[1])
    b1.send_raw(b"".join(b1.codec.encode({"yield": i, "cid": sinks[0].cid})
                         for i in range(2100)),
                note=f"2100 yields for A's sink {sinks[0].cid}, from another connection with "
                     f"A's uid")
    behind = b1.command(SERVICE, "echo", {"value": "behind the flood"})
    try:
        b1.recv_for(behind, timeout=1.0)
        paused = False
    except (Timeout, Closed):
        paused = not b1.closed
    if paused:
        t0 = time.monotonic()
        ok = echo_answered(a, "A is read", settings.prompt)
        must(ok, f"A's echo was not answered within {settings.prompt:g} s while a connection "
                 f"imitating A's uid had filled the parking area: the connection that is not "
                 f"flooding stopped being read", rid="OVR-8")
        seen.append(f"parking: the imitator stopped being read, A's echo took "
                    f"{time.monotonic() - t0:.3f} s")
    else:
        unproven("parking not judged: the connection that sent 2100 yields into a sink that "
                 "reads none was " + ("closed" if b1.closed else "still read (its echo was "
                                      "answered)") + ", so the parking area was never full")

    # Bytes: 120 yields of 50 000 bytes against a budget of 4 MiB.
    b2 = fresh_conn_factory(target=iut, name=a.uid[0], uuid=a.uid[1])
    big = "y" * 50_000
    data = b"".join(b2.codec.encode({"yield": big, "cid": sinks[1].cid}) for _ in range(120))
    taken = b2.send_while_accepted(data, idle=0.5)
    b2_paused = taken < len(data)
    if not b2_paused:
        behind = b2.command(SERVICE, "echo", {"value": "behind the big yields"})
        try:
            b2.recv_for(behind, timeout=1.0)
        except (Timeout, Closed):
            b2_paused = not b2.closed
    overruns = [m for m in b2.unread(sinks[1].cid) if msgs.kind(m) == "error"]
    bounded = bool(overruns) or b2_paused
    if not should(bounded, f"LIM-20: a connection sent {len(data)} bytes of yields into a sink "
                           f"that reads none, with {4 * MiB} bytes allowed per connection, and "
                           f"got no StreamOverrun and was never paused: the bytes it made the "
                           f"IUT keep are not bounded"):
        return
    seen.append(f"bytes: the imitator got {len(overruns)} StreamOverrun"
                + (" and stopped being read" if b2_paused else "")
                + f" ({taken} of {len(data)} bytes taken)")
    text = (f"A's echo was not answered within {settings.prompt:g} s after a connection "
            f"imitating A's uid flooded A's sink")
    if b2_paused:
        must(echo_answered(a, "A is still read", settings.prompt), text, rid="OVR-8")
    else:
        should(echo_answered(a, "A is still read", settings.prompt), text, rid="LIM-20")
    _, refused, _ = keep(a, "k" * KEEP)
    should(refused is None,
           f"LIM-20: A could not keep {KEEP} bytes after connections imitating its uid flooded "
           f"its sinks ({short(refused)}): their messages were charged to A's account, not to "
           f"the connections that delivered them")
    info("; ".join(seen))


@pytest.mark.spec("LIM-21")
def test_lim_21_bytes_kept_for_all_connections_are_bounded(private_iut, fresh_conn_factory,
                                                           settings):
    """With 4 MiB allowed per connection and 6 MiB in all (--max-total-bytes 6291456),
    connection A keeps 60 values of 50 000 bytes (3 MB); connection B then keeps values
    of 50 000 bytes until its 70th at the latest (3.5 MB of its own, 6.5 MB in all) is
    refused with one `error` MemoryError, without functype.  A is still served and B
    stays usable.  B then fills the total to the last bytes (values of 5000, 500 and 1
    bytes, each until refused): a third connection, which keeps nothing yet, should
    still keep a value of 100 bytes, from the slice of the total each connection keeps.
    Once B has closed A can keep another value of 50 000 bytes."""
    iut = private_iut("--max-conn-bytes", str(4 * MiB), "--max-total-bytes", str(6 * MiB))
    value = "t" * 50_000
    a = fresh_conn_factory(target=iut)
    kept, refusal, ft = keep_until_refused(a, value, 60)
    if not should(refusal is None,
                  f"LIM-21: connection A's context {len(kept) + 1} was refused with "
                  f"{len(kept) * len(value)} bytes kept, under both the connection and the "
                  f"total budget: {short(refusal)}"):
        return
    b = fresh_conn_factory(target=iut)
    kept_b, refusal, ft = keep_until_refused(b, value, 70)
    if not should(refusal is not None,
                  f"LIM-21: B kept 70 values of {len(value)} bytes, {130 * len(value)} bytes "
                  f"with A's, with {6 * MiB} bytes allowed in all: the total is not bounded"):
        return
    info(f"B's context {len(kept_b) + 1} refused, {len(kept_b) * len(value)} bytes of its own "
         f"kept, {(len(kept_b) + 60) * len(value)} in all: {short(refusal, 200)}")
    should(is_memory_error(refusal, ft),
           f"LIM-21: the command that would cross the total budget was answered "
           f"{'after a functype ' if ft else ''}with {short(refusal)}, not with one error "
           f"MemoryError and no functype")
    should(echo_answered(a, "A served", settings.prompt),
           "LIM-21: connection A was not served after B's command crossed the total budget")
    should(echo_answered(b, "B usable", settings.prompt),
           "LIM-21: connection B no longer answers an echo after its command was refused")
    for size in (5000, 500, 1):
        more, last, _ = keep_until_refused(b, "f" * size, 40)
        kept_b += more
    if last is None:
        unproven("the slice of each connection not judged: B's contexts keeping 1 byte were "
                 "still taken, so the total was not spent")
    else:
        info(f"B filled the total with {len(kept_b)} contexts, the last of 1 byte refused; a "
             f"third connection then keeps 100 bytes")
        c = fresh_conn_factory(target=iut)
        _, refused, _ = keep(c, "s" * 100)
        should(refused is None,
               f"LIM-21: with the total spent by A and B, a third connection, which kept "
               f"nothing, could not keep 100 bytes: {short(refused)} (no slice of the total is "
               f"left to each connection)")
    b.close()
    refused = keeps_again(a, value, settings)
    should(refused is None, f"LIM-21: once B closed, A (3 MB kept) still cannot keep another "
                            f"{len(value)} bytes: {short(refused)}")


def logged_about(iut, mark, names, what, rid):
    """LIM-22, LIM-24: the close is logged with a reason naming the connection."""
    if not getattr(iut, "managed", False):
        info(f"not checked: the record of {what}; the suite cannot read an attached IUT's log")
        return
    found, lines = iutlog.records_since(iut, mark, lambda ln: any(n in ln for n in names))
    should(found, f"{rid}: no record on the IUT's stderr of {what} names the connection "
                  f"({' or '.join(names)}); {len(lines)} new line(s)", rid=rid)


class CloseWatch:
    """Waits that notice when the IUT closes a watched connection, and when."""

    def __init__(self, conn):
        self.conn = conn
        self.t0 = time.monotonic()
        self.at = None          # seconds from t0 to the close, once seen

    def wait(self, seconds, full=True):
        """Wait `seconds` (only until the close when full is false)."""
        end = time.monotonic() + seconds
        if self.at is None and self.conn.closed_within(seconds) is not None:
            self.at = time.monotonic() - self.t0
            if not full:
                return
        left = end - time.monotonic()
        if full and left > 0:
            time.sleep(left)

    def elapsed(self):
        return time.monotonic() - self.t0


def keep_talking(step, watch, until, what, rid):
    """Run step(i) for i = 0, 1, ... until `until` seconds after watch began; False
    (after a failed SHOULD) when a step found the connection not served."""
    i = 0
    while watch.elapsed() < until:
        try:
            step(i)
        except (Violation, Closed, Timeout) as e:
            should(False, f"{rid}: a connection that {what} was not served "
                          f"{watch.elapsed():.2f} s into the case: {e}", rid=rid)
            return False
        i += 1
    return True


def closed_in_time(watch, bound, settings, what, bound_name, rid):
    """SHOULD: the watched connection was closed after about `bound` s and within
    bound + promptly."""
    if watch.at is None:
        watch.wait(bound + settings.prompt - watch.elapsed(), full=False)
    if not should(watch.at is not None,
                  f"{rid}: {what} is still open {watch.elapsed():.1f} s later, with {bound_name} "
                  f"of {bound:g} s", rid=rid):
        return
    info(f"{what} was closed after {watch.at:.2f} s")
    should(watch.at >= bound / 2, f"{rid}: {what} was closed after only {watch.at:.2f} s, well "
                                  f"before {bound_name} of {bound:g} s", rid=rid)


@pytest.mark.spec("LIM-22")
def test_lim_22_idle_connections_are_closed(private_iut, fresh_conn_factory, settings):
    """With an idle timeout of 1 s (--idle-timeout 1), a connection that sends nothing
    after its handshake is closed, after about 1 s and within 1 s + promptly, with a
    record naming it; a connection that sends an echo every 0.3 s is served and still
    open after 2.4 s."""
    iut = private_iut("--idle-timeout", "1")
    mark = iut.mark()
    quiet = fresh_conn_factory(target=iut)
    names = iutlog.conn_names(quiet)
    watch = CloseWatch(quiet)
    busy = fresh_conn_factory(target=iut)

    def step(i):
        r = busy.call(SERVICE, "echo", value=i)
        if r.kind != "return" or r.value != i:
            raise Violation(f"echo {i} answered {short(r.final)}")
        watch.wait(0.3)
    if keep_talking(step, watch, 2.4, "sends an echo every 0.3 s", "LIM-22"):
        should(echo_answered(busy, "at the end", settings.prompt),
               f"LIM-22: the connection sending an echo every 0.3 s was "
               f"{'closed (' + busy.closed + ')' if busy.closed else 'not served'} after 2.4 s")
    closed_in_time(watch, 1, settings, "the connection silent since its handshake",
                   "an idle timeout", "LIM-22")
    if watch.at is not None:
        logged_about(iut, mark, names, "closing the idle connection", "LIM-22")


@pytest.mark.spec("LIM-24")
def test_lim_24_an_unfinished_message_closes_the_connection(private_iut, fresh_conn_factory,
                                                            settings):
    """With a message timeout of 1 s (--message-timeout 1), a connection that sends the
    first byte of a command after its handshake, and nothing more, is closed after
    about 1 s and within 1 s + promptly, with a record naming it; a connection that
    sends an echo every 0.5 s for 2.5 s, each in two halves 0.25 s apart (each message
    well within the bound, but one is unfinished half of the time), is served
    throughout."""
    iut = private_iut("--message-timeout", "1")
    mark = iut.mark()
    stuck = fresh_conn_factory(target=iut)
    steady = fresh_conn_factory(target=iut)
    names = iutlog.conn_names(stuck)
    first = stuck.codec.encode({"cmd": [SERVICE, "echo", {"value": 1}, list(stuck.uid),
                                        new_cid()]})[:1]
    stuck.send_raw(first, note="the first byte of a command, and nothing more")
    watch = CloseWatch(stuck)

    def step(i):
        cid = new_cid()
        data = steady.codec.encode({"cmd": [SERVICE, "echo", {"value": i}, list(steady.uid),
                                            cid]})
        steady.send_raw(data[:len(data) // 2], note=f"echo {i}, first half")
        watch.wait(0.25)
        steady.send_raw(data[len(data) // 2:], note=f"echo {i}, second half")
        r = steady.result(cid)
        if r.kind != "return" or r.value != i:
            raise Violation(f"echo {i} sent in two halves answered {short(r.final)}")
        watch.wait(0.25)
    if keep_talking(step, watch, 2.5, "sends an echo every 0.5 s in two halves 0.25 s apart",
                    "LIM-24"):
        should(echo_answered(steady, "at the end", settings.prompt),
               f"LIM-24: the connection whose messages each took 0.25 s to arrive was "
               f"{'closed (' + steady.closed + ')' if steady.closed else 'not served'} "
               f"after 2.5 s")
    closed_in_time(watch, 1, settings, "the connection holding the first byte of a message",
                   "a message timeout", "LIM-24")
    if watch.at is not None:
        logged_about(iut, mark, names, "closing the connection with an unfinished message",
                     "LIM-24")


def loopback_v4(host):
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.version == 4 and ip.is_loopback


def served_from(factory, iut, source, settings):
    """A connection from source: (conn, True) once it is handshaken and an echo is
    answered, else (conn, False)."""
    c = factory(target=iut, handshake=False, source=source)
    try:
        c.handshake()
        r = c.call(SERVICE, "echo", value=source, timeout=settings.prompt)
        return c, r.kind == "return"
    except (Violation, Closed, Timeout):
        return c, False


@pytest.mark.spec("LIM-23")
def test_lim_23_one_address_cannot_take_every_connection(private_iut, fresh_conn_factory,
                                                         settings):
    """With 256 open connections allowed (--max-conns 256) and the IUT's own share per
    address, connections from 127.0.0.1 are opened until one is not served: that one
    should come before the 256th and be closed at once; the open ones stay served, a
    connection from 127.0.0.2 is served, and once one from 127.0.0.1 closes another from
    127.0.0.1 is served again."""
    iut = private_iut("--max-conns", "256")
    if not loopback_v4(iut.host):
        pytest.skip(f"connects from 127.0.0.1 and 127.0.0.2, which reach only an IUT "
                    f"listening on an IPv4 loopback address; it listens on {iut.host}")
    conns, refused = [], None
    while len(conns) < 255:
        c, ok = served_from(fresh_conn_factory, iut, "127.0.0.1", settings)
        if not ok:
            refused = c
            break
        conns.append(c)
    if not should(refused is not None,
                  "LIM-23: 255 connections from 127.0.0.1 were all served with 256 allowed in "
                  "all: one address can take every slot"):
        return
    n = len(conns) + 1
    info(f"connection {n} from 127.0.0.1 was not served")
    how = refused.closed or refused.closed_within(settings.prompt)
    should(how is not None, f"LIM-23: connection {n} from 127.0.0.1, beyond the address's "
                            f"share, was neither served nor closed")
    served = [m for m in refused.drained + refused.unread() if isinstance(m, dict)]
    should(not served, f"LIM-23: connection {n} from 127.0.0.1, beyond the address's share, was "
                       f"served: {', '.join(short(m) for m in served)}")
    for c in (conns[0], conns[-1]):
        should(echo_answered(c, "still open", settings.prompt),
               f"LIM-23: connection {c.name} from 127.0.0.1 is no longer served after "
               f"connection {n} was refused")
    _, ok = served_from(fresh_conn_factory, iut, "127.0.0.2", settings)
    should(ok, f"LIM-23: with {len(conns)} connections open from 127.0.0.1, a connection from "
               f"127.0.0.2 was not served")
    conns[0].close()
    deadline = time.monotonic() + settings.prompt
    while True:
        _, ok = served_from(fresh_conn_factory, iut, "127.0.0.1", settings)
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    should(ok, "LIM-23: after one of the connections from 127.0.0.1 closed, no new one from "
               "127.0.0.1 was served")


# A standalone decimal number in a log line: not part of an address, a time, a date
# or a uuid.
NUMBER_RE = re.compile(r"(?<![\w.:/'-])\d+(?![\w.:/'-])")
FLOOD = 3000


@pytest.mark.spec("LIM-25")
def test_lim_25_warnings_about_one_connection_are_rate_limited(private_iut, fresh_conn_factory,
                                                               settings):
    """3000 yields for a cid that names no context, sent at once on one connection
    (each dropped with a warning, CID-6), should make the IUT log far fewer than 3000
    lines about that connection (under 300), the ones left out counted in a summary (a
    line about the connection holding a count of 500 or more); the connection still
    answers an echo."""
    iut = private_iut()
    c = fresh_conn_factory(target=iut)
    names = iutlog.conn_names(c)
    mark = iut.mark()
    cid = new_cid()
    c.send_raw(b"".join(c.codec.encode({"yield": i, "cid": cid}) for i in range(FLOOD)),
               note=f"{FLOOD} yields for the cid {cid}, which names no context")
    must(echo_answered(c, "after the flood", settings.timeout),
         f"the connection no longer answers an echo after {FLOOD} messages for an unknown cid "
         f"(CID-6: dropped, the channel stays usable)")
    c.close()
    time.sleep(iutlog.LOG_DELAY)
    lines = [ln for ln in iut.log_since(mark).splitlines() if any(n in ln for n in names)]
    if not lines:
        unproven(f"the IUT logged no line naming the connection ({' or '.join(names)}) for "
                 f"{FLOOD} dropped messages: there were no warnings to rate-limit")
        return
    info(f"{len(lines)} line(s) about the connection for {FLOOD} dropped messages; the last: "
         f"{lines[-1][:200]!r}")
    if not should(len(lines) < FLOOD // 10,
                  f"LIM-25: the IUT logged {len(lines)} lines about one connection for {FLOOD} "
                  f"messages dropped within a second: its warnings are not rate-limited"):
        return
    counts = [int(x) for ln in lines for x in NUMBER_RE.findall(ln)]
    should(any(n >= 500 for n in counts),
           f"LIM-25: of {FLOOD} dropped messages {len(lines)} lines were logged, and none of "
           f"them counts the warnings left out (no number of 500 or more in them; the last: "
           f"{lines[-1][:200]!r})")


# --- LIM-26: strs with a NUL byte where a C string is made -----------------------

NUL_HOST = "127.0.0.1\u0000evil"


@pytest.mark.spec("LIM-26", "SUP-6")
def test_lim_26_nul_in_bind_host_refused_by_a_child(child_run, registry_server, settings):
    """The IUT as a child, given an init map whose bind_host is "127.0.0.1\\u0000evil",
    does not take it as 127.0.0.1: it sends its parent an actor-level error and exits
    with a non-zero status, without listening (it registers nothing with the registry
    the init map names)."""
    server = registry_server()
    run = child_run()
    run.chan.handshake(*run.uid)
    run.chan.send(run.init_map(bind_host=NUL_HOST, _arb_addr=[server.host, server.port]))
    try:
        msg = run.chan.expect(ACTOR_ERROR, timeout=settings.prompt, rid="LIM-26")
    except Violation as e:
        _, reg = server.wait_command("register_actor", 0)
        if reg is None:
            raise
        raise Violation(f"the child took bind_host {NUL_HOST!r} as a host cut at the NUL: it "
                        f"listened and registered {short(reg['cmd'][2].get('sockaddr'))}; {e}",
                        rid="LIM-26") from None
    info(f"actor-level error: {short(msg)}")
    rc = run.wait_exit(settings.prompt)
    must(rc is not None and rc != 0, f"after refusing its init map the child's exit status is "
                                     f"{rc}, not non-zero", rid="LIM-26")
    _, reg = server.wait_command("register_actor", 0)
    must(reg is None, f"the child registered {short(reg and reg['cmd'][2].get('sockaddr'))} "
                      f"before refusing bind_host {NUL_HOST!r}: it listened", rid="LIM-26")


@pytest.mark.spec("LIM-26")
@pytest.mark.needs("ctx-call")
def test_lim_26_nul_in_a_ctx_call_host_refused(conn, settings):
    """ctx_call with host "127.0.0.1\\u0000x" and the port of a listener of the suite's
    on 127.0.0.1 is answered with an `error`, and the IUT connects nowhere: the host is
    not cut at the NUL."""
    lsock = socket.create_server(("127.0.0.1", 0))
    try:
        port = lsock.getsockname()[1]
        cid = conn.command(SERVICE, "ctx_call", {"host": "127.0.0.1\u0000x", "port": port,
                                                 "ns": SERVICE, "func": "ctx_echo",
                                                 "kwargs": {"first": 1}, "idle": 0})
        try:
            r, failure = conn.result(cid, timeout=settings.prompt), None
        except Violation as e:
            r, failure = None, e
        attempted = bool(select.select([lsock], [], [], 0.2)[0])
        must(not attempted, f"ctx_call with host '127.0.0.1\\u0000x' connected to "
                            f"127.0.0.1:{port}: the host was cut at the NUL")
        if failure is not None:
            raise failure
        must(r.kind == "error", f"ctx_call with host '127.0.0.1\\u0000x' answered "
                                f"{short(r.final)}, not an error")
        info(f"refused with {r.type_str} ({'after' if r.functype else 'without'} functype)")
    finally:
        lsock.close()
    r = conn.call(SERVICE, "echo", value="after")
    must(r.kind == "return", f"the IUT stopped serving the connection: {short(r.final)}")


@pytest.mark.spec("LIM-26")
@pytest.mark.parametrize("field", ["func", "ns"])
def test_lim_26_nul_in_what_a_child_runs_refused(parent, settings, field):
    """run_in_child of func "echo\\u0000x" (or ns "scwire_service\\u0000x") fails with an
    `error`: neither the IUT nor its child runs echo of scwire_service, and no child
    process is left."""
    iut, c = parent()
    name = unique("n")
    kwargs = {"name": name, "ns": SERVICE, "func": "echo", "kwargs": {"value": "ran"}}
    kwargs[field] += "\u0000x"
    r = c.call(SERVICE, "run_in_child", kwargs, timeout=long_wait(settings))
    must(not (r.kind == "return" and r.value == "ran"),
         f"run_in_child with {field} {kwargs[field]!r} returned the echo: the str was cut at "
         f"the NUL")
    must(r.kind == "error", f"run_in_child with {field} {kwargs[field]!r} answered "
                            f"{short(r.final)}, not an error")
    info(f"refused with {r.type_str} ({'after' if r.functype else 'without'} functype)")
    no_process_left(iut, [name], timeout=long_wait(settings))
