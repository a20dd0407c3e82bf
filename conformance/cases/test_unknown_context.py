# SPDX-License-Identifier: AGPL-3.0-or-later
"""Routing of messages that name no live context (protocol.md section 4, CID).

Such messages are dropped with a warning: nothing comes back and the channel
stays usable.  A map that carries a present cid is routed even when it also
has a `cmd` key, and that `cmd` is never run.
"""
import pytest

from scwire_conform import msgs
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import must
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short

STRAY = {
    "yield": lambda cid: {"yield": 1, "cid": cid},
    "return": lambda cid: {"return": 1, "cid": cid},
    "stop": lambda cid: {"stop": True, "cid": cid},
    "error": lambda cid: {"error": {"tb_str": "x", "type_str": "ValueError"}, "cid": cid},
    "started": lambda cid: {"started": None, "cid": cid},
    "functype": lambda cid: {"functype": "asyncfunc", "cid": cid},
}


def expect_nothing_back(conn):
    """After a barrier, nothing at all may be queued (no reply to the stray messages)."""
    conn.barrier()
    got = conn.unread()
    must(not got, "expected no reply to the dropped messages; observed "
                  + ", ".join(short(m) for m in got))


@pytest.mark.spec("CID-6")
@pytest.mark.parametrize("kind", list(STRAY))
def test_cid_6_unknown_cid_dropped_silently(conn, kind):
    """A message of any kind whose cid never named a context is dropped: nothing is
    sent back and the channel stays usable."""
    conn.send(STRAY[kind](new_cid()))
    expect_nothing_back(conn)


@pytest.mark.spec("CID-6")
@pytest.mark.parametrize("kind", ["yield", "stop", "error", "return"])
def test_cid_6_finished_cid_dropped_silently(conn, kind):
    """A message for the cid of a request that has finished (an echo that returned,
    a context that returned) is dropped without reply."""
    r = conn.call(SERVICE, "echo", value=1)
    ctx = conn.open_context(SERVICE, "ctx_return", value=2)
    ctx.finish()
    for cid in (r.cid, ctx.cid):
        conn.send(STRAY[kind](cid))
    expect_nothing_back(conn)


@pytest.mark.spec("CID-6")
@pytest.mark.parametrize("cid", [5, -1, 1.5, True, [1], {"c": 1}, b"bin"],
                         ids=["int", "negative", "float", "true", "array", "map", "bin"])
def test_cid_6_cid_that_is_not_a_str_dropped(conn, cid):
    """A message whose cid is present but not a str names no context and is dropped
    without reply."""
    conn.send({"yield": 1, "cid": cid})
    conn.send({"stop": True, "cid": cid})
    expect_nothing_back(conn)


@pytest.mark.spec("CID-1")
@pytest.mark.parametrize("cid", ["", None, False, 0, 0.0, b"", [], {}],
                         ids=["empty-str", "nil", "false", "zero", "zero-float", "empty-bin",
                              "empty-array", "empty-map"])
def test_cid_1_map_with_absent_cid_dropped(conn, cid):
    """A map that has a `cid` key whose value is not present (empty, nil, false, zero)
    and no `cmd` key is dropped: nothing comes back and the channel stays usable."""
    conn.send({"yield": 1, "cid": cid})
    conn.send({"error": {"tb_str": "", "type_str": "ValueError"}, "cid": cid})
    expect_nothing_back(conn)


@pytest.mark.spec("CID-1", "CID-5")
@pytest.mark.parametrize("cid", ["", None, False, 0, b""],
                         ids=["empty-str", "nil", "false", "zero", "empty-bin"])
def test_cid_1_command_beside_an_absent_cid_is_run(conn, cid):
    """A map with a `cmd` and a `cid` key whose value is not present (empty, nil,
    false, zero) is a command, not a routed message: it is run and answered on
    its own cid."""
    own = new_cid()
    conn.send({"cmd": [SERVICE, "echo", {"value": "run"}, list(conn.uid), own], "cid": cid})
    conn.expect(msgs.functype(own, "asyncfunc"), cid=own, rid="CID-1")
    conn.expect(msgs.ret(own, "run"), cid=own, rid="CID-1")


@pytest.mark.spec("CID-5", "CID-1")
@pytest.mark.parametrize("target", ["unknown", "live-context"])
def test_cid_5_map_with_cid_and_cmd_is_routed_not_run(conn, target):
    """A map with a present cid and a `cmd` key is routed by its cid (to a live
    context or dropped) and its `cmd` is not run: nothing comes on the command's
    own cid, and a live context it names goes on as before."""
    ctx = conn.open_context(SERVICE, "ctx_echo", first=None)
    cmd_cid = new_cid()
    cid = ctx.cid if target == "live-context" else new_cid()
    conn.send({"cmd": [SERVICE, "echo", {"value": "must not run"}, list(conn.uid), cmd_cid],
               "cid": cid})
    conn.barrier()
    for c in (cmd_cid, ctx.cid):
        got = conn.unread(c)
        must(not got, f"expected nothing on cid {c}; observed " + ", ".join(short(m) for m in got),
             rid="CID-5")
    ctx.send_yield("after")
    m = ctx.next()
    must(msgs.yield_(ctx.cid, "after")(m), f"the context answered {short(m)}, not the echo")
    ctx.send_stop()
    _, _, final = ctx.finish()
    must(msgs.ret(ctx.cid, 1)(final),
         f"expected the context to return 1 (one value echoed); observed {short(final)}")
