# SPDX-License-Identifier: AGPL-3.0-or-later
"""The registry (protocol.md section 10, REG) from both sides.

As a registry: the session IUT when it runs in the registry role
(--iut-registry), else an IUT of the case's own started with scwire-ref's
--registry-role, serves the registry methods of `self`.  As an
actor with a registry: an IUT started with the address of a registry run by
the suite registers at start and unregisters at exit (REG-11, REG-12), which
also shows how it behaves as a caller (MSG-2, CID-2, CID-3, CAN-4).
"""
import signal
import time

import pytest

from scwire_conform import msgs
from scwire_conform.msgs import new_cid
from scwire_conform.profiles import outcome
from scwire_conform.settings import UNREGISTER_WAIT
from scwire_conform.verdict import Violation, info, must, should
from scwire_conform.wirelog import short

HOST = "127.0.0.1"


@pytest.fixture
def reg(private_iut, settings, iut):
    """An IUT in the registry role: the session IUT when it is one (--iut-registry),
    else one of the case's own started with scwire-ref's --registry-role."""
    if settings.registry:
        return iut
    return private_iut("--registry-role")


def served(c, func, **kwargs):
    """Call self.<func> and return its value; it must be served as an asyncfunc."""
    r = c.call("self", func, kwargs)
    must(r.functype == "asyncfunc" and r.kind == "return",
         f"self.{func}({short(kwargs, 120)}) answered functype={r.functype} {short(r.final)}")
    return r.value


def register(c, name, uuid, port):
    must(served(c, "register_actor", uid=[name, uuid], sockaddr=[HOST, port]) is None,
         "register_actor did not return nil")


def unique(prefix):
    return f"{prefix}-{new_cid()[:8]}"


@pytest.mark.spec("SELF-1")
def test_self_1_registry_methods_served(reg, fresh_conn_factory):
    """An IUT in the registry role serves register_actor, find_actor, wait_for_actor,
    get_registry and unregister_actor (besides cancel and _cancel_task), each as an
    asyncfunc."""
    c = fresh_conn_factory(target=reg)
    name, uuid = unique("svc"), new_cid()
    register(c, name, uuid, 1001)
    served(c, "find_actor", name=name)
    served(c, "wait_for_actor", name=name)
    served(c, "get_registry")
    served(c, "unregister_actor", uid=[name, uuid])
    served(c, "_cancel_task", cid=new_cid())


@pytest.mark.spec("REG-10", "REG-8")
def test_reg_10_registry_lists_itself_in_get_registry(reg, fresh_conn_factory):
    """get_registry returns a map keyed by [name, uuid] arrays with [host, port] values,
    one per registration, and lists the registry itself under its own uid and
    listening address."""
    c = fresh_conn_factory(target=reg)
    name, uuid = unique("listed"), new_cid()
    register(c, name, uuid, 1001)
    table = served(c, "get_registry")
    must(isinstance(table, dict), f"get_registry returned {short(table)}, not a map")
    for k, v in table.items():
        must(msgs.is_uid(k), f"get_registry key {short(k)} is not a [name, uuid] array")
        must(isinstance(v, (list, tuple)) and len(v) == 2 and isinstance(v[0], str)
             and isinstance(v[1], int) and not isinstance(v[1], bool),
             f"get_registry value {short(v)} is not a [host, port] array")
    must(msgs.same(table.get(c.peer_uid), [reg.host, reg.port]),
         f"the registry is not listed under its uid {c.peer_uid} with {reg.host}:{reg.port}: "
         f"{short(table)}")
    must(msgs.same(table.get((name, uuid)), [HOST, 1001]),
         f"our registration is missing from {short(table)}")


