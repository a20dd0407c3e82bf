# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the suite across a link: the measurement of the round trip and
throughput (link.py), the windows they widen (settings, wire), the probe that
tells a serving port from one a relay resets (iut.serves_connections), and the
options that put the IUT in another network namespace."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from scwire_conform import link, report
from scwire_conform.iut import IUT, in_netns, serves_connections
from scwire_conform.settings import RTT_FACTOR, parse_link_rtt
from scwire_conform.wire import CARRY_SHARE, Conn, Timeout, carry_time, link_backlog

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(os.path.dirname(HERE), "scwire-conform")
REF = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "scwire-ref")


@pytest.fixture
def ref(tmp_path):
    if not os.access(REF, os.X_OK):
        pytest.fail(f"{REF} is missing: run `make` first")
    iut = IUT(f"{REF} --listen {{host}}:{{port}} --codec {{codec}}",
              log_dir=str(tmp_path)).start()
    yield iut
    iut.stop()


@pytest.fixture
def rate():
    saved = Conn.link_rate, Conn.busy_until
    yield
    Conn.link_rate, Conn.busy_until = saved


def test_measure_on_loopback_gives_a_small_round_trip_and_a_fast_link(ref):
    m = link.measure(ref.host, ref.port, "msgpack", timeout=5.0)
    assert len(m.samples) == link.SETUPS + link.SAMPLES
    assert m.rtt == max(m.samples) and 0 < m.rtt < 0.5
    assert m.rate > 10e6


def test_measure_of_a_dead_iut_is_a_link_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(link.LinkError):
        link.measure("127.0.0.1", port, "msgpack", timeout=1.0)


def test_link_rtt_option():
    assert parse_link_rtt("auto") is None and parse_link_rtt(None) is None
    assert parse_link_rtt("0.25") == 0.25
    for bad in ("-1", "x", "61"):
        with pytest.raises(ValueError, match="--link-rtt"):
            parse_link_rtt(bad)


def conform(tmp_path, *args):
    return subprocess.run([sys.executable, CLI, "-j", "1", "--out", str(tmp_path / "out"),
                           "--section", "HS-1", "--chop-variants", "off", *args],
                          capture_output=True, text=True, timeout=120)


def test_a_given_round_trip_widens_every_window(tmp_path):
    p = conform(tmp_path, "--link-rtt", "0.25")
    assert p.returncode == 0, p.stdout[-2000:]
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["iut"]["link_rtt_s"] == 0.25
    assert rep["iut"]["window_slack_s"] == RTT_FACTOR * 0.25
    assert rep["iut"]["link_samples"] == 0
    assert "round trip 250.0 ms (given)" in p.stdout and "widened by 1000 ms" in p.stdout


def test_a_measured_round_trip_is_reported(tmp_path):
    p = conform(tmp_path)
    assert p.returncode == 0, p.stdout[-2000:]
    assert "the longest of 60 connection set-ups and echo round trips" in p.stdout
    assert "throughput" in p.stdout


@pytest.mark.parametrize("args, words", [
    (("--iut-netns", "no spaces"), "a namespace name is"),
    (("--iut-netns", "x", "--iut-addr", "127.0.0.1:1"), "--iut-netns starts the IUT"),
    (("--link-rtt", "soon"), "--link-rtt must be auto or seconds"),
])
def test_bad_link_options_are_suite_errors(tmp_path, args, words):
    p = conform(tmp_path, *args)
    assert p.returncode >= 3 and words in p.stdout + p.stderr, p.stdout + p.stderr


def test_summary_line_names_the_link():
    iut = {"link_rtt_s": 0.1, "window_slack_s": 0.4, "link_samples": 60, "netns": "n1",
           "link_rate_bps": 131072}
    line = report.link_line(iut)
    assert "round trip 100.0 ms" in line and "network namespace n1" in line
    assert "widened by 400 ms" in line and "throughput 128 KiB/s" in line


def test_in_netns_wraps_only_when_asked():
    assert in_netns(["a", "b"], None) == ["a", "b"]
    assert in_netns(["a"], "ns1") == ["ip", "netns", "exec", "ns1", "a"]


def pair():
    a, b = socket.socketpair()
    return Conn(a, "msgpack", timeout=0.2), b


def test_a_wait_grows_by_the_time_the_link_took_to_carry_what_came(rate):
    Conn.link_rate = None
    c, peer = pair()
    with c, peer:
        t0 = time.monotonic()
        with pytest.raises(Timeout):
            c.recv()
        plain = time.monotonic() - t0
        Conn.link_rate = 10_000.0            # bytes/s: 3000 bytes took 0.3 s
        peer.sendall(b"\xda\xff\xff" + b"x" * 2997)   # the start of a long str, never ended
        t0 = time.monotonic()
        with pytest.raises(Timeout):
            c.recv()
        carried = time.monotonic() - t0
    assert plain < 0.3
    assert 0.2 + 0.3 - 0.05 <= carried < 0.2 + 0.3 + 0.3


def test_carry_time_and_the_write_bound(rate):
    Conn.link_rate = None
    assert carry_time(10 ** 6) == 0.0
    Conn.link_rate = 1000.0
    assert carry_time(2000) == pytest.approx(2000 / (1000 * CARRY_SHARE))
    c, peer = pair()
    with c, peer:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        Conn.link_rate = 10 ** 7
        with pytest.raises(Timeout, match=r"within 0\.3\d* s"):
            c.send_raw(b"y" * (1 << 20))     # nobody reads: 0.2 s + 1 MiB at 10 MB/s


def listener(behaviour):
    """A listener on 127.0.0.1 that treats each connection one way; its port."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(5)

    def run():
        with srv:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                if behaviour == "speak":
                    c.sendall(b"\x92")
                    time.sleep(0.5)
                elif behaviour == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                elif behaviour == "silent":
                    time.sleep(1.0)
    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1]


@pytest.mark.parametrize("behaviour, serves", [
    ("speak", True), ("silent", True), ("reset", False), ("close", False)])
def test_serves_connections_tells_a_serving_port_from_a_reset(behaviour, serves):
    assert serves_connections("127.0.0.1", listener(behaviour), wait=0.5) is serves


def test_serves_connections_of_a_refused_port_is_false():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert serves_connections("127.0.0.1", port, wait=0.5) is False


def test_a_wait_starts_once_the_link_carried_what_was_written(rate):
    Conn.link_rate, Conn.busy_until = None, 0.0
    c, peer = pair()
    with c, peer:
        c.send_raw(b"z" * 3000)
        assert link_backlog() == 0.0
        Conn.link_rate = 20_000.0            # 3000 bytes take 0.225 s at 2/3 of it
        c.send_raw(b"z" * 3000)
        assert 0.15 < link_backlog() <= 0.225
        t0 = time.monotonic()
        with pytest.raises(Timeout):
            c.recv()                          # 0.2 s, once the link is free
        assert time.monotonic() - t0 >= 0.2 + 0.15
        assert link_backlog() == 0.0


def test_what_a_flood_handed_over_is_still_on_the_link(rate):
    Conn.link_rate, Conn.busy_until = 50_000.0, 0.0
    c, peer = pair()
    with c, peer:
        sent = c.send_while_accepted(b"f" * 5000, idle=0.1)
        assert sent == 5000
        assert 0.1 < link_backlog() <= 5000 / (50_000.0 * CARRY_SHARE)
