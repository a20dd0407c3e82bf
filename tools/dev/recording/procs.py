# SPDX-License-Identifier: AGPL-3.0-or-later
"""Child processes of the recorder: started, watched, stopped and reaped.

Every child runs in its own session, so that one signal to its process
group also reaches what it started in turn (the actor `late`, tractor
subactors), and a Ctrl-C on the recorder's terminal does not reach the
children behind the recorder's back.  `Child.stop` signals the group,
waits, then kills it; `stop_all` does that for every child still running,
which the recorder calls on every way out.
"""
import os
import re
import select
import signal
import subprocess
import time

POLL = 0.05
STOPPERS = {signal.SIGINT, signal.SIGTERM}
_live = []


class ProcError(Exception):
    """A child that did not start, did not get ready or did not finish in time."""


def _default_signals():
    # A recorder started in the background (make &) may have SIGINT ignored,
    # and children inherit that: a daemon would then ignore the SIGINT that
    # is meant to stop it.  They also inherit the mask Child sets around
    # the start.
    for sig in STOPPERS:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPERS)


class Child:
    """One child process; `log` is the file its stdout and stderr go to, or
    None for a pipe on stdout (read with read_line)."""

    def __init__(self, label, cmd, env=None, log=None, cwd=None):
        self.label = label
        self.log = log
        self.started = time.monotonic()
        out = open(log, "ab") if log else subprocess.PIPE
        # No SIGINT/SIGTERM between the start and the bookkeeping: a child
        # started but not yet in _live would outlive the recorder.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPERS)
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                env=env, cwd=cwd, start_new_session=True, preexec_fn=_default_signals)
            _live.append(self)
        except OSError as e:
            raise ProcError(f"cannot start {label} ({cmd[0]}): {e.strerror}") from None
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if log:
                out.close()

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        """The exit status, or None when still running after `timeout` s."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def read_line(self, timeout):
        """The first line of a piped stdout, without its end."""
        fd = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ProcError(f"{self.label} printed no line within {timeout} s")
            chunk = os.read(fd, 1)
            if not chunk:
                raise ProcError(f"{self.label} exited (status {self.proc.wait()}) "
                                "before printing its address")
            data += chunk
        return data.decode().strip()

    def wait_for_log(self, pattern, timeout):
        """Wait until the log file matches `pattern`; fail when the child exits
        first or the time is up."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                if regex.search(fh.read()):
                    return
            if not self.running():
                raise ProcError(f"{self.label} exited with status {self.proc.returncode} "
                                f"before getting ready (see {self.log})")
            if time.monotonic() > deadline:
                raise ProcError(f"{self.label} not ready within {timeout} s (see {self.log})")
            time.sleep(POLL)

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, sig=signal.SIGTERM, grace=10.0):
        """Send `sig` to the group, kill it after `grace` s, reap; the exit status."""
        if self.running():
            self._signal_group(sig)
            if self.wait(grace) is None:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(grace)
        # Whatever the leader left behind in its group goes too.
        self._signal_group(signal.SIGKILL)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self in _live:
            _live.remove(self)
        return self.proc.returncode


def stop_all():
    """Kill and reap every child still known (on any way out of the recorder)."""
    for child in list(_live):
        child.stop(signal.SIGKILL, grace=5.0)
