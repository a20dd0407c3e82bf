# SPDX-License-Identifier: AGPL-3.0-or-later
"""The round-trip time to the IUT, measured before the first case.

Time windows of the spec are about the IUT; across a network the suite sees
each reaction a round trip (or a retransmission) later.  This module times
connection set-ups (from connect() to the IUT's uid, which the IUT sends
first: a lost packet of the TCP handshake then costs the initial
retransmission timeout, 1 s) and `scwire_service.echo` round trips on one
channel, and gives the longest, so that a retransmission the link needed
during the measurement counts (spec/test-service.md section 1.1);
Settings.set_link_rtt widens the windows by it.  A sample longer than the
others by TCP's least retransmission timeout shows a link that loses packets;
the round trip is then at least TCP's initial retransmission timeout, what a
lost packet of a connection's handshake costs.  On loopback it is well
under a millisecond.  An echo of a value of BULK bytes (within the 64 KiB
every implementation takes) gives the link's throughput, which widens
writes and waits by the time the link needs to carry their bytes.
"""
import time

from . import verdict as V
from .wire import SERVICE, Closed, Conn, Timeout

SAMPLES = 40        # echo round trips timed
SETUPS = 20         # connection set-ups timed
BUDGET = 6.0        # seconds each of the two measurements may take, past the first sample
MIN_SAMPLES = 5     # a slow link stops a measurement early, not below this
BULK = 48 * 1024    # bytes of the echoed value that measures the throughput
MIN_RTO = 0.2       # Linux's least retransmission timeout: a sample this much over the
                    # median was a retransmission
INITIAL_RTO = 1.0   # RFC 6298's first retransmission timeout of a new connection


class Measured:
    """The longest round trip (s), every sample, and the throughput (bytes/s)."""

    def __init__(self, rtt, samples, rate, lossy=False):
        self.rtt, self.samples, self.rate, self.lossy = rtt, samples, rate, lossy


class LinkError(Exception):
    """The measurement could not be made: the IUT stopped answering."""


def measure(host, port, codec, *, timeout, log=None, samples=SAMPLES, setups=SETUPS,
            budget=BUDGET):
    """The Measured round trips (connection set-ups and echo calls) and throughput
    of the link to the IUT at host:port."""
    rtts = []
    try:
        start = time.monotonic()
        for i in range(setups):
            t0 = time.monotonic()
            with Conn.connect(host, port, codec, timeout=timeout, log=log,
                              name=f"setup{i}") as c:
                c.recv_uid()
                rtts.append(time.monotonic() - t0)
            if len(rtts) >= MIN_SAMPLES and time.monotonic() - start > budget:
                break
        with Conn.connect(host, port, codec, timeout=timeout, log=log, name="echo") as c:
            c.handshake()
            c.call(SERVICE, "echo", {"value": "warm-up"})
            start, n = time.monotonic(), 0
            for i in range(samples):
                t0 = time.monotonic()
                r = c.call(SERVICE, "echo", {"value": i})
                rtts.append(time.monotonic() - t0)
                n += 1
                if r.kind != "return" or r.value != i:
                    raise LinkError(f"echo {i} answered {r.final!r}")
                if n >= MIN_SAMPLES and time.monotonic() - start > budget:
                    break
            value = "x" * BULK
            t0 = time.monotonic()
            r = c.call(SERVICE, "echo", {"value": value})
            took = time.monotonic() - t0
            if r.kind != "return" or r.value != value:
                raise LinkError(f"the echo of {BULK} bytes answered {str(r.final)[:200]}")
    except (V.Violation, Timeout, Closed, OSError) as e:
        raise LinkError(f"{type(e).__name__}: {e}") from None
    # There and back, less the time a small round trip takes.
    rate = 2 * BULK / max(took - min(rtts), 1e-6)
    longest = max(rtts)
    lossy = longest - sorted(rtts)[len(rtts) // 2] >= MIN_RTO
    return Measured(max(longest, INITIAL_RTO) if lossy else longest, rtts, rate, lossy)
