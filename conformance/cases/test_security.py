# SPDX-License-Identifier: AGPL-3.0-or-later
"""Malformed and hostile input (protocol.md section 13, SEC; section 9, SELF-2).

Each bad input goes on a connection of its own while a bystander channel holds
a live context.  The allowed outcomes are those of the table in section 13:
the message rejected (no reply, connection usable), the connection closed, or
the `error` a requirement asks for; never the IUT down or the bystander hurt.
"""
import time

import pytest

from scwire_conform import msgs
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import Violation, info, must
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short

UID = ["scwire-conform", "00000000-0000-4000-8000-000000000000"]


def open_bystander(factory):
    c = factory()
    return c, c.open_context(SERVICE, "ctx_echo", first="bystander")


def check_bystander(c, ctx):
    ctx.send_yield("still there")
    m = ctx.next()
    must(msgs.yield_(ctx.cid, "still there")(m), f"the bystander's context answered {short(m)}")
    ctx.send_stop()
    _, _, final = ctx.finish()
    must(msgs.ret(ctx.cid, 1)(final), f"the bystander's context ended with {short(final)}")


def serves_new_connection(factory):
    r = factory().call(SERVICE, "echo", value="new")
    must(r.kind == "return" and r.value == "new", f"a new connection got {short(r.final)}")


def rejected_or_closed(c, settings, what):
    """The outcome of a malformed message: "rejected" (no reply, still usable) or
    "closed"; anything else is a violation."""
    try:
        c.barrier(timeout=settings.prompt)
    except Violation:
        if c.closed:
            return "closed"
        raise
    extra = c.unread()
    must(not extra, f"expected no reply to {what}; observed " + ", ".join(short(m) for m in extra))
    return "rejected"


MALFORMED = [
    ("int-42", 42), ("str", "hello"), ("true", True), ("array", [1, 2]), ("bin", b"\x00"),
    ("map-without-cmd-or-cid", {"foo": 1}),
    ("error-without-cid", {"error": {"tb_str": "", "type_str": "ValueError"}}),
    ("cmd-not-array", {"cmd": "echo"}),
    ("cmd-4-items", {"cmd": [SERVICE, "echo", {"value": 1}, UID]}),
    ("cmd-6-items", {"cmd": [SERVICE, "echo", {"value": 1}, UID, "c6", "extra"]}),
    ("cmd-cid-map", {"cmd": [SERVICE, "echo", {"value": 1}, UID, {"c": 1}]}),
    ("cmd-cid-int", {"cmd": [SERVICE, "echo", {"value": 1}, UID, 5]}),
    ("cmd-cid-empty", {"cmd": [SERVICE, "echo", {"value": 1}, UID, ""]}),
    ("cmd-cid-nil", {"cmd": [SERVICE, "echo", {"value": 1}, UID, None]}),
]


@pytest.mark.spec("SEC-3", "SEC-8", "SEC-1")
@pytest.mark.may_kill
@pytest.mark.parametrize("bad", [m for _, m in MALFORMED], ids=[i for i, _ in MALFORMED])
def test_sec_3_malformed_message_rejected_or_connection_closed(fresh_conn_factory, settings,
                                                               bad):
    """A post-handshake value that is neither nil nor a usable map, or a `cmd` that is
    not an array of five with a non-empty str cid, is dropped without reply or its
    connection is closed; the IUT keeps serving the bystander and new connections."""
    bystander, ctx = open_bystander(fresh_conn_factory)
    c = fresh_conn_factory()
    c.send(bad)
    info(f"{short(bad)}: {rejected_or_closed(c, settings, short(bad))}")
    check_bystander(bystander, ctx)
    serves_new_connection(fresh_conn_factory)


BAD_FIELDS = [
    ("ns-int", [5, "echo", {"value": 1}, UID]),
    ("ns-nil", [None, "echo", {"value": 1}, UID]),
    ("func-int", [SERVICE, 5, {"value": 1}, UID]),
    ("func-array", [SERVICE, ["echo"], {"value": 1}, UID]),
    ("kwargs-array", [SERVICE, "echo", [1], UID]),
    ("kwargs-nil", [SERVICE, "echo", None, UID]),
    ("kwargs-int-key", [SERVICE, "echo", {1: 1}, UID]),
    ("uid-str", [SERVICE, "echo", {"value": 1}, "ab"]),
    ("uid-one-item", [SERVICE, "echo", {"value": 1}, ["x"]]),
    ("uid-ints", [SERVICE, "echo", {"value": 1}, [1, 2]]),
    ("cancel_task-kwargs-array", ["self", "_cancel_task", ["c"], UID]),
    ("context-kwargs-array", [SERVICE, "ctx_echo", ["c"], UID]),
    ("asyncgen-kwargs-nil", [SERVICE, "count", None, UID]),
]


