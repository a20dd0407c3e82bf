# SPDX-License-Identifier: AGPL-3.0-or-later
"""Handshake: the exchange of uids that opens every connection.

protocol.md section 2 (HS) and the handshake timeout of limits.md (LIM-9).
Cases that feed the IUT a bad first message run in the `hostile` frame
(bystander.py): sanity echoes first and last, a bystander channel streaming
echoes throughout, and the blast-radius grade (only that connection may end)
in the observation, next to what tractor 0.1.0a4 does: it accepts some garbage
as a uid (a str "ab" becomes ('a', 'b')) and exits on the rest.
"""
import math
import time

import pytest

from scwire_conform import msgs
from scwire_conform.bystander import CLOSED, DOWN, HUNG, REJECTED, SERVED
from scwire_conform.msgs import Pattern, new_cid
from scwire_conform.verdict import Violation, must, should
from scwire_conform.wire import SERVICE, Closed
from scwire_conform.wirelog import short


def served(c, what):
    """Check that c (handshaken) still answers an echo."""
    token = "still served " + new_cid()
    r = c.call(SERVICE, "echo", value=token)
    must(r.kind == "return" and r.value == token,
         f"{what}: echo answered {short(r.final)}")


@pytest.mark.spec("HS-1")
def test_hs_1_uid_sent_first(raw_conn, settings):
    """Right after the connection is established, the IUT sends its uid without
    waiting for ours (we send nothing)."""
    raw_conn.expect(Pattern("the IUT's uid: an array of two str", msgs.is_uid),
                    timeout=settings.prompt)


@pytest.mark.spec("HS-2")
def test_hs_2_uid_is_first_and_sent_once(raw_conn):
    """The IUT's first message is its uid, and no second uid follows: after our uid
    and an echo, nothing but the echo's replies arrives."""
    raw_conn.recv_uid()
    raw_conn.send_uid()
    served(raw_conn, "after the handshake")
    raw_conn.barrier()
    extra = raw_conn.unread()
    must(not extra, f"expected nothing beyond the replies; observed "
                    f"{', '.join(short(m) for m in extra)}")


@pytest.mark.spec("HS-3")
def test_hs_3_uid_is_two_str_and_the_same_on_every_connection(fresh_conn_factory):
    """The IUT's uid is an array of exactly two str, and it is the same on every
    connection, whether we send our uid first or not."""
    uids = [fresh_conn_factory().peer_uid for _ in range(3)]
    late = fresh_conn_factory(handshake=False)
    uids.append(late.recv_uid())
    must(len(set(uids)) == 1, f"expected one uid on every connection; observed {uids}")


@pytest.mark.spec("HS-4")
def test_hs_4_uuid_is_canonical_uuid4(conn):
    """The uuid part of the IUT's uid is a random (version 4) UUID in canonical
    lower-case 8-4-4-4-12 form."""
    uuid = conn.peer_uid[1]
    should(msgs.UUID4_RE.match(uuid), f"uuid {uuid!r} is not a canonical lower-case uuid4")


@pytest.mark.spec("HS-5")
@pytest.mark.parametrize("uid", [
    ["scwire-conform", "00000000-0000-4000-8000-000000000000", "extra", 5],
    ["scwire-conform", "not a uuid"],
    ["", ""],
    ["scwire-conform", "u", None, {"k": [1]}],
], ids=["extra-items", "uuid-not-uuid", "empty-strs", "extra-nil-and-map"])
def test_hs_5_uid_accepted(fresh_conn_factory, uid):
    """A uid that is an array of at least two items whose first two are str is
    accepted, whatever the further items and whatever the uuid's format."""
    c = fresh_conn_factory(handshake=False)
    c.send(uid)
    c.uid = (uid[0], uid[1])
    c.recv_uid()
    served(c, f"after the uid {short(uid)}")


# The bad uid, and what tractor 0.1.0a4 does with it: its only check is
# `str(v[0]), str(v[1])` (protocol.md section 2, note).
BAD_UIDS = [
    ("int-42", 42, DOWN), ("nil", None, DOWN), ("true", True, DOWN), ("float", 1.5, DOWN),
    ("str-ab", "ab", SERVED), ("map", {"name": "x", "uuid": "y"}, DOWN),
    ("empty-array", [], DOWN), ("one-item", ["x"], DOWN), ("first-not-str", [5, "u"], SERVED),
    ("second-not-str", ["x", 5], SERVED), ("bins", [b"x", b"y"], SERVED),
]


def closed_quietly(h, c, why):
    """Row check: nothing but nil before the close."""
    def check():
        extra = [m for m in h.replies(c) if m is not None]
        must(not extra, f"expected nothing but the uid and nil before the close after {why}; "
                        f"observed {', '.join(short(m) for m in extra)}")
    h.check(check)


