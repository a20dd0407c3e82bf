# SPDX-License-Identifier: AGPL-3.0-or-later
"""The tractor adapter (conformance/iut/tractor): scwire_service served by tractor itself.

These cases start `iut/tractor/run.py`, a real tractor 0.1.0a4 root actor that
exposes the test service under the namespace `scwire_service`, and check the
adapter against the recordings: what the recorded tractor daemon answered,
the adapter must answer too (replayed with the profile `tractor`), and it must
register with a registry like any tractor root.  They cross-check the suite's
picture of tractor; judging tractor by the spec is what the whole suite does
when run with the adapter as the IUT (see conformance/README.md).

They need `import tractor` to work for /usr/bin/python3 (PYTHONPATH), and are
skipped with the reason "tractor is not importable" when it does not, as on CI.
tractor 0.1.0a4 speaks lenprefix only with msgspec, so with --codec lenprefix
they are skipped unless msgspec imports.
"""
import importlib.util
import os
import signal

import pytest

from scwire_conform import msgs, replay
from scwire_conform.callee import Callee, ctx_call
from scwire_conform.profiles import TRACTOR
from scwire_conform.verdict import Violation, info, must
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short

REPLAYED = ["rpc_return", "rpc_error", "d_rpc_error", "asyncgen", "e_asyncgen",
            "context_stream", "f_context_stream", "context_error", "context_overrun",
            "context_cancel", "g_context_overrun", "registry", "i_registry", "cancel_task",
            "a_handshake", "j_unknown_cid", "k5_cmd_errors"]
KILLERS = ["k1_no_cmd_no_cid", "k2_non_map", "k3_garbage_byte", "k4_bad_uid",
           "k6_cmd_self_unknown"]


@pytest.fixture
def adapter(tractor_iut, settings):
    if settings.codec == "lenprefix" and importlib.util.find_spec("msgspec") is None:
        pytest.skip("tractor 0.1.0a4 speaks lenprefix only when msgspec imports, and it "
                    "does not here")
    return tractor_iut


def recording(vectors_dir, name):
    path = os.path.join(vectors_dir, name + ".jsonl")
    if not os.path.exists(path):
        pytest.skip(f"the recording {path} is not there (give --vectors DIR)")
    return replay.Recording(path)


@pytest.mark.spec("SVC-1", "SVC-2", "SVC-6", "SVC-8", "SVC-12", "SVC-13", "SVC-16")
def test_svc_1_tractor_adapter_serves_the_test_service(adapter, fresh_conn_factory, settings):
    """The adapter prints the address it listens on first, handshakes as a tractor
    root actor and serves scwire_service: echo, count, raise_error, ctx_echo and
    ctx_return give the sequences of test-service.md section 4 (ctx_echo with
    tractor's repeated stop)."""
    iut = adapter()
    must(iut.first_line and iut.first_line.strip() == f"{iut.host}:{iut.port}",
         f"first stdout line {iut.first_line!r}")
    c = fresh_conn_factory(target=iut)
    r = c.call(SERVICE, "echo", value={"a": [1, 2.5, "x", None, True]})
    must(r.kind == "return" and msgs.same(r.value, {"a": [1, 2.5, "x", None, True]}),
         f"echo answered {short(r.final)}")
    values, final = c.open_stream_from(SERVICE, "count", n=3).collect()
    must(values == [0, 1, 2] and msgs.stop(final["cid"])(final), f"count(3): {values}")
    r = c.call(SERVICE, "raise_error", type_str="ScwireCustomError", text="kaboom")
    must(r.functype == "asyncfunc" and r.type_str == "ScwireCustomError"
         and "kaboom" in r.error["tb_str"], f"raise_error answered {short(r.final)}")
    ctx = c.open_context(SERVICE, "ctx_echo", first="hi")
    ctx.send_yield(0)
    must(msgs.yield_(ctx.cid, 0)(ctx.next()), "ctx_echo did not echo")
    ctx.send_stop()
    _, stops, final = ctx.finish()
    must(msgs.ret(ctx.cid, 1)(final), f"ctx_echo ended with {short(final)}")
    ctx = c.open_context(SERVICE, "ctx_return", value=[1, 2])
    _, _, final = ctx.finish()
    must(msgs.ret(ctx.cid, [1, 2])(final), f"ctx_return ended with {short(final)}")
    info(f"served at {iut.host}:{iut.port} as {c.peer_uid}; ctx_echo sent stop x{stops}")


@pytest.mark.spec("SVC-13", "OVR-6")
def test_svc_13_tractor_adapter_ctx_echo_uses_backpressure(adapter, fresh_conn_factory):
    """The adapter's ctx_echo opens its stream with backpressure: 100 yields sent at
    once draw no StreamOverrun, and all 100 come back in order."""
    c = fresh_conn_factory(target=adapter())
    ctx = c.open_context(SERVICE, "ctx_echo", first=None)
    c.send_many([{"yield": i, "cid": ctx.cid} for i in range(100)])
    ctx.send_stop()
    values, _, final = ctx.finish()
    must(values == list(range(100)) and msgs.ret(ctx.cid, 100)(final),
         f"ctx_echo gave back {short(values)} and ended with {short(final)}")


