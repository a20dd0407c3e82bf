# SPDX-License-Identifier: AGPL-3.0-or-later
"""The IUT as a client: it registers with a registry that the suite plays.

An actor configured with a registry address probes it, registers over a fresh
connection with the address its listener is bound to, and unregisters at exit
(protocol.md section 10, REG-11 to REG-13).  Here the suite is that registry
(scripted_registry.py), and it also misbehaves: it answers with malformed
replies (not a map, the wrong cid, garbage bytes, an error), late or never,
hangs up, or opens with a bad uid.  Whatever it does, the IUT must keep
serving its own clients (a bystander channel streams echoes meanwhile, with
sanity echoes first and last, as in the hostile cases) and exit cleanly on
SIGTERM (SVC-3).

The IUT gets the registry's address through the `{registry}` placeholder of
the IUT command template (test-service.md section 1), or scwire-ref's
--registry flag; without either the cases are skipped.
"""
import signal
import time

import pytest

from scwire_conform import msgs
from scwire_conform.bystander import SERVED
from scwire_conform.scripted_registry import RawBytes
from scwire_conform.settings import UNREGISTER_WAIT
from scwire_conform.verdict import Violation, info, must, robust, should
from scwire_conform.wirelog import short

pytestmark = [pytest.mark.role("client")]
LATE = 6.0     # beyond scwire-ref's registration timeout (5 s)


def registration(server, settings):
    """The (Seen, message) of the IUT's register_actor; must arrive promptly."""
    s, m = server.wait_command("register_actor", settings.prompt)
    must(m is not None, f"no register_actor reached the registry within {settings.prompt:g} s "
                        f"(connections: {len(server.seen)})")
    return s, m


def exits_cleanly(iut, settings, server=None):
    """SIGTERM: exit within 5 s (SVC-3), should with status 0 (SVC-4)."""
    t0 = time.monotonic()
    iut.send_signal(signal.SIGTERM)
    rc = iut.wait_exit(5.0)
    took = time.monotonic() - t0
    must(rc is not None, "the IUT still runs 5 s after SIGTERM")
    should(rc == 0, f"SVC-4: exit status {rc} after SIGTERM, not 0")
    text = f"exit status {rc} {took:.2f} s after SIGTERM"
    if server is not None:
        _, m = server.wait_command("unregister_actor", 0.0)
        text += "; it unregistered" if m is not None else "; no unregister_actor"
    return text


def conn_story(server):
    """One line per connection the IUT opened to the registry."""
    out = []
    for s in server.seen:
        what = "probe (no byte)" if s.silent else (
            f"uid {short(s.uid, 80)}, {len(s.commands)} command(s)"
            + (", nil" if s.nil else ""))
        end = f", ended by the IUT ({s.ended}) after {s.ended_at - s.opened:.2f} s" \
            if s.ended and s.ended != "closed-by-registry" else \
            (", closed by the registry" if s.ended else ", still open")
        out.append(f"#{s.index}: {what}{end}")
    return "; ".join(out)


@pytest.mark.spec("REG-13")
@pytest.mark.info_only
def test_reg_13_probe_before_registering(scripted_registry, client_iut, settings):
    """Before registering, the IUT may probe the registry address by connecting and
    closing without a byte (tractor always does); what it does is recorded."""
    server = scripted_registry()
    iut = client_iut(server.addr)
    s, _ = registration(server, settings)
    probes = [x for x in server.seen[:s.index] if x.silent]
    info(("probed first: " if probes else "no probe: ") + conn_story(server))
    exits_cleanly(iut, settings)


@pytest.mark.spec("HS-1", "HS-3", "REG-11")
def test_hs_1_iut_as_client_sends_its_uid_without_waiting(scripted_registry, client_iut,
                                                          fresh_conn_factory, settings):
    """On the connection it opens to register, the IUT sends its uid first without
    waiting for the registry's (which here comes only after it), the same uid it
    shows on its own listener, and then registers."""
    server = scripted_registry(uid_first=False)
    iut = client_iut(server.addr)
    s, m = registration(server, settings)
    must(msgs.is_uid(s.uid), f"the IUT's first message to the registry is {short(s.uid)}, "
                             f"not a uid of two str")
    must(s.sent_uid_at is None or s.first_byte <= s.sent_uid_at,
         "the IUT's uid came only after the registry's")
    own = fresh_conn_factory(target=iut).peer_uid
    must(msgs.same(s.uid, own), f"uid {short(s.uid)} to the registry, {own} on its listener")
    info(exits_cleanly(iut, settings, server))


