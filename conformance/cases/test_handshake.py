# SPDX-License-Identifier: AGPL-3.0-or-later
"""Handshake: the exchange of uids that opens every connection.

protocol.md section 2 (HS) and the handshake timeout of limits.md (LIM-9).
Cases that feed the IUT a bad first message check that only that connection
ends: a channel opened before it (the bystander) keeps working, and a new
connection is served.
"""
import time

import pytest

from scwire_conform import msgs
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


def serves_new_connection(factory):
    served(factory(), "a new connection")


def expect_closed(c, settings, why):
    """The IUT closes c promptly, sending at most its uid and nil before."""
    how = c.closed_within(settings.prompt)
    must(how is not None, f"expected the IUT to close the connection within "
                          f"{settings.prompt:g} s after {why}; observed it still open")
    extra = [m for m in c.drained if m is not None and not (msgs.is_uid(m) and m == c.drained[0])]
    must(not extra, f"expected nothing but the uid and nil before the close after {why}; "
                    f"observed {', '.join(short(m) for m in extra)}")
    return how


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


BAD_UIDS = [
    ("int-42", 42), ("nil", None), ("true", True), ("float", 1.5), ("str-ab", "ab"),
    ("map", {"name": "x", "uuid": "y"}), ("empty-array", []), ("one-item", ["x"]),
    ("first-not-str", [5, "u"]), ("second-not-str", ["x", 5]), ("bins", [b"x", b"y"]),
]


@pytest.mark.spec("HS-6")
@pytest.mark.may_kill
@pytest.mark.parametrize("bad", [b for _, b in BAD_UIDS], ids=[i for i, _ in BAD_UIDS])
def test_hs_6_invalid_uid_closes_that_connection(fresh_conn_factory, settings, bad):
    """A first message that is not an array whose first two items are str makes the
    IUT close that connection promptly; it keeps serving an established channel
    and new connections."""
    bystander = fresh_conn_factory()
    c = fresh_conn_factory(handshake=False)
    c.send(bad)
    expect_closed(c, settings, f"the uid {short(bad)}")
    served(bystander, "the established channel")
    serves_new_connection(fresh_conn_factory)


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


@pytest.mark.spec("HS-8")
@pytest.mark.may_kill
@pytest.mark.parametrize("how", ["close", "reset", "close-in-uid", "reset-in-uid",
                                 "close-after-their-uid"])
def test_hs_8_connect_and_drop_is_harmless(fresh_conn_factory, how):
    """A connection that ends before or during the handshake (closed or reset, with
    nothing, part of a uid, or after reading the IUT's uid) affects neither an
    established channel nor new connections."""
    bystander = fresh_conn_factory()
    c = fresh_conn_factory(handshake=False)
    if how.endswith("-in-uid"):
        c.send_raw(c.codec.encode(["scwire-conform", new_cid()])[:7], note="part of a uid")
    if how == "close-after-their-uid":
        c.recv_uid()
    (c.abort if how.startswith("reset") else c.close)()
    served(bystander, "the established channel")
    serves_new_connection(fresh_conn_factory)


@pytest.mark.spec("HS-8")
@pytest.mark.may_kill
def test_hs_8_fifty_connect_and_drop_then_call(fresh_conn_factory):
    """Fifty connect-and-drop probes in a row (closes and resets alternating) leave
    the IUT serving an established channel and new connections."""
    bystander = fresh_conn_factory()
    for i in range(50):
        c = fresh_conn_factory(handshake=False)
        (c.abort if i % 2 else c.close)()
    served(bystander, "the established channel")
    serves_new_connection(fresh_conn_factory)


@pytest.mark.spec("HS-9")
def test_hs_9_silent_peer_closed_after_handshake_timeout(private_iut, fresh_conn_factory,
                                                         settings):
    """An IUT started with a handshake timeout of 1 s closes a connection whose peer
    never sends its uid, within 1 s plus the prompt margin."""
    iut = private_iut("--handshake-timeout", "1")
    c = fresh_conn_factory(handshake=False, target=iut)
    t0 = time.monotonic()
    how = c.closed_within(1 + settings.prompt)
    took = time.monotonic() - t0
    must(how is not None, f"expected the connection closed within {1 + settings.prompt:g} s; "
                          f"observed it still open")
    must(took >= 0.9, f"closed after {took:.2f} s, before the 1 s handshake timeout")


@pytest.mark.spec("LIM-9", "HS-9")
def test_lim_9_timeout_counted_from_connect_not_reset_by_bytes(private_iut,
                                                               fresh_conn_factory, settings):
    """With a handshake timeout of 1 s, a peer that dribbles its uid one byte every
    0.1 s (so that it would take 6 s) is closed about 1 s after connecting: the
    timeout counts from the connection, not from the last byte."""
    iut = private_iut("--handshake-timeout", "1")
    c = fresh_conn_factory(handshake=False, target=iut)
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
    must(how is not None, f"expected the connection closed about 1 s after connecting; "
                          f"observed it still open after {took:.1f} s")
    must(took <= 1 + settings.prompt, f"closed only after {took:.2f} s")


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