@pytest.mark.spec("SEC-4", "SEC-8")
@pytest.mark.may_kill
@pytest.mark.parametrize("fields", [f for _, f in BAD_FIELDS], ids=[i for i, _ in BAD_FIELDS])
def test_sec_4_cmd_with_a_wrong_field_messaging_error(conn, fields):
    """A `cmd` of five items with a usable cid but a field of the wrong type is
    answered with exactly one `error` MessagingError on that cid, without functype,
    and the connection stays usable."""
    cid = new_cid()
    conn.send({"cmd": fields + [cid]})
    conn.expect(msgs.error(cid, "MessagingError"))
    conn.expect_quiet(cid, "nothing after the MessagingError")


BAD_ROUTED = [
    ("no-kind-key", {"x": 1}),
    ("error-int", {"error": 5}),
    ("error-str", {"error": "boom"}),
    ("error-without-type_str", {"error": {"tb_str": "x"}}),
    ("error-type_str-int", {"error": {"tb_str": "x", "type_str": 5}}),
]


@pytest.mark.spec("SEC-5", "SEC-8")
@pytest.mark.may_kill
@pytest.mark.parametrize("bad", [m for _, m in BAD_ROUTED], ids=[i for i, _ in BAD_ROUTED])
def test_sec_5_routed_message_without_a_valid_kind_dropped(conn, bad):
    """A message for a live context with no kind key, or whose `error` is not a map
    with a str type_str, is dropped: no reply, and the context goes on as before."""
    ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
    conn.send({**bad, "cid": ctx.cid})
    conn.expect_quiet(ctx.cid, f"no reply to {short(bad)}")
    ctx.send_yield("after")
    m = ctx.next()
    must(msgs.yield_(ctx.cid, "after")(m), f"the context answered {short(m)}, not the echo")
    ctx.send_stop()
    _, _, final = ctx.finish()
    must(msgs.ret(ctx.cid, 1)(final), f"expected return 1; observed {short(final)}")


SELF_METHODS = ["no_such_method", "cancel_rpc_tasks", "_from_parent", "__init__", "Cancel",
                "_cancel_task ", "register_actor", "unregister_actor", "find_actor",
                "wait_for_actor", "get_registry"]
REGISTRY_METHODS = {"register_actor", "unregister_actor", "find_actor", "wait_for_actor",
                    "get_registry"}


@pytest.mark.spec("SELF-2", "SEC-6", "SEC-8")
@pytest.mark.may_kill
@pytest.mark.parametrize("method", SELF_METHODS)
def test_self_2_other_self_methods_attribute_error(conn, settings, method):
    """A `self` command for a method that is not allowed (registry methods included,
    on an IUT that is not a registry) is answered with exactly one `error`
    AttributeError without functype; nothing runs and the connection stays usable."""
    if method in REGISTRY_METHODS and settings.registry:
        pytest.skip("the IUT is configured as a registry, where this method is served")
    kwargs = {"uid": UID, "sockaddr": ["127.0.0.1", 1]} if method == "register_actor" else {}
    r = conn.call("self", method, kwargs)
    must(r.functype is None and r.type_str == "AttributeError",
         f"self.{method} answered functype={r.functype} {short(r.final)}")
    conn.expect_quiet(r.cid, "nothing after the refusal")


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


@pytest.mark.spec("SEC-2")
@pytest.mark.may_kill
def test_sec_2_hostile_connections_do_not_delay_others(fresh_conn_factory, settings):
    """While one peer holds half a message, one holds half a uid, and one sends 300
    requests without reading any reply, echoes on another channel are answered
    promptly."""
    half = fresh_conn_factory()
    data = half.codec.encode({"cmd": [SERVICE, "echo", {"value": "x" * 50_000},
                                      list(half.uid), new_cid()]})
    half.send_raw(data[:len(data) // 2], note="half a message, the rest withheld")
    shy = fresh_conn_factory(handshake=False)
    shy.send_raw(shy.codec.encode(["shy", new_cid()])[:5], note="half a uid")
    deaf = fresh_conn_factory()
    deaf.send_many([{"cmd": [SERVICE, "echo", {"value": "y" * 10_000}, list(deaf.uid),
                             new_cid()]} for _ in range(300)])
    bystander = fresh_conn_factory()
    worst = 0.0
    for i in range(10):
        t0 = time.monotonic()
        r = bystander.call(SERVICE, "echo", value=i)
        worst = max(worst, time.monotonic() - t0)
        must(r.kind == "return" and r.value == i, f"echo {i} answered {short(r.final)}")
    must(worst <= settings.prompt, f"an echo took {worst:.2f} s next to the hostile peers")
    info(f"slowest echo {worst * 1000:.1f} ms")
