# SPDX-License-Identifier: AGPL-3.0-or-later
"""Helpers of the reliability tests: starting a daemon with its log in a file
(a pipe nobody reads would block a daemon that logs a lot), measuring its
memory and descriptors, and reading sanitizer reports."""
import collections
import os
import socket
import subprocess
import time

import msgpack

from test_daemon import TIMEOUT, TOP, Peer, _started

ASAN_DAEMON = os.path.join(TOP, "build", "asan", "scwire-ref")
ASAN_DIR = os.path.dirname(ASAN_DAEMON)
# A sanitizer that found something prints one of these on stderr.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")

Usage = collections.namedtuple("Usage", "rss_kb fds")


def launch(argv, log_path, env=None, preexec_fn=None):
    """Start a daemon (argv without --listen) with stderr into log_path;
    returns the process and its port."""
    log = open(log_path, "w")
    proc = subprocess.Popen([*argv, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=log, text=True, env=env, preexec_fn=preexec_fn)
    log.close()
    _started.append(proc)
    line = proc.stdout.readline().strip()
    host, _, port = line.rpartition(":")
    assert host == "127.0.0.1" and port.isdigit(), f"first stdout line was {line!r}"
    return proc, int(port)


def read_log(path):
    with open(path, errors="replace") as fh:
        return fh.read()


def wait_log(path, text, timeout=TIMEOUT):
    """Whether text shows in the log within the timeout."""
    deadline = time.monotonic() + timeout
    while text not in read_log(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def usage(pid):
    with open(f"/proc/{pid}/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return Usage(rss, len(os.listdir(f"/proc/{pid}/fd")))


def quiet(pid, timeout=TIMEOUT):
    """The reading once the daemon's descriptor count has held still for half a
    second (the connections of a finished scenario linger up to a second)."""
    deadline = time.monotonic() + timeout
    last, still = usage(pid), 0
    while still < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
        now = usage(pid)
        still = still + 1 if now.fds == last.fds else 0
        last = now
    return last


def settle(pid, base, rss_slack_kb, timeout=TIMEOUT):
    """Wait for the daemon's descriptors and memory to come back to base
    (closing connections linger up to a second); returns the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        now = usage(pid)
        if (now.fds <= base.fds and now.rss_kb <= base.rss_kb + rss_slack_kb) \
                or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def assert_no_leak(pid, base, rss_slack_kb):
    now = settle(pid, base, rss_slack_kb)
    assert now.fds <= base.fds, f"open descriptors went from {base.fds} to {now.fds}"
    assert now.rss_kb <= base.rss_kb + rss_slack_kb, \
        f"RSS went from {base.rss_kb} kB to {now.rss_kb} kB (tolerance {rss_slack_kb} kB)"
    return now


def cpu_seconds(pid):
    """User plus system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def waiting_peer(port):
    """A connection that has sent its uid and not waited for the answer (the
    daemon may not have accepted it yet)."""
    peer = Peer.__new__(Peer)
    peer.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    peer.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    peer.send(["peer", "0c2d2f3e-5a1b-4c6d-8e9f-101112131415"])
    return peer


def refused(port):
    """Whether a new connection is closed by the daemon without a handshake."""
    try:
        return Peer(port).peer_uid is EOFError
    except ConnectionResetError:
        return True


def ends(peer):
    """Read what is left until the connection ends: nil, EOF or a reset; the
    messages before it."""
    got = []
    for _ in range(1000):
        try:
            msg = peer.recv()
        except ConnectionResetError:
            return got
        if msg is None or msg is EOFError:
            return got
        got.append(msg)
    raise AssertionError(f"the connection did not end after {len(got)} messages")


def sanitizer_report(text):
    """The lines of a sanitizer report in text (empty when there is none)."""
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)]


def pids_alive(pids):
    """The pids that still run (a zombie is dead for this purpose: it runs nothing)."""
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive
