# SPDX-License-Identifier: AGPL-3.0-or-later
"""Reliability (limits.md LIM-16 to LIM-18, test-service.md SVC-22 to SVC-25):
descriptors exhausted, descriptors and memory after repeated conversations,
and a long-lived child killed in the middle of a stream.

Every case runs an IUT of its own and reads its process in /proc (descriptors,
memory, CPU time), so it needs an IUT that the suite starts on this host; with
an attached IUT it is skipped.
"""
import os
import shutil
import time

import pytest

from scwire_conform.msgs import same
from scwire_conform.verdict import Violation, info, must, should
from scwire_conform.wire import SERVICE, Closed
from scwire_conform.wirelog import short
from test_supervision import (Addr, children, no_process_left, parent,  # noqa: F401 (a fixture)
                              start_child, unique)

SVC = SERVICE
FD_LIMIT = 48
REPEATS = 10
# A conversation that leaks 25 kB or more shows over REPEATS repetitions.
RSS_SLACK_KB = 256


def needs_local_process(settings):
    if not settings.iut_cmd:
        pytest.skip("reads the IUT's process in /proc; this run attaches to a running IUT")


def fds(iut):
    try:
        return len(os.listdir(f"/proc/{iut.pid}/fd"))
    except OSError as e:
        pytest.skip(f"cannot read the IUT's descriptors in /proc: {e}")


def rss_kb(iut):
    kb = iut.rss_kb()
    if kb is None:
        raise Violation(f"the IUT process (pid {iut.pid}) exited during the conversation; "
                        f"no input may bring it down (SEC-1)", rid="SEC-1", robustness=True)
    return kb