@pytest.mark.spec("REG-2", "REG-5", "REG-6")
def test_reg_2_reregistration_replaces_the_address_in_place(reg, fresh_conn_factory):
    """register_actor of a registered uid replaces its address and keeps its position:
    find_actor and wait_for_actor then show the new address first."""
    c = fresh_conn_factory(target=reg)
    name, u1, u2 = unique("alpha"), new_cid(), new_cid()
    register(c, name, u1, 1001)
    register(c, name, u2, 1002)
    register(c, name, u1, 1003)
    got = served(c, "find_actor", name=name)
    must(msgs.same(got, [HOST, 1003]), f"find_actor returned {short(got)}, not [{HOST}, 1003]")
    got = served(c, "wait_for_actor", name=name)
    must(msgs.same(got, [[HOST, 1003], [HOST, 1002]]),
         f"wait_for_actor returned {short(got)}, not the two addresses in registration order")
    table = served(c, "get_registry")
    mine = {k: v for k, v in table.items() if k[0] == name}
    must(len(mine) == 2, f"expected one entry per uid; observed {short(mine)}")


@pytest.mark.spec("REG-2")
@pytest.mark.parametrize("kwargs", [
    {"uid": ["only-name"], "sockaddr": [HOST, 1]}, {"uid": [1, 2], "sockaddr": [HOST, 1]},
    {"uid": "ab", "sockaddr": [HOST, 1]}, {"uid": ["n", "u"], "sockaddr": [HOST]},
    {"uid": ["n", "u"], "sockaddr": [1, 2]}, {"uid": ["n", "u"], "sockaddr": [HOST, "1"]},
    {"uid": ["n", "u"]},
], ids=["uid-one-item", "uid-ints", "uid-str", "sockaddr-one-item", "sockaddr-ints",
        "sockaddr-port-str", "sockaddr-missing"])
def test_reg_2_bad_registration_type_error(reg, fresh_conn_factory, kwargs):
    """register_actor with a uid that is not two str or a sockaddr that is not
    [str, int] is answered with one `error` TypeError and changes nothing."""
    c = fresh_conn_factory(target=reg)
    before = served(c, "get_registry")
    r = c.call("self", "register_actor", kwargs)
    must(r.functype is None and r.type_str == "TypeError",
         f"register_actor({short(kwargs)}) answered functype={r.functype} {short(r.final)}")
    after = served(c, "get_registry")
    must(msgs.same(before, after), f"the registry changed: {short(before)} -> {short(after)}")


@pytest.mark.spec("SELF-3", "RPC-4")
@pytest.mark.parametrize("func,kwargs", [
    ("find_actor", {}), ("find_actor", {"name": 5}), ("find_actor", {"name": "x", "extra": 1}),
    ("wait_for_actor", {}), ("wait_for_actor", {"name": ["x"]}),
    ("unregister_actor", {}), ("unregister_actor", {"uid": "ab"}),
    ("get_registry", {"extra": 1}),
], ids=["find_actor-missing", "find_actor-int", "find_actor-extra", "wait_for_actor-missing",
        "wait_for_actor-array", "unregister_actor-missing", "unregister_actor-str",
        "get_registry-extra"])
def test_self_3_registry_methods_refuse_kwargs_that_do_not_fit(reg, fresh_conn_factory, func,
                                                               kwargs):
    """Each registry method given kwargs that do not fit it (missing, of the wrong type,
    or unexpected) answers with one `error` TypeError and no functype, as RPC-4 says,
    and the registry is unchanged."""
    c = fresh_conn_factory(target=reg)
    before = served(c, "get_registry")
    r = c.call("self", func, kwargs)
    must(r.functype is None and r.type_str == "TypeError",
         f"self.{func}({short(kwargs)}) answered functype={r.functype} {short(r.final)}",
         rid="SELF-3")
    after = served(c, "get_registry")
    must(msgs.same(before, after), f"the registry changed: {short(before)} -> {short(after)}")


@pytest.mark.spec("REG-14", "REG-2")
@pytest.mark.parametrize("port", [-1, 65536, 2**32, 2**63], ids=["minus-1", "65536", "2e32",
                                                                "2e63"])
