# SPDX-License-Identifier: AGPL-3.0-or-later
"""Resource limits (limits.md, LIM).

Crossing cases run against an IUT of their own started with small limits
(scwire-ref's flags), so that the suite knows them and crossing them is cheap;
without those flags they are skipped.  They run in the `hostile` frame
(bystander.py): sanity echoes first and last, a bystander channel streaming
echoes throughout, the blast-radius grade in the observation.  The
minimum-acceptance cases (LIM-14) run against the session IUT, whose limits
must be at least the minimums.
"""
import struct
import time

import msgpack
import pytest

from scwire_conform import iutlog, mpk, msgs
from scwire_conform.bystander import CLOSED, DOWN, HUNG, SERVED
from scwire_conform.codec import HEADER
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import Violation, info, must, observe, should
from scwire_conform.wire import SERVICE, Closed, Timeout
from scwire_conform.wirelog import short

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