def cpu_seconds(iut):
    with open(f"/proc/{iut.pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def echo_ok(c, value):
    r = c.call(SVC, "echo", value=value)
    must(r.kind == "return" and same(r.value, value), f"{c.name}: echo answered {short(r.final)}")


# --- LIM-16 -------------------------------------------------------------------

@pytest.mark.spec("LIM-16")
def test_lim_16_out_of_descriptors_serves_open_connections_and_recovers(
        own_iut, fresh_conn_factory, settings):
    """Started with at most 48 file descriptors (prlimit), the IUT is given connections
    until it holds all 48; one more is not served, the IUT does not spin (under 0.5 s
    of CPU in 1 s) and writes to its log, the open connections are served, and once two
    close a connection is served again."""
    needs_local_process(settings)
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    iut = own_iut(f"prlimit --nofile={FD_LIMIT}:{FD_LIMIT} {settings.iut_cmd}")
    # The shortage may be met, and logged, as the last descriptor is taken.
    mark = iut.mark()
    conns = []
    while fds(iut) < FD_LIMIT:
        must(len(conns) < FD_LIMIT, f"{len(conns)} connections and the IUT holds only "
                                    f"{fds(iut)} descriptors")
        conns.append(fresh_conn_factory(target=iut))
    info(f"{len(conns)} connections took the IUT to its {FD_LIMIT} descriptors")
    extra = fresh_conn_factory(target=iut, handshake=False)
    extra.send_uid()
    cpu = cpu_seconds(iut)
    window = 1.0 + settings.slack
    closed = extra.closed_within(window)
    spent = cpu_seconds(iut) - cpu
    must(not extra.drained, f"a connection beyond the descriptors was served: "
                            f"{short(extra.drained)}")
    must(spent < window / 2, f"the IUT used {spent:.2f} s of CPU in {window:g} s while out "
                             f"of descriptors")
    must(iut.log_since(mark).strip(), "the IUT logged nothing while out of descriptors")
    echo_ok(conns[0], "first")
    echo_ok(conns[-1], "last")
    for c in conns[:2]:
        c.close()
    if closed is None:
        extra.recv_uid(timeout=settings.prompt)
        echo_ok(extra, "waited")
    else:
        info(f"the connection beyond the descriptors was closed ({closed})")
        echo_ok(served_again(fresh_conn_factory, iut, settings), "again")


def served_again(factory, iut, settings):
    """A new connection, once the IUT serves one again."""
    deadline = time.monotonic() + settings.prompt
    while True:
        c = factory(target=iut, handshake=False)
        try:
            c.handshake()
            return c
        except Closed:
            must(time.monotonic() < deadline, "no connection is served after two closed")
            time.sleep(0.05)


# --- LIM-17 and LIM-18 --------------------------------------------------------

def conversation(factory, iut, settings, supervises):
    """Every kind of exchange, each on a connection that is then closed: rpc, a
    stream, a context, a cancelled task, a context left open, a connection closed
    before its handshake, one closed by the IUT for bad bytes, and a child."""
    a = factory(target=iut)
    echo_ok(a, {"k": [1, "x"]})
    values, final = a.open_stream_from(SVC, "count", n=3).collect()
    must(values == [0, 1, 2], f"count(3) yielded {values}")
    ctx = a.open_context(SVC, "ctx_echo", first=1)
    ctx.send_yield(7)
    ctx.send_stop()
    values, stops, final = ctx.finish()
    must(values == [7] and final.get("return") == 1, f"ctx_echo ended with {short(final)}")
    r = a.cancel_task(a.command(SVC, "sleep_forever"))
    must(r.kind == "return", f"_cancel_task answered {short(r.final)}")
    b = factory(target=iut)
    b.open_context(SVC, "ctx_no_stream", value="left open")
    factory(target=iut, handshake=False).close()
    bad = factory(target=iut)
    bad.send_raw(bad.codec.frame(b"\xc1"), note="the never-used byte c1")
    must(bad.closed_within(settings.prompt) is not None,
         "the connection that sent the byte c1 is still open")
    if supervises:
        r = a.call(SVC, "run_in_child", {"name": unique("r"), "ns": SVC, "func": "echo",
                                         "kwargs": {"value": 1}})
        must(r.kind == "return" and r.value == 1, f"run_in_child answered {short(r.final)}")
    for c in (a, b, bad):
        c.close()


def offers_supervision(factory, iut):
    r = factory(target=iut).call(SVC, "spawn_list")
    return r.kind == "return"


def quiet_fds(iut, settings):
    """The descriptor count once it has held still for half a second."""
    deadline = time.monotonic() + settings.timeout
    last, still = fds(iut), 0
    while still < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
        now = fds(iut)
        still = still + 1 if now == last else 0
        last = now
    return last


def fds_back_to(iut, base, settings):
    deadline = time.monotonic() + settings.prompt
    while fds(iut) > base and time.monotonic() < deadline:
        time.sleep(0.05)
    return fds(iut)


@pytest.mark.spec("LIM-17", "LIM-18")
def test_lim_17_descriptors_and_memory_come_back_after_conversations(
        private_iut, fresh_conn_factory, settings):
    """A conversation of every kind (rpc, stream, context, cancel, a context left open,
    a connection dropped before its handshake, bad bytes, a child when the IUT can
    spawn) played once, then 10 more times: the IUT's open descriptors come back to
    their count after the first, and its RSS should grow by less than 256 kB."""
    needs_local_process(settings)
    iut = private_iut()
    supervises = offers_supervision(fresh_conn_factory, iut)
    conversation(fresh_conn_factory, iut, settings, supervises)
    base_fds, base_rss = quiet_fds(iut, settings), rss_kb(iut)
    for _ in range(REPEATS):
        conversation(fresh_conn_factory, iut, settings, supervises)
    after = fds_back_to(iut, base_fds, settings)
    grown = rss_kb(iut) - base_rss
    info(f"descriptors {base_fds} then {after}; RSS {base_rss} kB, then {grown:+d} kB")
    must(after <= base_fds, f"the IUT holds {after} descriptors after the conversations, "
                            f"{base_fds} before")
    should(grown < RSS_SLACK_KB, f"the IUT's RSS grew by {grown} kB over {REPEATS} "
                                 f"conversations")


# --- a child killed mid-stream ---------------------------------------------------

@pytest.mark.spec("SVC-24", "SVC-25", "SVC-22")
def test_svc_24_kill_9_of_a_long_lived_child_mid_stream(parent, fresh_conn_factory, settings):
    """A child of spawn_start streams with the suite when spawn_kill sends it SIGKILL:
    its connection ends, a stream on the IUT itself goes on, the child leaves
    spawn_list once reaped, and its name can be used again."""
    needs_local_process(settings)
    iut, c = parent()
    name = unique("d")
    host, port = start_child(c, name)
    direct = fresh_conn_factory(target=Addr(host, port))
    ctx = direct.open_context(SVC, "ctx_echo", first="go")
    ctx.send_yield(0)
    ctx.next()
    bystander = fresh_conn_factory(target=iut).open_context(SVC, "ctx_echo", first="b")
    r = c.call(SVC, "spawn_kill", {"name": name, "signal": 9})
    must(r.kind == "return" and r.value == 1, f"spawn_kill answered {short(r.final)}, not 1")
    must(direct.closed_within(settings.prompt) is not None,
         "the killed child's connection is still open")
    bystander.send_yield(1)
    m = bystander.next()
    must(m.get("yield") == 1, f"the stream on the IUT answered {short(m)}, not yield 1")
    bystander.send_stop()
    values, stops, final = bystander.finish()
    must(final.get("return") == 1, f"the stream on the IUT ended with {short(final)}")
    deadline = time.monotonic() + settings.prompt
    while any(x[0] == name for x in children(c)):
        must(time.monotonic() < deadline, f"the killed child {name} is still in spawn_list")
        time.sleep(0.02)
    start_child(c, name)
    r = c.call(SVC, "spawn_cancel", {"name": name})
    must(r.kind == "return" and r.value is True, f"spawn_cancel answered {short(r.final)}")
    no_process_left(iut, [name])