def _p(mid, value, tractor):
    return pytest.param(value, tractor, id=mid,
                        marks=[pytest.mark.tractor_kills] if tractor == DOWN else [])


@pytest.mark.spec("HS-6", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("bad,tractor", [_p(*b) for b in BAD_UIDS])
def test_hs_6_invalid_uid_closes_that_connection(hostile, bad, tractor):
    """A first message that is not an array whose first two items are str makes the
    IUT close that connection promptly; it keeps serving an established channel
    and new connections."""
    with hostile(allowed=(CLOSED,), tractor=tractor) as h:
        c = h.conn(handshake=False)
        c.send(bad)
        closed_quietly(h, c, f"the uid {short(bad)}")


def _cmd():
    return {"cmd": [SERVICE, "echo", {"value": 1}, ["x", "u"], new_cid()]}


# (first message, whether a valid uid follows at once, tractor 0.1.0a4)
BEFORE = {
    "cmd": (_cmd, False, DOWN),
    "nil": (lambda: None, False, DOWN),
    "yield": (lambda: {"yield": 1, "cid": new_cid()}, False, DOWN),
    "error": (lambda: {"error": {"tb_str": "", "type_str": "ValueError"}}, False, DOWN),
    "cmd-then-uid": (_cmd, True, DOWN),
}


@pytest.mark.spec("HS-6", "HS-2", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.tractor_kills
@pytest.mark.parametrize("first", list(BEFORE))
def test_hs_6_message_before_the_handshake(hostile, first):
    """A protocol message (a command, nil, a yield, an error) sent before our uid,
    even when a valid uid follows right behind it, is an invalid first message: the
    IUT closes that connection and serves no command from it."""
    make, follow, tractor = BEFORE[first]
    with hostile(allowed=(CLOSED,), tractor=tractor) as h:
        c = h.conn(handshake=False)
        msg = make()
        c.send_many([msg, ["scwire-conform", new_cid()]] if follow else [msg])
        closed_quietly(h, c, f"{short(msg)} before the uid")


# A handshake timeout long against the prompt margin, so that a timer armed for
# twice the timeout closes outside the window the case allows.
HS_TIMEOUT = 3

DUPLICATES = ["same-uid-again", "other-uid", "uid-twice-at-once", "second-uid-chopped"]


@pytest.mark.spec("FRAME-1", "HS-2", "SEC-3", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.tractor_kills
@pytest.mark.parametrize("how", DUPLICATES)
def test_frame_1_duplicate_handshake(hostile, how):
    """A second uid on a connection whose handshake is done (the same uid again,
    another one, both written at once, or the second in 1-byte segments) starts no
    second channel: it is rejected without reply or the connection is closed."""
    with hostile(allowed=(REJECTED, CLOSED), tractor=DOWN) as h:
        if how == "uid-twice-at-once":
            c = h.conn(handshake=False)
            uid = ["scwire-conform", new_cid()]
            c.send_many([uid, uid])
            c.uid = tuple(uid)
            c.recv_uid()
        else:
            c = h.conn()
            second = list(c.uid) if how == "same-uid-again" else ["someone-else", new_cid()]
            c.send(second, chop=1 if how == "second-uid-chopped" else None)

        def check():
            extra = [m for m in h.replies(c) if m is not None]
            must(not extra, "expected no reply to a second uid; observed "
                            + ", ".join(short(m) for m in extra))
        h.check(check)


@pytest.mark.spec("HS-7")
@pytest.mark.parametrize("order", ["ours-at-once", "theirs-first", "ours-late-chopped"])
def test_hs_7_handshake_completes_in_any_order(fresh_conn_factory, order):
    """The handshake completes whether our uid crosses the IUT's on the wire, follows
    it, or follows it late and in 1-byte segments."""
    c = fresh_conn_factory(handshake=False)
    if order == "ours-at-once":
        c.send_uid()
        c.recv_uid()
    else:
        c.recv_uid()
        c.send_uid(chop=1 if order == "ours-late-chopped" else None)
    served(c, f"after the handshake ({order})")


@pytest.mark.spec("HS-8", "SEC-1", "SEC-2")
@pytest.mark.may_kill
@pytest.mark.parametrize("how", ["close", "reset", "close-in-uid", "reset-in-uid",
                                 "close-after-their-uid"])
def test_hs_8_connect_and_drop_is_harmless(hostile, how):
    """A connection that ends before or during the handshake (closed or reset, with
    nothing, part of a uid, or after reading the IUT's uid) affects neither a channel
    streaming echoes nor new connections."""
    with hostile(allowed=(SERVED,), tractor=SERVED) as h:
        c = h.conn(handshake=False)
        if how.endswith("-in-uid"):
            c.send_raw(c.codec.encode(["scwire-conform", new_cid()])[:7], note="part of a uid")
        if how == "close-after-their-uid":
            c.recv_uid()
        (c.abort if how.startswith("reset") else c.close)()
        h.dropped(c)


@pytest.mark.spec("HS-8", "SEC-1", "SEC-2")
@pytest.mark.may_kill
def test_hs_8_fifty_connect_and_drop_then_call(hostile):
    """Fifty connect-and-drop probes in a row (closes and resets alternating) leave
    the IUT serving a channel streaming echoes and new connections."""
    with hostile(allowed=(SERVED,), tractor=SERVED) as h:
        for i in range(50):
            c = h.conn(handshake=False, label=f"drop-{i}")
            (c.abort if i % 2 else c.close)()
            h.dropped(c)


@pytest.mark.spec("HS-9", "SEC-1", "SEC-2")
def test_hs_9_silent_peer_closed_after_handshake_timeout(private_iut, hostile, settings):
    """An IUT started with a handshake timeout of 3 s closes a connection whose peer
    never sends its uid, no earlier than 3 s and within 3 s plus the prompt margin
    (a timeout long against that margin, so that one counted twice shows; on a link
    whose round trip widens the margin past 3 s, the timeout grows with it), and
    serves a channel streaming echoes meanwhile."""
    timeout = max(HS_TIMEOUT, math.ceil(settings.prompt) + 1)
    iut = private_iut("--handshake-timeout", str(timeout))
    with hostile(target=iut, allowed=(CLOSED,), tractor=HUNG, limit_value=timeout) as h:
        c = h.conn(handshake=False)
        t0 = time.monotonic()
        how = c.closed_within(timeout + settings.prompt)
        took = time.monotonic() - t0

        def check():
            must(how is not None, f"expected the connection closed within "
                                  f"{timeout + settings.prompt:g} s; observed it still open")
            must(took >= timeout - 0.1, f"closed after {took:.2f} s, before the {timeout} s "
                                        f"handshake timeout")
        h.check(check)


@pytest.mark.spec("LIM-14", "LIM-9")
def test_lim_14_a_handshake_completed_within_1_s_is_taken(fresh_conn_factory):
    """A peer that sends its uid 0.9 s after connecting, inside the 1 s every
    implementation must give (whatever its own handshake timeout), completes the
    handshake and is served."""
    c = fresh_conn_factory(handshake=False)
    time.sleep(0.9)
    c.handshake()
    r = c.call(SERVICE, "echo", value="late but in time")
    must(r.kind == "return", f"echo after a handshake at 0.9 s answered {short(r.final)}")


@pytest.mark.spec("LIM-9", "HS-9", "SEC-1", "SEC-2")
def test_lim_9_timeout_counted_from_connect_not_reset_by_bytes(private_iut, hostile, settings):
    """With a handshake timeout of 1 s, a peer that dribbles its uid one byte every
    0.1 s (so that it would take 6 s) is closed about 1 s after connecting: the
    timeout counts from the connection, not from the last byte."""
    iut = private_iut("--handshake-timeout", "1")
    with hostile(target=iut, allowed=(CLOSED,)) as h:
        c = h.conn(handshake=False, probe=False)
        data = c.codec.encode(["scwire-conform-dribbling", new_cid()])
        t0 = time.monotonic()
        how = None
        for i in range(len(data)):
            try:
                c.send_raw(data[i:i + 1])
            except Closed as e:
                how = e.how
                break
            how = c.closed_within(0.1)
            if how or time.monotonic() - t0 > 1 + settings.prompt:
                break
        took = time.monotonic() - t0

        def check():
            must(how is not None, f"expected the connection closed about 1 s after "
                                  f"connecting; observed it still open after {took:.1f} s")
            must(took <= 1 + settings.prompt, f"closed only after {took:.2f} s")
        h.check(check)


@pytest.mark.spec("HS-10")
def test_hs_10_channels_sharing_a_uid_served_independently(fresh_conn_factory):
    """Two channels whose peer sends the same uid are both served: a task running on
    one does not hold up the other, and closing one leaves the other working."""
    uuid = new_cid()
    a = fresh_conn_factory(uuid=uuid)
    b = fresh_conn_factory(uuid=uuid)
    forever = a.command(SERVICE, "sleep_forever")
    a.expect(msgs.functype(forever, "asyncfunc"))
    served(b, "the second channel with the same uid")
    served(a, "the first channel with the same uid")
    b.close()
    served(a, "the first channel after the second closed")
    r = a.cancel_task(forever)
    if r.kind != "return":
        raise Violation(f"_cancel_task of a task of this channel answered {short(r.final)}")
