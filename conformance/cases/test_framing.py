# SPDX-License-Identifier: AGPL-3.0-or-later
"""Framing: how messages become bytes, and what bad bytes do (protocol.md section 1).

The same conversation must work however TCP splits it; every msgpack form must
be accepted and types kept; a codec error must close only the connection that
carried it.  Cases that send bad bytes run in the `hostile` frame
(bystander.py): sanity echoes first and last, a bystander channel streaming
echoes throughout, and the blast-radius grade in the observation.
"""

import struct

import msgpack
import pytest

from scwire_conform import iutlog, mpk, msgs, normalize
from scwire_conform.bystander import CLOSED, DOWN, REJECTED, SERVED
from scwire_conform.codec import HEADER
from scwire_conform.msgs import new_cid, same
from scwire_conform.verdict import must
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short


def conversation(c):
    """Handshake, then echo, count, raise_error and a refusal, one after another."""
    c.handshake()
    c.call(SERVICE, "echo", value={"a": [1, 2.5, "x", None, True], "b": b"\x00\x01"})
    c.open_stream_from(SERVICE, "count", n=3).collect()
    c.call(SERVICE, "raise_error", type_str="ValueError", text="kaboom")
    c.call(SERVICE, "no_such_function")


def check_bystander(c, ctx):
    ctx.send_yield("still there")
    m = ctx.next()
    must(msgs.yield_(ctx.cid, "still there")(m),
         f"the bystander's context answered {short(m)} instead of echoing")
    ctx.send_stop()
    values, stops, final = ctx.finish()
    must(msgs.ret(ctx.cid, 1)(final), f"the bystander's context ended with {short(final)}")


def closed_quietly(h, c, why):
    """Row check of a connection the IUT must close: at most nil before the close."""
    def check():
        extra = [m for m in h.replies(c) if m is not None]
        must(not extra, f"expected at most nil before the close after {why}; observed "
                        + ", ".join(short(m) for m in extra))
    h.check(check)


def strict_conversation(c):
    """The conversation with every IUT message taken strictly in order."""
    c.recv_uid()
    c.send_uid()
    cid = c.command(SERVICE, "echo", {"value": [1, "two", b"3"]})
    c.expect(msgs.functype(cid, "asyncfunc"))
    c.expect(msgs.ret(cid, [1, "two", b"3"]))
    cid = c.command(SERVICE, "count", {"n": 2})
    for p in (msgs.functype(cid, "asyncgen"), msgs.yield_(cid, 0), msgs.yield_(cid, 1),
              msgs.stop(cid)):
        c.expect(p)


@pytest.mark.spec("FRAME-2", "SVC-5")
def test_frame_2_uid_in_configured_codec_from_first_byte(raw_conn):
    """The first bytes from the IUT are its uid encoded with the configured codec,
    with nothing before it that announces or negotiates a codec."""
    raw_conn.recv_uid()
    first = next(e for e in raw_conn.log.entries if e.get("dir") == "s2c")
    must("msg" in first, f"the first bytes from the IUT are not a message: {first}")


@pytest.mark.spec("FRAME-3")
def test_frame_3_msgpack_objects_back_to_back(raw_conn, settings):
    """With the msgpack codec every IUT message is exactly one msgpack object, with
    nothing between objects: the stream decodes to exactly the expected messages."""
    if settings.codec != "msgpack":
        pytest.skip("checks the msgpack codec; this run uses " + settings.codec)
    strict_conversation(raw_conn)
    raw_conn.barrier()
    must(not raw_conn.unread(), f"extra objects: {raw_conn.unread()}")


@pytest.mark.spec("FRAME-4")
def test_frame_4_lenprefix_one_object_per_frame(raw_conn, settings):
    """With the lenprefix codec every IUT message is a 4-byte little-endian length
    followed by a body of exactly one msgpack object."""
    if settings.codec != "lenprefix":
        pytest.skip("checks the lenprefix codec; this run uses " + settings.codec)
    strict_conversation(raw_conn)
    raw_conn.barrier()
    must(not raw_conn.unread(), f"extra frames: {raw_conn.unread()}")


@pytest.mark.spec("FRAME-8")
def test_frame_8_one_byte_segments_give_the_same_replies(fresh_conn_factory, case):
    """A conversation sent in 1-byte TCP segments gets the same replies (modulo cids
    and uuids) as the same conversation sent in whole writes."""
    whole = fresh_conn_factory(handshake=False)
    conversation(whole)
    chopped = fresh_conn_factory(handshake=False, chop=1)
    conversation(chopped)
    entries = case.wire_log.entries
    got = [normalize.messages(normalize.normalize([e for e in entries if e.get("conn") == c.name]),
                              direction="s2c") for c in (whole, chopped)]
    d = normalize.diff(*got)
    must(not d, "replies differ between whole and 1-byte writes: " + "; ".join(d))