def test_reg_14_port_outside_0_to_65535_type_error(reg, fresh_conn_factory, port):
    """register_actor with a port that is an int but no TCP port number (just below 0,
    just above 65535, and far above) is answered with one `error` TypeError and
    changes nothing."""
    c = fresh_conn_factory(target=reg)
    before = served(c, "get_registry")
    kwargs = {"uid": [unique("port"), new_cid()], "sockaddr": [HOST, port]}
    r = c.call("self", "register_actor", kwargs)
    must(r.functype is None and r.type_str == "TypeError",
         f"register_actor with port {port} answered functype={r.functype} {short(r.final)}")
    after = served(c, "get_registry")
    must(msgs.same(before, after), f"the registry changed: {short(before)} -> {short(after)}")


@pytest.mark.spec("REG-14", "REG-2", "REG-5")
def test_reg_14_ports_0_and_65535_are_taken(reg, fresh_conn_factory):
    """register_actor takes the two ends of the port range, 0 and 65535, and
    find_actor gives them back unchanged."""
    c = fresh_conn_factory(target=reg)
    for port in (0, 65535):
        name = unique(f"port{port}")
        register(c, name, new_cid(), port)
        got = served(c, "find_actor", name=name)
        must(msgs.same(got, [HOST, port]), f"find_actor({name!r}) returned {short(got)}, "
                                           f"not [{HOST}, {port}]")


@pytest.mark.spec("REG-3", "REG-2")
def test_reg_3_registry_bounds_its_entries(private_iut, fresh_conn_factory):
    """A registry started with room for 4 entries (scwire-ref's --max-registry, itself
    included) takes 3 registrations and should answer a 4th new uid with an `error`;
    the refused uid is not listed, a registered uid can still change its address,
    and once one entry is gone a new uid fits again."""
    c = fresh_conn_factory(target=private_iut("--registry-role", "--max-registry", "4"))
    name = unique("full")
    uuids = [new_cid() for _ in range(4)]
    for i, u in enumerate(uuids[:3]):
        register(c, name, u, 1001 + i)
    r = c.call("self", "register_actor", uid=[name, uuids[3]], sockaddr=[HOST, 1004])
    if not should(r.kind == "error", f"a registration beyond the bound answered "
                                     f"{short(r.final)}, not an error"):
        return
    must(len(served(c, "wait_for_actor", name=name)) == 3,
         "the refused registration is listed")
    register(c, name, uuids[0], 1010)
    must(served(c, "unregister_actor", uid=[name, uuids[1]]) is None,
         "unregister_actor did not return nil")
    register(c, name, uuids[3], 1004)
    got = served(c, "wait_for_actor", name=name)
    must(msgs.same(got, [[HOST, 1010], [HOST, 1003], [HOST, 1004]]),
         f"wait_for_actor returned {short(got)} after the changes at the bound")


@pytest.mark.spec("REG-4")
def test_reg_4_unregister_removes_and_unknown_is_key_error(reg, fresh_conn_factory):
    """unregister_actor removes an entry and returns nil; for a uid that is not
    registered it fails with `error` KeyError."""
    c = fresh_conn_factory(target=reg)
    name, uuid = unique("gone"), new_cid()
    register(c, name, uuid, 1001)
    must(served(c, "unregister_actor", uid=[name, uuid]) is None,
         "unregister_actor did not return nil")
    must(served(c, "find_actor", name=name) is None, "the entry is still found after unregister")
    must((name, uuid) not in served(c, "get_registry"), "get_registry still lists the entry")
    r = c.call("self", "unregister_actor", uid=[name, uuid])
    must(r.functype == "asyncfunc" and r.type_str == "KeyError",
         f"unregister_actor of an unknown uid answered functype={r.functype} {short(r.final)}")


@pytest.mark.spec("REG-5")
def test_reg_5_find_actor_exact_name_earliest_entry(reg, fresh_conn_factory):
    """find_actor returns the address of the earliest entry whose name is exactly the
    one asked, and nil for a uuid, a prefix or another case of the name."""
    c = fresh_conn_factory(target=reg)
    name, u1, u2 = unique("beta"), new_cid(), new_cid()
    register(c, name, u1, 1001)
    register(c, name, u2, 1002)
    register(c, name + "x", new_cid(), 1003)
    got = served(c, "find_actor", name=name)
    must(msgs.same(got, [HOST, 1001]), f"find_actor({name!r}) returned {short(got)}")
    for other in (name[:-1], name.upper(), ""):
        got = served(c, "find_actor", name=other)
        must(got is None, f"find_actor({other!r}) returned {short(got)}, not nil")