@pytest.mark.spec("HS-7", "FRAME-8", "REG-11")
@pytest.mark.parametrize("how", ["late-uid", "chopped-replies"])
def test_hs_7_iut_as_client_completes_a_slow_handshake(scripted_registry, client_iut, settings,
                                                       how):
    """The IUT completes its registration when the registry's uid comes 0.5 s late, or
    when every byte of the registry's uid and replies comes in its own 1-byte
    segment: it reads functype and return and closes the connection."""
    if how == "late-uid":
        server = scripted_registry(uid_delay=0.5)
    else:
        server = scripted_registry(chop=1)
    iut = client_iut(server.addr)
    s, m = registration(server, settings)
    how_ended = server.wait_ended(s, settings.prompt + (0.5 if how == "late-uid" else 0))
    must(how_ended is not None, "the IUT did not close the registration connection after the "
                                "registry answered")
    info(conn_story(server) + "; " + exits_cleanly(iut, settings, server))


@pytest.mark.spec("REG-11", "REG-12")
def test_reg_11_registers_with_its_bound_address_and_unregisters(scripted_registry, client_iut,
                                                                 fresh_conn_factory, settings):
    """The IUT registers its own uid with the address its listener is bound to, over a
    connection of its own, and on SIGTERM unregisters that uid over a fresh
    connection before it exits.  (Its wait for that is short: over a link that loses
    packets the scenario is repeated, and fails when no try unregisters.)"""
    tries = settings.tries(UNREGISTER_WAIT)
    for attempt in range(1, tries + 1):
        server = scripted_registry()
        iut = client_iut(server.addr)
        s, m = registration(server, settings)
        cmd = m["cmd"]
        own = fresh_conn_factory(target=iut).peer_uid
        kwargs = cmd[2] if isinstance(cmd[2], dict) else {}
        must(msgs.same(kwargs.get("uid"), own),
             f"registered {short(kwargs.get('uid'))}, not {own}")
        must(msgs.same(kwargs.get("sockaddr"), [iut.host, iut.port]),
             f"registered {short(kwargs.get('sockaddr'))}, not the bound {iut.host}:{iut.port}")
        text = exits_cleanly(iut, settings)
        u, um = server.wait_command("unregister_actor", 0.5 + settings.slack, after=s.index + 1)
        if um is not None or attempt == tries:
            break
        info(f"try {attempt} of {tries}: no unregister_actor; the link may have lost it")
    must(um is not None, "no unregister_actor over a fresh connection at exit"
                         + (f" in {tries} tries" if tries > 1 else ""))
    must(msgs.same(um["cmd"][2].get("uid"), own),
         f"unregistered {short(um['cmd'][2].get('uid'))}, not {own}")
    info(f"{conn_story(server)}; {text}")


def cope(scripted_registry, client_iut, hostile, settings, behaviour, wait, rid):
    """Start the IUT against a registry scripted with behaviour; while a bystander
    streams, let the misbehaviour happen (`wait`, checking `rid`), then SIGTERM."""
    server = scripted_registry(**behaviour)
    try:
        iut = client_iut(server.addr)
    except Violation as e:
        # The same command starts against a registry that behaves (the other cases).
        robust(False, f"the IUT died at its start, its registry misbehaving: {e}")
    with hostile(target=iut, allowed=(SERVED,), under_way=True, rid=rid) as h:
        wait(server)
        h.note("registry connections: " + conn_story(server))
        for n in server.notes:
            h.note(n)
    info(exits_cleanly(iut, settings, server))
    return server


MALFORMED = {
    "non-map": "the integer 42 instead of functype",
    "wrong-cid": "functype and return on another cid",
    "garbage": "the byte 0xc1",
    "error": "an error RuntimeError",
    "functype-only": "functype, then nothing",
}


