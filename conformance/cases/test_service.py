# SPDX-License-Identifier: AGPL-3.0-or-later
"""How the IUT is run: listening address, first stdout line, SIGTERM (test-service.md).

These cases start IUTs of their own; with an attached IUT they are skipped.
"""
import signal
import time

import pytest

from scwire_conform.iut import can_connect, parse_addr
from scwire_conform.plugin import free_port
from scwire_conform.verdict import info, must, should
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
    t0 = time.monotonic()
    iut.proc.send_signal(signal.SIGTERM)
    for c in (busy, idle):
        how = c.closed_within(5.0 - (time.monotonic() - t0))
        must(how is not None, f"{c.name} still open {time.monotonic() - t0:.1f} s after SIGTERM")
        should(None in c.drained, f"SVC-4: no nil on {c.name} before the close "
                                  f"(got {', '.join(short(m) for m in c.drained) or 'nothing'})")
    rc = iut.wait_exit(max(0.0, 5.0 - (time.monotonic() - t0)))
    must(rc is not None, "the IUT still runs 5 s after SIGTERM")
    should(rc == 0, f"SVC-4: exit status {rc}, not 0")
    must(not can_connect(iut.host, iut.port, timeout=0.5), "the port still accepts connections")
    info(f"exited with status {rc} after {time.monotonic() - t0:.3f} s")