@pytest.mark.spec("SVC-29", "CTX-7")
def test_svc_29_tractor_adapter_calls_a_context(adapter, fresh_conn_factory, settings, case):
    """The adapter's ctx_call, written with tractor's Portal.open_context, returns
    [started, "returned", value] and, cancelling when idle ends, [started,
    "cancelled", nil] with the callee's ContextCancelled taken as the answer
    (CTX-7).  Whether a remote error fails its unread context at once is
    recorded: that is judged when the whole suite runs against the adapter."""
    c = fresh_conn_factory(target=adapter())
    with Callee(settings.codec, case.wire_log, host=settings.suite_host,
                timeout=settings.timeout) as callee:
        cid, _ = ctx_call(c, callee, idle=0.5)
        callee.start([1])
        callee.conn.send({"return": "r", "cid": callee.cid})
        c.expect(msgs.ret(cid, [[1], "returned", "r"]), cid=cid)
    with Callee(settings.codec, case.wire_log, host=settings.suite_host,
                timeout=settings.timeout) as callee:
        cid, _ = ctx_call(c, callee, idle=0.2)
        callee.start(None)
        cmd = callee.conn.recv()["cmd"]
        must(cmd[1] == "_cancel_task", f"expected _cancel_task once idle ended; got {cmd!r}")
        callee.conn.send_many([{"functype": "asyncfunc", "cid": cmd[4]},
                               {"error": {"tb_str": "cancelled", "type_str": "ContextCancelled"},
                                "cid": callee.cid},
                               {"return": None, "cid": cmd[4]}])
        c.expect(msgs.ret(cid, [None, "cancelled", None]), cid=cid)
    with Callee(settings.codec, case.wire_log, host=settings.suite_host,
                timeout=settings.timeout) as callee:
        cid, _ = ctx_call(c, callee, idle=600)
        callee.start(None)
        callee.send_error("KeyError", "gone")
        try:
            m = c.expect(msgs.error(cid), timeout=settings.prompt, cid=cid)
            info(f"a remote error failed the unread context at once: {short(m)}")
        except Violation:
            info("a remote error did not end ctx_call within the prompt time: the caller's "
                 "open_context stays blocked (CTX-7 not met)")


@pytest.mark.spec("SVC-5")
@pytest.mark.parametrize("name", REPLAYED)
def test_svc_5_tractor_adapter_reproduces_the_recordings(adapter, fresh_conn_factory,
                                                         vectors_dir, settings, name):
    """Replayed against the adapter, the recorded tractor client's conversation gets
    exactly the recorded tractor daemon's replies (profile tractor: stops counted,
    nil at the end of a channel optional), so the adapter is tractor on the wire."""
    rec = recording(vectors_dir, name)
    iut = adapter()
    r = replay.Replayer(rec, fresh_conn_factory, target=iut, registry=True,
                        prompt=settings.prompt, timeout=settings.timeout, profile=TRACTOR)
    try:
        r.run()
    finally:
        r.cleanup()
    diffs = [d for res in r.results for d in res.diffs + replay.compare(res, TRACTOR)]
    left = sorted({s for res in r.results for s in res.skipped})
    must(not diffs, f"{name}: the adapter's replies differ from the recording: "
                    + " | ".join(diffs[:5]))
    info(f"{name}: {sum(len(x.expected) for x in r.results)} replies as recorded"
         + (f"; left out: {'; '.join(left)}" if left else ""))


@pytest.mark.spec("SEC-1")
@pytest.mark.info_only
@pytest.mark.parametrize("name", KILLERS)
def test_sec_1_tractor_adapter_exits_like_the_recorded_daemon(adapter, fresh_conn_factory,
                                                              vectors_dir, settings, name):
    """After the recorded hostile input, the adapter goes down as the recorded tractor
    daemon did (tractor 0.1.0a4's behaviour, which SEC-1 forbids); recorded as INFO,
    with the exit status."""
    rec = recording(vectors_dir, name)
    iut = adapter()
    r = replay.Replayer(rec, fresh_conn_factory, target=iut, registry=True,
                        prompt=settings.prompt, timeout=settings.timeout, profile=TRACTOR)
    r.run()
    rc = iut.wait_exit(settings.timeout)
    info(f"{name}: the adapter " + (f"exited with status {rc}" if rc is not None else
                                    "still runs")
         + f"; the recorded daemon {'survived' if rec.daemon_alive else 'exited with status'}"
         + ("" if rec.daemon_alive else f" {rec.daemon_status}"))
    must(rc is not None, f"{name}: the adapter survived where tractor exits")


@pytest.mark.spec("REG-11", "REG-12")
@pytest.mark.role("client")
def test_reg_11_tractor_adapter_registers_like_a_tractor_root(adapter, scripted_registry,
                                                              settings):
    """Given a registry, the adapter probes it (connect and drop), registers its uid and
    bound address over a fresh connection, and on SIGTERM exits, unregistering within
    tractor's 0.5 s bound."""
    server = scripted_registry()
    iut = adapter(registry=server.addr)
    s, m = server.wait_command("register_actor", settings.timeout)
    must(m is not None, "the adapter did not register")
    kwargs = m["cmd"][2]
    must(msgs.same(kwargs.get("sockaddr"), [iut.host, iut.port]),
         f"registered {short(kwargs.get('sockaddr'))}, bound {iut.host}:{iut.port}")
    probes = [x for x in server.seen[:s.index] if x.silent]
    iut.send_signal(signal.SIGTERM)
    rc = iut.wait_exit(5.0)
    must(rc is not None, "the adapter still runs 5 s after SIGTERM")
    _, um = server.wait_command("unregister_actor", 1.0 + settings.slack, after=s.index + 1)
    must(um is None or msgs.same(um["cmd"][2].get("uid"), kwargs.get("uid")),
         f"unregistered {short(um['cmd'][2].get('uid')) if um else None}, not the registered "
         f"{short(kwargs.get('uid'))}")
    info(f"{len(probes)} probe(s) before registering; exit status {rc} after SIGTERM; "
         + ("unregistered" if um else "no unregister_actor (tractor gives its unregistration "
                                      "0.5 s, connection included, then goes on exiting)"))