@pytest.mark.spec("REG-5")
def test_reg_5_find_actor_by_uuid(reg, fresh_conn_factory, expect_profile):
    """find_actor with the uuid of a registered entry (not its name) returns nil: names
    are matched exactly.  tractor 0.1.0a4 matches either item of the uid, so there
    the uuid finds the entry (--expect-profile tractor wants that)."""
    c = fresh_conn_factory(target=reg)
    name, uuid = unique("gamma"), new_cid()
    register(c, name, uuid, 1004)
    got = served(c, "find_actor", name=uuid)
    outcome(expect_profile, f"find_actor(<its uuid>) returned {short(got)}",
            spec="nil (REG-5: exact name match)",
            tractor=f"returns the entry's address [{HOST}, 1004] (`name in uid`)",
            spec_ok=got is None, tractor_ok=msgs.same(got, [HOST, 1004]))


@pytest.mark.spec("REG-6", "REG-2")
def test_reg_6_wait_for_actor_blocks_until_registration(reg, fresh_conn_factory, settings):
    """wait_for_actor of a name nobody has registered waits; when another channel
    registers that name, it returns the addresses of the entries with it."""
    waiter = fresh_conn_factory(target=reg)
    other = fresh_conn_factory(target=reg)
    name = unique("late")
    cid = waiter.command("self", "wait_for_actor", {"name": name})
    waiter.barrier()
    early = [m for m in waiter.unread(cid) if msgs.kind(m) != "functype"]
    must(not early, f"wait_for_actor answered before any registration: {short(early)}")
    register(other, name, new_cid(), 1001)
    r = waiter.result(cid, timeout=settings.prompt)
    must(r.kind == "return" and msgs.same(r.value, [[HOST, 1001]]),
         f"the waiter got {short(r.final)}, not [[{HOST}, 1001]]")


@pytest.mark.spec("REG-7")
def test_reg_7_cancelled_wait_leaves_no_waiter(reg, fresh_conn_factory):
    """A waiting wait_for_actor cancelled with _cancel_task sends nothing more, nor when
    the name registers later; one whose channel ended leaves the registry unharmed."""
    c = fresh_conn_factory(target=reg)
    gone = fresh_conn_factory(target=reg)
    name, name2 = unique("ghost"), unique("ghost")
    cid = c.command("self", "wait_for_actor", {"name": name})
    gone.command("self", "wait_for_actor", {"name": name2})
    gone.barrier()
    gone.close()
    r = c.cancel_task(cid)
    must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    other = fresh_conn_factory(target=reg)
    register(other, name, new_cid(), 1001)
    register(other, name2, new_cid(), 1002)
    c.barrier()
    late = [m for m in c.unread(cid) if msgs.kind(m) != "functype"]
    must(not late, f"the cancelled waiter still answered: {short(late)}")


@pytest.mark.spec("REG-9")
def test_reg_9_entry_outlives_the_registering_channel(reg, fresh_conn_factory):
    """An entry stays when the channel that registered it ends."""
    a = fresh_conn_factory(target=reg)
    name = unique("stays")
    register(a, name, new_cid(), 1001)
    a.close()
    b = fresh_conn_factory(target=reg)
    got = served(b, "find_actor", name=name)
    must(msgs.same(got, [HOST, 1001]), f"find_actor after the channel ended returned {short(got)}")


