# SPDX-License-Identifier: AGPL-3.0-or-later
"""Processes of the interop run: every one bounded in time and reaped on every way out.

Long-lived processes (servers, the tap, role-driven clients) are the suite's
`IUT` (scwire_conform/iut.py: a start timeout, its own process group, SIGTERM
then SIGKILL); `Procs` keeps each one it started until it is stopped, and
`stop_all` (called from the runner's `finally`, and on SIGTERM) stops the rest
and kills what their process groups left behind.  One-shot clients run under
`run_bounded`: a deadline, then SIGKILL to the whole process group.
"""
import os
import signal
import socket
import struct
import subprocess
import threading
import time

from scwire_conform.iut import IUT, IUTError  # noqa: F401  (IUTError: re-exported)

STOP_GRACE = 5.0


class Procs:
    def __init__(self, log_dir, codec, start_timeout):
        self.log_dir = log_dir
        self.codec = codec
        self.start_timeout = start_timeout
        self.live = []

    def start(self, template, label, log_dir=None):
        """An IUT started from a template (placeholders already in, but for
        {host} {port} {codec}); raises IUTError when it does not come up."""
        iut = IUT(template, codec=self.codec, log_dir=log_dir or self.log_dir,
                  start_timeout=self.start_timeout, label=label)
        self.live.append(iut)
        try:
            return iut.start()
        except (IUTError, ValueError):
            self.stop(iut)
            raise

    def stop(self, iut, grace=STOP_GRACE):
        """SIGTERM, SIGKILL after grace, then whatever its process group left."""
        try:
            rc = iut.stop(grace)
        finally:
            iut.kill_leaked()
            if iut in self.live:
                self.live.remove(iut)
        return rc

    def forget(self, iut):
        """An IUT that exited by itself: reap what its group left."""
        iut.kill_leaked()
        if iut in self.live:
            self.live.remove(iut)

    def stop_all(self):
        for iut in list(self.live):
            try:
                self.stop(iut, grace=1.0)
            except OSError:
                pass


def run_bounded(argv, timeout, stdout_path, stderr_path, env=None):
    """Run argv to its end or for `timeout` seconds: (exit status or None when
    it was killed, its stdout text).  Its process group is killed either way."""
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        except BaseException:
            kill_group(proc)
            raise
        kill_group(proc)
    with open(stdout_path, encoding="utf-8", errors="replace") as fh:
        return rc, fh.read()


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class Dropper:
    """Connections that connect and drop at the server while a scenario runs, in
    turn one of `kinds`: "fin" (close at once), "read-fin" (close after reading
    the server's uid), "half" (send half a uid, then close), "rst" (reset at
    once: SO_LINGER 0), "read-rst" (reset after reading the uid)."""

    def __init__(self, host, port, kinds, pause=0.01):
        self.addr = (host, port)
        self.kinds = tuple(kinds)
        self.pause = pause
        self.counts = dict.fromkeys(self.kinds, 0)
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="interop-dropper", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5.0)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            kind = self.kinds[i % len(self.kinds)]
            i += 1
            try:
                self._one(kind)
                self.counts[kind] += 1
            except OSError:
                self.refused += 1
            time.sleep(self.pause)

    def _one(self, kind):
        with socket.create_connection(self.addr, timeout=1.0) as s:
            if kind.startswith("read-"):
                s.recv(256)
            if kind.endswith("rst"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif kind == "half":
                s.sendall(b"\x92\xa7interop")     # the start of a uid, never finished

    def summary(self):
        done = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        return f"{sum(self.counts.values())} connect-and-drops ({done})" + \
            (f", {self.refused} refused or failed" if self.refused else "")