@pytest.mark.spec("FRAME-8")
def test_frame_8_several_messages_in_one_segment(conn):
    """Three commands written in one TCP segment are all answered."""
    cmds = [{"cmd": [SERVICE, "echo", {"value": i}, list(conn.uid), new_cid()]} for i in range(3)]
    conn.send_many(cmds)
    for i, cmd in enumerate(cmds):
        cid = cmd["cmd"][4]
        conn.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
        conn.expect(msgs.ret(cid, i), cid=cid)


@pytest.mark.spec("FRAME-8")
def test_frame_8_large_message_in_odd_segments(conn):
    """A 200 KB command written in 1000-byte segments is decoded and answered."""
    value = "x" * 200_000
    cid = new_cid()
    conn.send({"cmd": [SERVICE, "echo", {"value": value}, list(conn.uid), cid]}, chop=1000)
    conn.expect(msgs.functype(cid, "asyncfunc"))
    conn.expect(msgs.ret(cid, value))


@pytest.mark.spec("FRAME-6", "SVC-8")
def test_frame_6_types_kept_in_echo(conn):
    """echo returns str as str, bin as bin, booleans, nil, ints of every size and
    floats unchanged, with every float sent as float64."""
    value = {"str": "häß ✓", "empty_str": "", "bin": b"\x00\xffbin", "empty_bin": b"",
             "float": 2.5, "neg_float": -0.1, "int": -7, "big": 2 ** 40, "u64": 2 ** 64 - 1,
             "i64": -2 ** 63, "true": True, "false": False, "nil": None,
             "array": [1, "a", b"b", [], {}], "map": {"k": {"l": [0.5]}}}
    cid = conn.command(SERVICE, "echo", {"value": value})
    conn.expect(msgs.functype(cid, "asyncfunc"))
    m = conn.expect(msgs.ret(cid))
    must(same(m["return"], value), f"echo changed the value: sent {short(value)}, "
                                   f"got {short(m['return'])}")
    forms = mpk.scan(conn.last_body)
    must(all(f != "float32" for f, _ in forms),
         "the return message carries a float encoded as float32, not float64")


# Every length form of the value kinds, as (name, bytes, decoded value).
FORMS = [
    ("pos_fixint", mpk.obj(5), 5), ("uint8", mpk.uint(5, 8), 5), ("uint16", mpk.uint(5, 16), 5),
    ("uint32", mpk.uint(5, 32), 5), ("uint64", mpk.uint(5, 64), 5),
    ("uint64_max", mpk.uint(2 ** 64 - 1, 64), 2 ** 64 - 1),
    ("neg_fixint", mpk.obj(-5), -5), ("int8", mpk.sint(-5, 8), -5),
    ("int16", mpk.sint(-5, 16), -5), ("int32", mpk.sint(-5, 32), -5),
    ("int64", mpk.sint(-5, 64), -5), ("int64_min", mpk.sint(-2 ** 63, 64), -2 ** 63),
    ("float32", mpk.f32(1.5), 1.5), ("float64", mpk.f64(1.5), 1.5),
    ("fixstr", mpk.str_("abc"), "abc"), ("str8", mpk.str_("abc", 8), "abc"),
    ("str16", mpk.str_("abc", 16), "abc"), ("str32", mpk.str_("abc", 32), "abc"),
    ("bin8", mpk.bin_(b"abc", 8), b"abc"), ("bin16", mpk.bin_(b"abc", 16), b"abc"),
    ("bin32", mpk.bin_(b"abc", 32), b"abc"),
    ("fixarray", mpk.array([mpk.obj(1)]), [1]), ("array16", mpk.array([mpk.obj(1)], 16), [1]),
    ("array32", mpk.array([mpk.obj(1)], 32), [1]),
    ("fixmap", mpk.map_([(mpk.obj("k"), mpk.obj(1))]), {"k": 1}),
    ("map16", mpk.map_([(mpk.obj("k"), mpk.obj(1))], 16), {"k": 1}),
    ("map32", mpk.map_([(mpk.obj("k"), mpk.obj(1))], 32), {"k": 1}),
]


