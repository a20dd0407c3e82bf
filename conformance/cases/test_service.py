# SPDX-License-Identifier: AGPL-3.0-or-later
"""How the IUT is run: listening address, first stdout line, SIGTERM (test-service.md);
and how ctx_call (SVC-29) ends when its callee fails it.

The cases of the running IUT start IUTs of their own; with an attached IUT they
are skipped.
"""
import signal
import time

import pytest

from scwire_conform.callee import Callee, ctx_call
from scwire_conform.iut import parse_addr, serves_connections
from scwire_conform.plugin import free_port
from scwire_conform.verdict import info, must, no_hang, should
from scwire_conform.wire import SERVICE
from scwire_conform.wirelog import short


@pytest.mark.spec("SVC-1", "SVC-2")
def test_svc_1_listens_on_the_given_port_and_says_so(private_iut, fresh_conn_factory, settings):
    """Started with a concrete port, the IUT serves on that port, and its first stdout
    line should be that host:port."""
    port = free_port(settings.host)
    iut = private_iut(port=port)
    c = fresh_conn_factory(target=iut)
    r = c.call(SERVICE, "echo", value=1)
    must(r.kind == "return", f"echo on the given port answered {short(r.final)}")
    deadline = time.monotonic() + settings.prompt
    while iut.first_line is None and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        addr = parse_addr(iut.first_line or "")
    except ValueError:
        addr = None
    should(addr == (settings.host, port),
           f"SVC-2: the first stdout line is {iut.first_line!r}, not {settings.host}:{port}")


@pytest.mark.spec("SVC-3", "SVC-4")
def test_svc_3_sigterm_closes_connections_and_exits(private_iut, fresh_conn_factory, settings):
    """On SIGTERM the IUT closes every connection (should send nil on each first) and
    exits within 5 s (should with status 0)."""
    iut = private_iut()
    busy = fresh_conn_factory(target=iut)
    busy.open_context(SERVICE, "ctx_no_stream", value=None)
    idle = fresh_conn_factory(target=iut)
    # Our uid must have reached the IUT, so that this is a channel when the
    # signal comes (over a slow link it may still be on its way).
    idle.barrier()
    t0 = time.monotonic()
    iut.send_signal(signal.SIGTERM)
    for c in (busy, idle):
        how = c.closed_within(5.0 + settings.slack - (time.monotonic() - t0))
        must(how is not None, f"{c.name} still open {time.monotonic() - t0:.1f} s after SIGTERM")
        should(None in c.drained, f"SVC-4: no nil on {c.name} before the close "
                                  f"(got {', '.join(short(m) for m in c.drained) or 'nothing'})")
    rc = iut.wait_exit(max(0.0, 5.0 - (time.monotonic() - t0)))
    must(rc is not None, "the IUT still runs 5 s after SIGTERM")
    should(rc == 0, f"SVC-4: exit status {rc}, not 0")
    must(not serves_connections(iut.host, iut.port, 0.5 + settings.slack),
         "the port still accepts connections")
    info(f"exited with status {rc} after {time.monotonic() - t0:.3f} s")


@pytest.mark.spec("SVC-29", "RPC-12")
@pytest.mark.needs("ctx-call")
@pytest.mark.parametrize("how", ["refused", "functype-asyncfunc", "no-started", "callee-closes"])
def test_svc_29_ctx_call_fails_cleanly(conn, settings, case, how):
    """ctx_call fails with one `error` when its connection is refused, when the
    first reply is functype asyncfunc or the second is not `started` (RPC-12:
    fail locally, do not crash), or when the callee closes the connection while
    the context runs; the IUT keeps serving."""
    with Callee(settings.codec, case.wire_log, host=settings.suite_host,
                timeout=settings.timeout) as callee:
        if how == "refused":
            port = free_port(settings.suite_host)      # nothing listens there
            cid = conn.command(SERVICE, "ctx_call", {"host": settings.suite_host, "port": port,
                                                     "ns": "p", "func": "f", "kwargs": {},
                                                     "idle": 600})
        else:
            cid, _ = ctx_call(conn, callee, idle=600)
            if how == "functype-asyncfunc":
                callee.conn.send({"functype": "asyncfunc", "cid": callee.cid})
            elif how == "no-started":
                callee.conn.send_many([{"functype": "context", "cid": callee.cid},
                                       {"yield": 1, "cid": callee.cid}])
            else:
                callee.start(None)
                callee.conn.close()
        with no_hang("ctx_call"):
            r = conn.result(cid)
        must(r.kind == "error" and r.type_str != "AttributeError",
             f"ctx_call answered {short(r.final)}")
    r = conn.call(SERVICE, "echo", value="after")
    must(r.kind == "return", f"echo after the failed ctx_call answered {short(r.final)}")
