# SPDX-License-Identifier: AGPL-3.0-or-later
"""RPC: dispatch of commands and the asyncfunc and asyncgen sequences.

protocol.md sections 3 (MSG), 4 (CID-8), 5 (RPC) and 8 (ERR); the functions of
test-service.md (SVC).  Every case runs on its own fresh connection.
"""
import re
import threading
import time

import pytest

from scwire_conform import msgs
from scwire_conform.callee import Callee, ctx_call
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import Violation, must, should
from scwire_conform.wire import SERVICE, Closed, Timeout
from scwire_conform.wirelog import short

ECHO_VALUE = {"a": [1, 2.5, "x", None, True]}   # the value of the recorded tractor echo


@pytest.mark.spec("RPC-6", "RPC-1", "MSG-3", "SVC-8")
def test_rpc_6_echo_functype_then_return(conn):
    """echo(value) is answered with `functype asyncfunc` first and then one `return`
    holding the value unchanged, each a map with exactly one kind key and the cid."""
    cid = conn.command(SERVICE, "echo", {"value": ECHO_VALUE})
    conn.expect(msgs.functype(cid, "asyncfunc"))
    conn.expect(msgs.ret(cid, ECHO_VALUE))


@pytest.mark.spec("RPC-6", "SVC-9", "ERR-1", "ERR-2")
@pytest.mark.parametrize("type_str", ["ValueError", "ScwireCustomError"])
def test_rpc_6_raise_error_functype_then_error(conn, type_str):
    """raise_error(type_str, text) is answered with `functype asyncfunc`, then one
    `error` whose type_str is the one asked for (even a name the IUT cannot know)
    and whose tb_str holds the text and should end with `Type: text`."""
    text = "kaboom " + new_cid()
    cid = conn.command(SERVICE, "raise_error", {"type_str": type_str, "text": text})
    conn.expect(msgs.functype(cid, "asyncfunc"))
    m = conn.expect(msgs.error(cid, type_str, text_in_tb=text))
    lines = [ln for ln in m["error"]["tb_str"].splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    should(re.match(rf"^([\w]+\.)*{re.escape(type_str)}: .*{re.escape(text)}", last),
           f"ERR-2: tb_str should end with the line `{type_str}: <message>`; its last line "
           f"is {last!r}")


@pytest.mark.spec("RPC-2", "RPC-1", "SVC-7", "ERR-3")
@pytest.mark.parametrize("ns", ["scwire_absent", "os", "SCWIRE_SERVICE", "scwire_service ",
                                "scwire_service.echo", ""],
                         ids=["scwire_absent", "os", "upper-case", "trailing-space", "dotted",
                              "empty"])
def test_rpc_2_unexposed_namespace_module_not_exposed(conn, ns):
    """A command for a namespace that is not exactly an exposed one is answered with
    exactly one `error` ModuleNotExposed, without functype, and the connection
    stays usable."""
    cid = conn.command(ns, "echo", {"value": 1})
    conn.expect(msgs.error(cid, "ModuleNotExposed"))
    conn.expect_quiet(cid, "nothing after the refusal")


@pytest.mark.spec("RPC-3", "RPC-1", "SVC-7", "ERR-3")
@pytest.mark.parametrize("func", ["no_such_function", "Echo", "echo ", "echo\x00", "",
                                  "__init__"],
                         ids=["no_such_function", "capitalised", "trailing-space", "trailing-nul",
                              "empty", "dunder-init"])
def test_rpc_3_unknown_function_attribute_error(conn, func):
    """A command for a name that is not exactly a function of scwire_service is
    answered with exactly one `error` AttributeError, without functype, and the
    connection stays usable.  `__init__` exists in many implementations' namespaces
    without being a remote function: TypeError may answer it (RPC-5)."""
    cid = conn.command(SERVICE, func, {"value": 1})
    allowed = msgs.error(cid, "AttributeError")
    if func == "__init__":
        allowed = allowed | msgs.error(cid, "TypeError")
    conn.expect(allowed)
    conn.expect_quiet(cid, "nothing after the refusal")


# Every function of test-service.md section 3 with kwargs that fit, and what
# each parameter takes: the mismatches below are made from them, so that every
# parameter is tried missing and with each wrong type, and every function with
# an unexpected key.
SIGNATURES = {
    "echo": {"value": "any"}, "raise_error": {"type_str": "str", "text": "str"},
    "sleep": {"seconds": "number"}, "count": {"n": "int"}, "ctx_echo": {"first": "any"},
    "ctx_no_stream": {"value": "any"}, "ctx_error_after_started": {"type_str": "str"},
    "ctx_return": {"value": "any"}, "ctx_stream_out": {"n": "int"},
    "ctx_slow_sink": {"delay": "number", "backpressure": "bool"},
}
FITTING = {"any": 1, "str": "ValueError", "number": 0.25, "int": 2, "bool": True}
WRONG = {"str": [("int", 5), ("nil", None)],
         "number": [("str", "0"), ("bool", True), ("nil", None)],
         "int": [("str", "3"), ("float", 1.5), ("integral-float", 3.0), ("bool", True)],
         "bool": [("int-1", 1), ("int-0", 0), ("str", "yes")]}


def kwargs_mismatches():
    out = []
    for func, params in SIGNATURES.items():
        good = {p: FITTING[t] for p, t in params.items()}
        out.append(pytest.param(func, {**good, "extra": 2}, id=f"{func}-unexpected"))
        for p, t in params.items():
            out.append(pytest.param(func, {k: v for k, v in good.items() if k != p},
                                    id=f"{func}-{p}-missing"))
            for label, value in WRONG.get(t, []):
                out.append(pytest.param(func, {**good, p: value}, id=f"{func}-{p}-{label}"))
    return out


@pytest.mark.spec("RPC-4", "RPC-1", "SVC-6", "ERR-3")
@pytest.mark.parametrize("func,kwargs", kwargs_mismatches())
def test_rpc_4_kwargs_mismatch_type_error(conn, func, kwargs):
    """A command whose kwargs do not fit the function (a missing or unexpected key,
    a value of the wrong type) is answered with exactly one `error` TypeError,
    without functype, and the connection stays usable."""
    cid = conn.command(SERVICE, func, kwargs)
    conn.expect(msgs.error(cid, "TypeError"), rid="RPC-4")
    conn.expect_quiet(cid, "nothing after the refusal")


@pytest.mark.spec("RPC-7", "SVC-12")
@pytest.mark.parametrize("n", [0, 1, 5, 200])
def test_rpc_7_count_yields_then_stop(conn, n):
    """count(n) is answered with `functype asyncgen`, then `yield` 0 to n-1 in order,
    then `stop` (only `stop` for n = 0)."""
    stream = conn.open_stream_from(SERVICE, "count", n=n)
    values, final = stream.collect()
    must(msgs.stop(stream.cid)(final), f"expected stop after {len(values)} yields; "
                                        f"observed {short(final)}")
    must(values == list(range(n)), f"expected yields 0..{n - 1}; observed {short(values)}")


@pytest.mark.spec("RPC-9")
def test_rpc_9_nothing_after_final_message(conn):
    """After its final message on a cid (return, error, stop of an asyncgen, or a
    refusal) the IUT sends nothing more on that cid."""
    done = []
    r = conn.call(SERVICE, "echo", value=1)
    done.append(r.cid)
    r = conn.call(SERVICE, "raise_error", type_str="ValueError", text="x")
    must(r.kind == "error", f"raise_error answered {short(r.final)}")
    done.append(r.cid)
    r = conn.call(SERVICE, "no_such_function")
    done.append(r.cid)
    stream = conn.open_stream_from(SERVICE, "count", n=3)
    stream.collect()
    done.append(stream.cid)
    conn.barrier()
    for cid in done:
        extra = conn.unread(cid)
        must(not extra, f"expected nothing more on cid {cid}; observed "
                        + ", ".join(short(m) for m in extra))


@pytest.mark.spec("CID-8")
def test_cid_8_per_cid_order_with_interleaved_requests(conn):
    """Three count(200) streams and three echoes sent back to back are each answered
    in order on their own cid, whatever the interleaving between cids."""
    streams = [conn.command(SERVICE, "count", {"n": 200}) for _ in range(3)]
    echoes = [conn.command(SERVICE, "echo", {"value": i}) for i in range(3)]
    for cid in streams:
        conn.expect(msgs.functype(cid, "asyncgen"), cid=cid)
        for i in range(200):
            conn.expect(msgs.yield_(cid, i), cid=cid)
        conn.expect(msgs.stop(cid), cid=cid)
    for i, cid in enumerate(echoes):
        conn.expect(msgs.functype(cid, "asyncfunc"), cid=cid)
        conn.expect(msgs.ret(cid, i), cid=cid)


@pytest.mark.spec("RPC-10")
@pytest.mark.no_chop("about timing (promptness)")
def test_rpc_10_running_tasks_do_not_delay_dispatch(conn, fresh_conn_factory, settings):
    """While sleep_forever runs on one channel and sleep(30) on another, echo
    requests on both channels are answered promptly."""
    other = fresh_conn_factory()
    forever = conn.command(SERVICE, "sleep_forever")
    conn.expect(msgs.functype(forever, "asyncfunc"))
    slow = other.command(SERVICE, "sleep", {"seconds": 30})
    other.expect(msgs.functype(slow, "asyncfunc"))
    for c in (conn, other, conn):
        t0 = time.monotonic()
        r = c.call(SERVICE, "echo", value="ping")
        took = time.monotonic() - t0
        must(r.kind == "return" and r.value == "ping", f"echo answered {short(r.final)}")
        must(took <= settings.prompt, f"echo behind a running task took {took:.2f} s "
                                      f"(promptly means {settings.prompt:g} s)")


@pytest.mark.spec("SVC-10")
@pytest.mark.no_chop("about timing (sleep durations)")
def test_svc_10_sleep_returns_nil_after_seconds(conn, settings):
    """sleep(seconds) returns nil no earlier than `seconds` after the command and
    promptly after that, for a float and an int."""
    for seconds in (0.3, 0):
        t0 = time.monotonic()
        r = conn.call(SERVICE, "sleep", seconds=seconds)
        took = time.monotonic() - t0
        must(r.functype == "asyncfunc" and r.kind == "return" and r.value is None,
             f"sleep({seconds}) answered {short(r.final)}")
        must(took >= seconds, f"sleep({seconds}) returned after only {took:.3f} s")
        must(took <= seconds + settings.prompt,
             f"sleep({seconds}) returned after {took:.3f} s, not promptly")


@pytest.mark.spec("SVC-10")
def test_svc_10_sleep_is_not_cut_short_by_other_traffic(conn, fresh_conn_factory):
    """sleep(0.5) returns no earlier than 0.5 s after its command even while another
    channel keeps the IUT busy, with an echo every 10 ms and a sleep(0.45) of its own:
    a timer must not fire early because the IUT woke up for something else, another
    timer included."""
    other = fresh_conn_factory()
    neighbour = fresh_conn_factory()
    near = neighbour.command(SERVICE, "sleep", {"seconds": 0.45})
    stop, problems = threading.Event(), []

    def busy():
        while not stop.is_set():
            try:
                other.call(SERVICE, "echo", value="busy")
            except (Violation, Closed, Timeout) as e:
                problems.append(str(e))
                return
            stop.wait(0.01)
    t = threading.Thread(target=busy, name="busy", daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        r = conn.call(SERVICE, "sleep", seconds=0.5)
        took = time.monotonic() - t0
    finally:
        stop.set()
        t.join(2.0)
    must(not problems, f"the echoes beside the sleep failed: {problems[0] if problems else ''}")
    neighbour.result(near)
    must(r.kind == "return" and r.value is None, f"sleep(0.5) answered {short(r.final)}")
    must(took >= 0.5, f"sleep(0.5) returned after only {took:.3f} s while another channel "
                      f"kept the IUT busy")


@pytest.mark.spec("SVC-11")
def test_svc_11_sleep_forever_silent_until_cancelled(conn):
    """sleep_forever sends `functype asyncfunc` and then nothing; cancelled with
    self._cancel_task it still sends nothing, and the cancel returns nil."""
    cid = conn.command(SERVICE, "sleep_forever")
    conn.expect(msgs.functype(cid, "asyncfunc"))
    conn.expect_quiet(cid, "nothing while it sleeps")
    r = conn.cancel_task(cid)
    must(r.kind == "return" and r.value is None, f"_cancel_task answered {short(r.final)}")
    conn.expect_quiet(cid, "nothing after the cancel")


@pytest.mark.spec("MSG-6")
def test_msg_6_unknown_keys_ignored_and_not_sent(conn):
    """The IUT ignores a key it does not know at the top level of a command, and its
    own replies carry no key beyond a kind key and cid (and tb_str and type_str in an
    error)."""
    cid = new_cid()
    conn.send({"cmd": [SERVICE, "echo", {"value": 7}, list(conn.uid), cid],
               "scwire_extra": 1})
    r = conn.result(cid)
    should(r.kind == "return" and r.value == 7,
           f"a command with an extra top-level key was answered {short(r.final)}")
    seen = [r.final]
    r = conn.call(SERVICE, "raise_error", type_str="ValueError", text="x")
    seen.append(r.final)
    stream = conn.open_stream_from(SERVICE, "count", n=2)
    values, final = stream.collect()
    seen.append(final)
    for m in seen:
        kinds = [k for k in msgs.KINDS if k in m]
        should(set(m) == set(kinds) | {"cid"}, f"reply with keys beyond kind and cid: {short(m)}")
        if "error" in m and isinstance(m["error"], dict):
            should(set(m["error"]) <= {"tb_str", "type_str"},
                   f"error map with keys beyond tb_str and type_str: {short(m)}")


@pytest.mark.spec("MSG-1")
def test_msg_1_iut_sends_only_maps_and_nil_after_its_uid(conn, case, settings):
    """After its uid, everything the IUT sends is a map (or nil): checked over echo,
    count, raise_error, a refusal, a context and the end of the channel."""
    conn.call(SERVICE, "echo", value=[1, {"k": None}])
    conn.open_stream_from(SERVICE, "count", n=3).collect()
    conn.call(SERVICE, "raise_error", type_str="KeyError", text="k")
    conn.call(SERVICE, "no_such_function")
    ctx = conn.open_context(SERVICE, "ctx_echo", first=[1])
    ctx.send_yield({"a": 1})
    ctx.send_stop()
    ctx.finish()
    conn.send(None)
    conn.closed_within(settings.prompt)
    got = [e["msg"] for e in case.wire_log.entries if e.get("conn") == conn.name
           and e.get("dir") == "s2c" and "msg" in e][1:]
    bad = [m for m in got if not (m is None or isinstance(m, dict))]
    must(got and not bad, f"non-map messages after the uid: {', '.join(map(short, bad))}")


@pytest.mark.spec("ERR-6")
@pytest.mark.no_chop("bulk: 100 KB commands, 300 KB in 1-byte segments would take minutes")
@pytest.mark.parametrize("where", ["ns", "func", "text"])
def test_err_6_error_messages_kept_within_64_KiB(conn, where):
    """Errors caused by a 100 KB name (namespace or function) or raised with a 100 KB
    text should still be at most 64 KiB encoded, tb_str shortened."""
    long = "x" * 100_000
    if where == "text":
        cid = conn.command(SERVICE, "raise_error", {"type_str": "ValueError", "text": long})
        conn.expect(msgs.functype(cid, "asyncfunc"))
    else:
        cid = conn.command(long if where == "ns" else SERVICE,
                           long if where == "func" else "echo", {"value": 1})
    conn.expect(msgs.error(cid))
    size = len(conn.last_body)
    should(size <= 65536, f"the error message is {size} bytes encoded, over 64 KiB")


@pytest.mark.spec("RPC-11", "SVC-29")
@pytest.mark.needs("ctx-call")
@pytest.mark.no_chop("bulk: 80 KB of values")
def test_rpc_11_result_over_the_message_limit_becomes_an_error(private_iut, fresh_conn_factory,
                                                                settings, case):
    """With a 64 KiB message limit, ctx_call's result holds the callee's 40 000-byte
    started value and its 40 000-byte return value, each received within the limit
    but together over it: the IUT sends an `error` (TypeError) in place of the
    `return`, and the channel serves the next call.  (No function of the test
    service makes a started or yielded value larger than what the suite sent
    within the same limit; the reference runtime's unit tests cover those.)"""
    iut = private_iut("--max-frame", "65536")
    conn = fresh_conn_factory(target=iut)
    with Callee(settings.codec, case.wire_log, host=settings.suite_host,
                timeout=settings.timeout) as callee:
        cid, _ = ctx_call(conn, callee, idle=0.5)
        callee.start("s" * 40_000)
        callee.conn.send({"return": "r" * 40_000, "cid": callee.cid})
        m = conn.expect(msgs.ret(cid) | msgs.error(cid), cid=cid)
        must(msgs.kind(m) == "error", f"a result over the message limit came as "
                                      f"{len(conn.last_body)} bytes: {short(m)}")
        should(m["error"]["type_str"] == "TypeError",
               f"the error in place of the result should be TypeError; it is "
               f"{m['error']['type_str']!r}")
    r = conn.call(SERVICE, "echo", value="still served")
    must(r.kind == "return", f"echo after the over-limit result answered {short(r.final)}")


@pytest.mark.spec("SEC-4", "CID-9")
@pytest.mark.parametrize("caller_uid", [["a", "b", "c"], ["a", "b", 3, None]],
                         ids=["three-str", "further-non-str"])
def test_sec_4_caller_uid_with_further_items_is_served(conn, caller_uid):
    """A command whose caller_uid has further items after two str is a valid uid (the
    rule of HS-5): it is served, functype then return, not refused."""
    cid = new_cid()
    conn.send({"cmd": [SERVICE, "echo", {"value": 1}, caller_uid, cid]})
    r = conn.result(cid)
    must(r.functype == "asyncfunc" and r.kind == "return" and r.value == 1,
         f"echo with caller_uid {caller_uid!r} answered {short(r.final)}")