@pytest.mark.spec("FRAME-7", "SVC-8")
def test_frame_7_every_encoding_form_accepted(conn):
    """A command written entirely in non-shortest forms (str8/16/32, bin8/16/32,
    array16/32, map16/32, wide ints, float32) is decoded, and echo returns the
    values those forms encode."""
    value_raw = mpk.map_([(mpk.str_(name, 8), raw) for name, raw, _ in FORMS], 16)
    expected = {name: v for name, _, v in FORMS}
    cid = new_cid()
    body = mpk.map_([(mpk.str_("cmd", 16), mpk.array([
        mpk.str_(SERVICE, 8), mpk.str_("echo", 32),
        mpk.map_([(mpk.str_("value", 32), value_raw)], 32),
        mpk.array([mpk.str_(conn.uid[0], 16), mpk.str_(conn.uid[1], 32)], 16),
        mpk.str_(cid, 16)], 32))], 16)
    conn.send_body(body, note="cmd echo in non-shortest forms")
    conn.expect(msgs.functype(cid, "asyncfunc"))
    conn.expect(msgs.ret(cid, expected))


@pytest.mark.spec("FRAME-10", "SVC-8")
def test_frame_10_map_keys_of_any_scalar_or_array_type_echoed(conn):
    """echo returns maps keyed by arrays (nested too), ints, floats, bin, nil, bool
    and str unchanged, at the top of the value and deeper inside it."""
    keyed = {(1, 2): "array", ("x", ("y",)): "nested array", 3: "int", -1: "negative int",
             1.5: "float", b"k": "bin", None: "nil", True: "bool", "s": "str"}
    value = {"top": keyed, "deep": [{"inner": {(0,): [keyed]}}]}
    cid = conn.command(SERVICE, "echo", {"value": value})
    conn.expect(msgs.functype(cid, "asyncfunc"))
    conn.expect(msgs.ret(cid, value))


@pytest.mark.spec("SVC-8")
def test_svc_8_nested_values_echoed(conn):
    """echo returns a value nested 13 levels deep (arrays and maps alternating, the
    command reaching 16 levels) unchanged."""
    value = "leaf"
    for i in range(13):
        value = [value, i] if i % 2 else {"k": value, "i": i}
    cid = conn.command(SERVICE, "echo", {"value": value})
    conn.expect(msgs.functype(cid, "asyncfunc"))
    conn.expect(msgs.ret(cid, value))