@pytest.mark.spec("REG-11", "MSG-2", "CID-2", "CID-3", "CAN-4")
@pytest.mark.no_chop("the IUT is the caller here; the suite writes only the registry's replies")
def test_reg_11_registers_over_a_fresh_connection(private_iut, scripted_registry,
                                                  fresh_conn_factory, settings):
    """Started with a registry address, the IUT opens a connection, handshakes, sends
    one well-formed `self.register_actor` command with its own uid and the address
    its listener is bound to (cid a fresh uuid4), reads the reply and closes that
    connection (should with nil first)."""
    server = scripted_registry()
    iut = private_iut("--registry", server.addr)
    seen, msg = server.wait_command("register_actor", settings.prompt)
    must(msg is not None, f"no register_actor reached the registry within {settings.prompt:g} s")
    cmd = msg["cmd"]
    must(set(msg) == {"cmd"}, f"the command has keys beside cmd: {short(msg)}")
    must(len(cmd) == 5 and isinstance(cmd[0], str) and isinstance(cmd[1], str)
         and isinstance(cmd[2], dict) and all(isinstance(k, str) for k in cmd[2])
         and msgs.is_uid(cmd[3]) and isinstance(cmd[4], str) and cmd[4],
         f"the command is not [ns, func, kwargs, caller_uid, cid] with the right types: "
         f"{short(msg)}")
    own = fresh_conn_factory(target=iut).peer_uid
    must(cmd[0] == "self" and cmd[1] == "register_actor", f"unexpected command {short(msg)}")
    must(msgs.same(cmd[2].get("uid"), own) and msgs.same(cmd[3], own),
         f"registered uid {short(cmd[2].get('uid'))} / caller_uid {short(cmd[3])} is not the "
         f"uid {own} the IUT shows on its connections")
    must(msgs.same(seen.uid, own), f"the handshake uid {short(seen.uid)} is not {own}")
    must(msgs.same(cmd[2].get("sockaddr"), [iut.host, iut.port]),
         f"registered address {short(cmd[2].get('sockaddr'))} is not the bound "
         f"{iut.host}:{iut.port}")
    should(msgs.UUID4_RE.match(cmd[4]), f"CID-3: the cid {cmd[4]!r} is not a canonical uuid4")
    how = server.wait_ended(seen, settings.prompt)
    must(how is not None, "the IUT did not close the registration connection")
    should(seen.nil, "CAN-4: no nil before the IUT closed its connection")


@pytest.mark.spec("REG-12")
@pytest.mark.no_chop("about timing (a bounded wait at exit)")
@pytest.mark.parametrize("answer", [True, False], ids=["registry-answers", "registry-silent"])
def test_reg_12_unregisters_on_exit_with_a_bounded_wait(private_iut, scripted_registry, settings,
                                                        answer):
    """On SIGTERM the IUT unregisters its uid over a fresh connection and exits within
    5 s, even when the registry never answers.  (The IUT's own wait is short, 0.5 s:
    over a link that loses packets the scenario is repeated, and fails when no
    unregister_actor comes in any of the tries.)"""
    tries = settings.tries(UNREGISTER_WAIT)
    for attempt in range(1, tries + 1):
        server = scripted_registry(answer="ok" if answer else "silent", on=("unregister_actor",))
        iut = private_iut("--registry", server.addr)
        reg_seen, reg_msg = server.wait_command("register_actor", settings.prompt)
        must(reg_msg is not None, "the IUT did not register")
        uid = reg_msg["cmd"][2].get("uid")
        # Registered means the IUT took the answer: it closes that connection then (REG-11).
        if server.wait_ended(reg_seen, settings.prompt) is None:
            info(f"the registration connection was still open {settings.prompt:g} s after the "
                 f"answer: the IUT may not have taken it before SIGTERM")
        t0 = time.monotonic()
        iut.send_signal(signal.SIGTERM)
        seen, msg = server.wait_command("unregister_actor", 5.0 + settings.slack)
        if msg is not None or attempt == tries:
            break
        info(f"try {attempt} of {tries}: no unregister_actor within "
             f"{5.0 + settings.slack:g} s; the link may have lost it")
        iut.wait_exit(5.0)
    must(msg is not None, f"no unregister_actor reached the registry within 5 s of SIGTERM"
                          f"{f' in {tries} tries' if tries > 1 else ''}")
    must(seen is not reg_seen, "unregister_actor came over the registration connection, "
                               "not a fresh one")
    must(msgs.same(msg["cmd"][2].get("uid"), uid),
         f"unregistered {short(msg['cmd'][2].get('uid'))}, registered {short(uid)}")
    rc = iut.wait_exit(max(0.0, 5.0 - (time.monotonic() - t0)))
    must(rc is not None, "the IUT still runs 5 s after SIGTERM")
    info(f"exit status {rc} after {time.monotonic() - t0:.2f} s")


