# SPDX-License-Identifier: AGPL-3.0-or-later
"""The implementation a fuzzing run attacks: started from a command, or attached.

Starting, stopping and restarting reuse the conformance suite's IUT class
(conformance/scwire_conform/iut.py), so the contract is the suite's: the
template's {host}, {port} and {codec} are filled in, port 0 makes the IUT
print its address on the first stdout line, stderr goes to one log file per
start, SIGTERM then SIGKILL.  A started target can also be watched: whether
it exited, and its resident memory (VmRSS).
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "conformance"))

from scwire_conform.iut import IUT, IUTError, parse_addr  # noqa: E402
# The suite's default: build/scwire-ref in the source tree, else the one on PATH.
from scwire_conform.settings import DEFAULT_REF  # noqa: E402
DEFAULT_CMD = DEFAULT_REF + " --listen {host}:{port} --codec {codec}"
# A fuzzed IUT that does not die on SIGTERM is killed sooner than in the suite:
# the run restarts it often.
STOP_GRACE = 2.0


class TargetError(Exception):
    """The target could not be started or reached; the message says what to fix."""


class Target:
    def __init__(self, label, cmd=None, addr=None, codec="msgpack", log_dir=".",
                 start_timeout=10.0, host="127.0.0.1", netns=None):
        if addr is not None:
            try:
                parse_addr(addr)
            except ValueError as e:
                raise TargetError(f"{label}: {e}") from None
        self.label = label
        self.restarts = 0
        try:
            self.iut = IUT(cmd, addr=addr, codec=codec, log_dir=log_dir, host=host,
                           start_timeout=start_timeout, label=f"{label}-iut",
                           netns=netns if cmd else None)
        except ValueError as e:
            raise TargetError(f"{label}: {e}") from None

    @property
    def managed(self):
        return self.iut.managed

    @property
    def addr(self):
        return f"{self.iut.host}:{self.iut.port}"

    def describe(self):
        return self.iut.describe()

    def start(self):
        try:
            self.iut.start()
        except (IUTError, ValueError) as e:
            raise TargetError(f"{self.label}: {e}") from None
        return self

    def restart(self):
        self.stop()
        self.restarts += 1
        return self.start()

    def stop(self):
        return self.iut.stop(grace=STOP_GRACE) if self.managed else None

    def exit_status(self, wait=0.0):
        """The exit status of a started target that has ended (within `wait` s), else None."""
        if not self.managed or self.iut.proc is None:
            return None
        return self.iut.wait_exit(wait)

    def rss_kb(self):
        """Resident memory of a started target (VmRSS, kB), or None."""
        return self.iut.rss_kb() if self.managed else None

    def mark(self):
        """A position in the stderr logs of a started target, for `log_since`."""
        return self.iut.mark() if self.managed else None

    def log_start(self):
        """The mark of the start of the current process's stderr log."""
        return (len(self.iut.stderr_paths) - 1, 0) if self.managed and self.iut.stderr_paths \
            else None

    def log_since(self, mark):
        return self.iut.log_since(mark) if mark is not None else ""

    def log_paths(self):
        return list(self.iut.stderr_paths)