@pytest.mark.spec("FRAME-12", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.tractor_kills
@pytest.mark.parametrize("when", ["after-handshake", "as-uid"])
def test_frame_12_byte_c1_closes_only_that_connection(hostile, when):
    """The never-used byte 0xc1 (framed as one message with lenprefix) makes the IUT
    close that connection promptly; a channel streaming echoes and new connections
    are unaffected."""
    with hostile(allowed=(CLOSED,), tractor=DOWN) as h:
        c = h.conn(handshake=(when == "after-handshake"))
        c.send_body(b"\xc1", note="never-used byte 0xc1")
        closed_quietly(h, c, "the byte 0xc1")


@pytest.mark.spec("FRAME-9", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.tractor_kills
@pytest.mark.parametrize("where", ["message", "deep-in-kwargs", "map-key", "uid"])
def test_frame_9_invalid_utf8_closes_connection(hostile, where):
    """A str holding invalid UTF-8 (bytes c3 28), whether it is the whole message, deep
    inside a command's kwargs, a map key or in the uid, makes the IUT close that
    connection promptly, and nothing else is affected."""
    bad = mpk.str_(b"\xc3\x28", 8, raw=True)
    with hostile(allowed=(CLOSED,), tractor=DOWN) as h:
        c = h.conn(handshake=(where != "uid"))
        c.send_body(utf8_body(c, bad, where), note=f"invalid UTF-8 ({where})")
        closed_quietly(h, c, f"invalid UTF-8 ({where})")


# Each class of ill-formed sequence of Unicode's Table 3-7 (well-formed UTF-8),
# behind 13 ASCII bytes so that a validator that skips ASCII a word at a time
# meets it off a word boundary.
ILL_FORMED = {
    "lone-continuation": b"\x80",
    "c0-overlong-2": b"\xc0\xaf",
    "c1-overlong-2": b"\xc1\xbf",
    "e0-overlong-3": b"\xe0\x80\xaf",
    "ed-surrogate": b"\xed\xa0\x80",
    "f0-overlong-4": b"\xf0\x80\x80\xaf",
    "f4-above-10ffff": b"\xf4\x90\x80\x80",
    "f5-lead": b"\xf5\x80\x80\x80",
    "ff-byte": b"\xff",
    "truncated-2": b"\xc3",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\x98",
    "lead-then-ascii": b"\xe2\x28\xa1",
    "lead-then-lead": b"\xc3\xc3",
    "continuation-then-lead": b"\xe2\x82\xc0",
}
# The first and last scalar value of each row of Table 3-7: all well-formed.
WELL_FORMED_EDGES = "\x00\x7f\u0080\u07ff\u0800\u0fff\u1000\ucfff\ud000\ud7ff" \
                    "\ue000\uffff\U00010000\U0003ffff\U00040000\U000fffff\U00100000" \
                    "\U0010ffff"


@pytest.mark.spec("FRAME-9", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.tractor_kills
@pytest.mark.parametrize("seq", list(ILL_FORMED))
def test_frame_9_every_class_of_ill_formed_utf8_closes(hostile, seq):
    """A str holding one ill-formed UTF-8 sequence of each class of Unicode's Table
    3-7 (a lone continuation byte, the never-valid C0, C1, F5-FF, overlong forms,
    surrogates, values above U+10FFFF, sequences cut short or broken by ASCII), deep
    in a command's kwargs and after 13 ASCII bytes, makes the IUT close that
    connection."""
    bad = mpk.str_(b"a" * 13 + ILL_FORMED[seq] + b"z", 8, raw=True)
    with hostile(allowed=(CLOSED,), tractor=DOWN) as h:
        c = h.conn()
        c.send_body(utf8_body(c, bad, "deep-in-kwargs"), note=f"ill-formed UTF-8: {seq}")
        closed_quietly(h, c, f"ill-formed UTF-8 ({seq})")


@pytest.mark.spec("FRAME-9", "SVC-8")
def test_frame_9_edges_of_well_formed_utf8_are_taken(conn):
    """The first and last scalar value of every row of Table 3-7 (U+0000, U+007F,
    U+0080, U+07FF, ..., U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF) is valid UTF-8:
    echo returns the str unchanged, alone and inside ASCII."""
    for value in (WELL_FORMED_EDGES, "abcdefghijklm" + WELL_FORMED_EDGES + "z"):
        r = conn.call(SERVICE, "echo", value=value)
        must(r.kind == "return" and r.value == value,
             f"echo of the well-formed edge values answered {short(r.final)}")


def utf8_body(c, bad, where):
    if where == "message":
        body = bad
    elif where == "uid":
        body = mpk.array([bad, mpk.obj(new_cid())])
    else:
        inner = mpk.array([mpk.obj("ok"), bad]) if where == "deep-in-kwargs" \
            else mpk.map_([(bad, mpk.obj(1))])
        value = mpk.array([mpk.map_([(mpk.obj("x"), inner)])])
        body = mpk.command(SERVICE, "echo", mpk.map_([(mpk.obj("value"), value)]),
                           c.uid, new_cid())
    return body


@pytest.mark.spec("FRAME-5", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("kind", ["trailing-bytes", "empty", "incomplete-object"])
def test_frame_5_lenprefix_bad_frame_body_closes(hostile, settings, kind):
    """With lenprefix, a frame whose body is not exactly one msgpack object (bytes
    after the object, an empty body, an incomplete object) makes the IUT close that
    connection, and nothing else is affected."""
    if settings.codec != "lenprefix":
        pytest.skip("checks the lenprefix codec; this run uses " + settings.codec)
    with hostile(allowed=(CLOSED,)) as h:
        c = h.conn()
        good = mpk.obj({"cmd": [SERVICE, "echo", {"value": 1}, list(c.uid), new_cid()]})
        body = {"trailing-bytes": good + b"\xc0", "empty": b"",
                "incomplete-object": good[:-3]}[kind]
        c.send_raw(HEADER.pack(len(body)) + body, note=f"lenprefix frame: {kind}")
        closed_quietly(h, c, f"a frame with {kind}")


@pytest.mark.spec("FRAME-13", "SVC-30", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("cut", ["mid-message-close", "mid-message-reset", "mid-header-close",
                                 "mid-uid-close"])
def test_frame_13_truncated_message_then_end(hostile, cut):
    """A connection that ends (FIN or RST) in the middle of a message (of a lenprefix
    header, or of the uid) is a normal channel end: a channel streaming echoes and
    new connections are unaffected; the IUT logs that the connection's last
    message was truncated (a record naming the connection)."""
    with hostile(allowed=(SERVED,), rid="FRAME-13") as h:
        c = h.conn(handshake=not cut.startswith("mid-uid"))
        if cut.startswith("mid-uid"):
            data = c.codec.encode(["scwire-conform", new_cid()])
        else:
            data = c.codec.encode({"cmd": [SERVICE, "echo", {"value": "x" * 100},
                                           list(c.uid), new_cid()]})
        n = 2 if cut.startswith("mid-header") else len(data) // 2
        c.send_raw(data[:n], note=f"first {n} of {len(data)} bytes")
        names = iutlog.conn_names(c)
        (c.abort if cut.endswith("reset") else c.close)()
        h.dropped(c)
        h.check(lambda: iutlog.must_log(h.iut, h.log_mark, names,
                                        f"the truncated last message of {c.name}"))


@pytest.mark.spec("FRAME-14")
def test_frame_14_concurrent_replies_never_interleave(conn):
    """Replies of three count(300) streams and four 100 KB echoes produced at the same
    time decode as whole messages, each cid's in order."""
    big = [("%d" % i) * 100_000 for i in range(4)]
    streams = [conn.command(SERVICE, "count", {"n": 300}) for _ in range(3)]
    echoes = [conn.command(SERVICE, "echo", {"value": v}) for v in big]
    for cid, v in zip(echoes, big):
        conn.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
        conn.expect(msgs.ret(cid, v), cid=cid)
    for cid in streams:
        conn.expect(msgs.functype(cid, "asyncgen"), cid=cid)
        for i in range(300):
            conn.expect(msgs.yield_(cid, i), cid=cid)
        conn.expect(msgs.stop(cid), cid=cid)


# Application ext types, and the reserved type -1 (the timestamp) in each of
# its three forms, which a decoder may turn into a time and encode back in
# another form: "unchanged" is judged on the reply's bytes.
EXT_VALUES = {
    "application": [mpk.ext(5, b"\x01\x02\x03"), mpk.ext(100, b"x" * 20, 8)],
    "timestamp32": [mpk.ext(-1, struct.pack(">I", 1700000000))],
    "timestamp64": [mpk.ext(-1, struct.pack(">Q", (999999999 << 34) | 1700000000))],
    "timestamp96": [mpk.ext(-1, struct.pack(">Iq", 5, 1700000000), 8)],
}


@pytest.mark.spec("FRAME-11", "SEC-1")
@pytest.mark.info_only
@pytest.mark.may_kill
@pytest.mark.parametrize("kind", list(EXT_VALUES))
def test_frame_11_ext_value_in_echo(hostile, settings, kind):
    """Ext values in echo's value (application types 5 and 100 as fixext and ext8;
    the reserved timestamp type -1 in its 32-, 64- and 96-bit forms) are either
    refused as a codec error (the connection closes) or returned unchanged: the
    reply holds the same bytes for them."""
    with hostile(allowed=(SERVED, CLOSED), tractor=SERVED) as h:
        c = h.conn(usable=SERVED)
        cid = new_cid()
        items = EXT_VALUES[kind]
        c.send_body(mpk.command(SERVICE, "echo",
                                mpk.map_([(mpk.obj("value"), mpk.array(items))]), c.uid, cid),
                    note=f"echo of ext values ({kind})")

        def check():
            if h.grade_of(c) == CLOSED:
                h.note("ext refused: the IUT closed the connection")
                return
            got = [m for m in h.replies(c) if isinstance(m, dict) and m.get("cid") == cid]
            must(len(got) == 2 and msgs.functype(cid, "asyncfunc")(got[0])
                 and msgs.kind(got[1]) == "return",
                 f"ext accepted but not echoed: {', '.join(short(m) for m in got)}")
            raw = reply_bytes(h.case.wire_log, c, cid, "return")
            must(raw is not None and all(x in raw for x in items),
                 f"ext accepted but not echoed unchanged ({kind}): sent "
                 f"{' '.join(x.hex() for x in items)}; the return was {raw.hex() if raw else raw}",
                 rid="FRAME-11")
            h.note("ext accepted and echoed unchanged")
        h.check(check)


def reply_bytes(log, c, cid, kind):
    """The bytes of the IUT's `kind` message for cid on c, from the wire log."""
    for e in log.entries:
        m = e.get("msg")
        if e.get("conn") == c.name and e.get("dir") == c.in_dir and isinstance(m, dict) \
                and kind in m and m.get("cid") == cid and not e.get("clipped"):
            return bytes.fromhex(e["hex"])
    return None


@pytest.mark.spec("FRAME-1", "SEC-3", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.tractor_kills
def test_frame_1_second_uid_starts_no_new_channel(hostile):
    """A second uid sent on an established channel starts no new channel: it is
    rejected or the connection closes, and if the connection lives on, its context
    is still reached as the first uid's."""
    with hostile(allowed=(REJECTED, CLOSED), tractor=DOWN) as h:
        conn = h.conn()
        ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
        conn.send(["someone-else", new_cid()])

        def check():
            if h.grade_of(conn) == REJECTED:
                check_bystander(conn, ctx)
        h.check(check)