def attempt(c, func, **kwargs):
    """Call self.<func>; the Reply, whatever it is."""
    return c.call("self", func, kwargs)


def refused(r):
    """REG-15: the answer to a change nobody allowed, an error PermissionError."""
    return r.kind == "error" and r.type_str == "PermissionError"


@pytest.mark.spec("REG-15")
def test_reg_15_only_the_registrant_or_the_named_uid_change_an_entry(reg, fresh_conn_factory):
    """Connection A registers uid X.  Connection B, with another uid, should be refused
    with PermissionError when it unregisters X or registers X with another address,
    and X stays as A registered it; A may change and remove X, and so may a connection
    whose own uid is X."""
    a = fresh_conn_factory(target=reg)
    b = fresh_conn_factory(target=reg)
    name, uuid = unique("owned"), new_cid()
    register(a, name, uuid, 1001)
    tries = (("unregister_actor", {"uid": [name, uuid]}),
             ("register_actor", {"uid": [name, uuid], "sockaddr": [HOST, 6666]}))
    for func, kwargs in tries:
        r = attempt(b, func, **kwargs)
        should(refused(r), f"REG-15: {func} of another connection's entry, over a channel with "
                           f"neither its registrant's uid nor its own, answered "
                           f"{short(r.final)}, not an error PermissionError")
        got = served(b, "find_actor", name=name)
        if not should(msgs.same(got, [HOST, 1001]),
                      f"REG-15: after a refused {func}, find_actor({name!r}) returned "
                      f"{short(got)}, not [{HOST}, 1001]"):
            register(a, name, uuid, 1001)
    r = attempt(a, "register_actor", uid=[name, uuid], sockaddr=[HOST, 1002])
    got = served(a, "find_actor", name=name)
    should(r.kind == "return" and msgs.same(got, [HOST, 1002]),
           f"REG-15: the registrant could not move its own entry: register_actor answered "
           f"{short(r.final)}, find_actor then {short(got)}")
    r = attempt(a, "unregister_actor", uid=[name, uuid])
    should(r.kind == "return" and r.value is None,
           f"REG-15: the registrant could not remove its own entry: unregister_actor answered "
           f"{short(r.final)}")
    register(a, name, uuid, 1003)
    x = fresh_conn_factory(target=reg, name=name, uuid=uuid)
    r = attempt(x, "register_actor", uid=[name, uuid], sockaddr=[HOST, 1004])
    should(r.kind == "return" and r.value is None,
           f"REG-15: the actor an entry names (a channel with uid X) could not move it: "
           f"register_actor answered {short(r.final)}")
    r = attempt(x, "unregister_actor", uid=[name, uuid])
    should(r.kind == "return" and r.value is None,
           f"REG-15: the actor an entry names (a channel with uid X) could not remove it: "
           f"unregister_actor answered {short(r.final)}")
    got = served(a, "find_actor", name=name)
    should(got is None, f"REG-15: find_actor({name!r}) returned {short(got)} after the actor "
                        f"it names unregistered it")