@pytest.mark.spec("RPC-12", "CID-6", "FRAME-12", "SEC-1", "SVC-3", "SVC-4")
@pytest.mark.parametrize("answer", list(MALFORMED))
def test_rpc_12_iut_copes_with_a_malformed_registry_reply(scripted_registry, client_iut, hostile,
                                                          settings, answer):
    """When the registry answers register_actor with something malformed (not a map,
    the wrong cid, garbage bytes, an error, functype and then nothing), the IUT
    fails its registration locally without crashing, keeps serving its own clients
    and exits cleanly on SIGTERM."""
    def wait(server):
        registration(server, settings)
    cope(scripted_registry, client_iut, hostile, settings, {"answer": answer}, wait, "RPC-12")


@pytest.mark.spec("CAN-6", "SEC-1", "SVC-3", "SVC-4")
@pytest.mark.parametrize("answer", ["close", "reset", "nil"])
def test_can_6_iut_copes_with_a_registry_that_hangs_up(scripted_registry, client_iut, hostile,
                                                       settings, answer):
    """When the registry ends the connection right after register_actor (FIN, RST, or
    nil), the IUT's pending registration fails locally instead of waiting forever: it
    keeps serving its own clients and exits cleanly on SIGTERM."""
    def wait(server):
        registration(server, settings)
    cope(scripted_registry, client_iut, hostile, settings, {"answer": answer}, wait, "CAN-6")


@pytest.mark.spec("REG-12", "SEC-1", "SVC-3", "SVC-4")
@pytest.mark.parametrize("how", ["silent", "late", "no-uid"])
def test_reg_12_iut_copes_with_a_silent_or_late_registry(scripted_registry, client_iut, hostile,
                                                         settings, how):
    """A registry that never answers register_actor, answers it 6 s late (beyond
    scwire-ref's registration timeout), or never sends its uid, does not stop the IUT
    from serving its own clients, and on SIGTERM the IUT exits within 5 s (its
    unregistration bounded)."""
    behaviour = {"silent": {"answer": "silent"}, "late": {"answer": "late", "late": LATE},
                 "no-uid": {"uid": None}}[how]

    def wait(server):
        if how == "no-uid":
            got = server.wait(lambda: [x for x in server.seen if x.uid is not None],
                              settings.prompt)
            must(got, "the IUT sent no uid to a registry that sends none")
            return
        s, _ = registration(server, settings)
        if how == "late":
            # Until the late answer has gone out (or found the connection closed).
            done = server.wait(lambda: s.late_answer, LATE + settings.prompt)
            h_note = f"the late answer, {LATE:g} s after the command: {done}"
            server.notes.append(h_note)
    cope(scripted_registry, client_iut, hostile, settings, behaviour, wait, "REG-12")


BAD_UIDS = {"int-42": 42, "nil": None, "str-ab": "ab", "garbage-bytes": RawBytes(b"\xc1")}


@pytest.mark.spec("HS-6", "SEC-1", "SVC-3", "SVC-4")
@pytest.mark.parametrize("uid", list(BAD_UIDS))
def test_hs_6_iut_as_client_refuses_a_bad_registry_uid(scripted_registry, client_iut, hostile,
                                                       settings, uid):
    """A registry that opens with an invalid uid (42, nil, a str, or undecodable bytes)
    makes the IUT close that connection without registering, while it keeps serving
    its own clients and later exits cleanly."""
    value = BAD_UIDS[uid]

    def wait(server):
        first = server.wait(lambda: [x for x in server.seen if x.uid is not None],
                            settings.prompt)
        must(first, "the IUT never connected with its uid")
        s = first[0]
        how = server.wait_ended(s, settings.prompt)
        must(how is not None, f"the IUT did not close the connection to a registry whose uid "
                              f"is {short(value)}")
        must(not s.commands, f"the IUT sent {short(s.commands[:1])} to a registry whose uid "
                             f"is {short(value)}")
    # A bad uid as None would mean "send none": use the msgpack nil itself.
    behaviour = {"uid": RawBytes(b"\xc0") if value is None else value}
    cope(scripted_registry, client_iut, hostile, settings, behaviour, wait, "HS-6")
