# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the IUT handling: templates, start-up paths, stop, leaks, logs."""
import os
import signal
import sys
import time

import pytest

from scwire_conform.iut import IUT, IUTError, can_connect, expand, parse_addr
from scwire_conform.plugin import free_port

FAKE = f"{sys.executable} {os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fakeiut.py')}"


def test_expand_fills_placeholders_in_every_word():
    argv = expand("x --listen {host}:{port} --codec={codec} 'a b'", host="::1", port=0,
                  codec="lenprefix", extra_args=["--handshake-timeout", "1"])
    assert argv == ["x", "--listen", "::1:0", "--codec=lenprefix", "a b",
                    "--handshake-timeout", "1"]
    with pytest.raises(ValueError, match="registry"):
        expand("x {registry}", host="h", port=1, codec="msgpack")
    with pytest.raises(ValueError):
        expand("   ", host="h", port=1, codec="msgpack")


def test_parse_addr():
    assert parse_addr("127.0.0.1:40123\n") == ("127.0.0.1", 40123)
    assert parse_addr("[::1]:5") == ("::1", 5)
    for bad in ("127.0.0.1", ":5", "h:0", "h:x", "listening on 1.2.3.4:5 now"):
        with pytest.raises(ValueError):
            parse_addr(bad)


def start(tmp_path, extra="", **kw):
    return IUT(f"{FAKE} --listen {{host}}:{{port}} --codec {{codec}} {extra}",
               log_dir=str(tmp_path), **kw).start()


def test_port_zero_reads_the_address_then_stops_with_sigterm(tmp_path):
    iut = start(tmp_path)
    assert iut.managed and iut.alive() and can_connect(iut.host, iut.port)
    mark = (0, 0)
    assert iut.stop() == 0 and not iut.alive()
    assert "fakeiut starting" in iut.log_since(mark)
    assert iut.leaked() == []
    assert iut.pids == [iut.pid]


def test_concrete_port_waits_until_accepting(tmp_path):
    port = free_port("127.0.0.1")
    iut = start(tmp_path, "--no-line", port=port)
    assert (iut.host, iut.port) == ("127.0.0.1", port)
    iut.restart()
    assert iut.alive() and len(iut.stderr_paths) == 2
    iut.stop()


def test_no_address_line_is_an_error(tmp_path):
    with pytest.raises(IUTError, match="no host:port line"):
        start(tmp_path, "--no-line", start_timeout=0.5)


def test_exit_before_the_address_line_is_an_error(tmp_path):
    with pytest.raises(IUTError, match="exited with status 3"):
        start(tmp_path, "--exit-at-once 3")
    with pytest.raises(IUTError, match="cannot run"):
        IUT("/nonexistent/iut {host}:{port}", log_dir=str(tmp_path)).start()


def test_sigterm_ignored_means_sigkill_after_the_grace(tmp_path):
    iut = start(tmp_path, "--ignore-term")
    assert iut.stop(grace=0.3) == -signal.SIGKILL


def test_processes_left_behind_are_found(tmp_path):
    iut = start(tmp_path, "--leave-child")
    iut.stop()
    assert iut.leaked() == [iut.pid]
    iut.kill_leaked()
    # The killed child is reaped by init, a moment later.
    deadline = time.monotonic() + 5
    while iut.leaked() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert iut.leaked() == []


def test_attached_iut_cannot_be_restarted(tmp_path):
    iut = start(tmp_path)
    try:
        att = IUT(addr=f"{iut.host}:{iut.port}").start()
        assert not att.managed and att.alive() and att.stop() is None
        with pytest.raises(IUTError):
            att.restart()
    finally:
        iut.stop()
    with pytest.raises(IUTError, match="nothing accepts"):
        IUT(addr=f"127.0.0.1:{free_port('127.0.0.1')}").start()
    with pytest.raises(ValueError):
        IUT("x", addr="h:1")