@pytest.mark.spec("REG-15", "REG-10")
def test_reg_15_nobody_changes_the_registrys_own_entry(private_iut, fresh_conn_factory):
    """Neither another peer nor a channel presenting the registry's own uid should be able
    to unregister the registry's own entry or register it with another address: each
    attempt is refused with PermissionError, and find_actor of the registry's name still
    returns its listening address.  (On an IUT of the case's own: an IUT that lets the
    entry go would lose it for the cases after.)"""
    reg = private_iut("--registry-role")
    c = fresh_conn_factory(target=reg)
    own = list(c.peer_uid)
    home = [reg.host, reg.port]
    got = served(c, "find_actor", name=own[0])
    must(msgs.same(got, home), f"find_actor of the registry's name {own[0]!r} returned "
                               f"{short(got)}, not its address {home} (REG-10)", rid="REG-10")
    twin = fresh_conn_factory(target=reg, name=own[0], uuid=own[1])
    for who, peer in (("another peer", c), ("a channel with the registry's own uid", twin)):
        for func, kwargs in (("unregister_actor", {"uid": own}),
                             ("register_actor", {"uid": own, "sockaddr": [HOST, 6666]})):
            r = attempt(peer, func, **kwargs)
            should(refused(r), f"REG-15: {func} of the registry's own entry by {who} answered "
                               f"{short(r.final)}, not an error PermissionError")
            got = served(c, "find_actor", name=own[0])
            if not should(msgs.same(got, home),
                          f"REG-15: after {func} of the registry's own entry by {who}, "
                          f"find_actor({own[0]!r}) returned {short(got)}, not {home}"):
                return


REG16_FRAME = 65536
REG16_COUNT = 400


@pytest.mark.spec("REG-16", "REG-8")
@pytest.mark.no_chop("bulk: 400 registrations")
def test_reg_16_get_registry_always_fits_one_message(private_iut, fresh_conn_factory):
    """A registry with 64 KiB messages (--max-frame 65536) given 400 registrations with
    200-byte names (about 100 KB of entries) should refuse some of them with an `error`,
    so that get_registry, asked with a 256-byte cid, still comes back as one `return`
    map within the message limit, listing the registrations taken and none of those
    refused."""
    reg = private_iut("--registry-role", "--max-frame", str(REG16_FRAME))
    c = fresh_conn_factory(target=reg)
    prefix = unique("r16")
    uids = [[f"{prefix}-{i:03d}-".ljust(200, "n"), new_cid()] for i in range(REG16_COUNT)]
    cids = [new_cid() for _ in uids]
    c.send_many([{"cmd": ["self", "register_actor", {"uid": u, "sockaddr": [HOST, 1000 + i]},
                          list(c.uid), cid]} for i, (u, cid) in enumerate(zip(uids, cids))])
    taken, turned, first = [], [], None
    for u, cid in zip(uids, cids):
        r = c.result(cid)
        must(r.kind in ("return", "error"), f"register_actor answered {short(r.final)}")
        (taken if r.kind == "return" else turned).append(u)
        first = first or (r.final if r.kind == "error" else None)
    info(f"{len(taken)} registrations taken, {len(turned)} refused"
         + (f" (the first refusal: {short(first, 200)})" if first else ""))
    should(turned, f"REG-16: {REG16_COUNT} registrations with 200-byte names were all taken by "
                   f"a registry whose messages are at most {REG16_FRAME} bytes: its entries "
                   f"are not bounded in bytes")
    cid = "get-registry-".ljust(256, "c")
    c.command("self", "get_registry", {}, cid=cid)
    try:
        r = c.result(cid)
    except Violation as e:
        should(False, f"REG-16: get_registry with {len(taken) + 1} entries was not answered: {e}")
        return
    if not should(r.kind == "return" and isinstance(r.value, dict),
                  f"REG-16: get_registry with {len(taken) + 1} entries answered {short(r.final)}, "
                  f"not a return map that fits one message"):
        return
    size = len(c.last_body)
    should(size <= REG16_FRAME, f"REG-16: the return of get_registry is {size} bytes, beyond the "
                                f"message limit of {REG16_FRAME}")
    table = r.value
    missing = [u for u in taken if tuple(u) not in table]
    if missing:
        must(False, f"get_registry lacks {len(missing)} of the {len(taken)} registrations "
                    f"taken, for example {short(missing[0])}", rid="REG-8")
    listed = [u for u in turned if tuple(u) in table]
    if listed:
        should(False, f"REG-16: {len(listed)} refused registrations are listed, for example "
                      f"{short(listed[0])}")
