# SPDX-License-Identifier: AGPL-3.0-or-later
"""Where the tools' tests find the tools, the repository and the recorded traces.

Importing it also puts tools/ on sys.path, so that tests can import
scwire_tools as the tools themselves do.  `Server` and `Ref` run a program
that prints the address it listens on, as the tests' target.
"""
import os
import signal
import subprocess
import sys
import threading

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(TESTS)
REPO = os.path.dirname(TOOLS)
REF = os.path.join(REPO, "build", "scwire-ref")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


# The recorded tractor traces are part of the repository; $SCWIRE_VECTORS
# points the tests at another recording of the same scenarios.
VECTORS = os.environ.get("SCWIRE_VECTORS") or os.path.join(
    REPO, "conformance", "vectors", "tractor-0.1.0a4")


def stop_process(proc, grace=5.0):
    """SIGTERM, then SIGKILL when proc has not exited after grace seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Server:
    """A child that prints host:port as its first stdout line; `addr` and `port`
    are what it printed, stop() ends it.  A missing program or no address
    within 10 s fails the test."""

    def __init__(self, cmd):
        if not os.access(cmd[0], os.X_OK):
            pytest.fail(f"{cmd[0]} is missing: run `make` first")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = [""]
        t = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()),
                             daemon=True)
        t.start()
        t.join(10)
        if not line[0].strip():
            self.stop()
            pytest.fail(f"{cmd[0]} printed no address within 10 s")
        self.addr = line[0].strip()
        self.port = int(self.addr.rsplit(":", 1)[1])

    def stop(self):
        stop_process(self.proc)
        self.proc.stdout.close()


class Ref(Server):
    """build/scwire-ref on a free port of 127.0.0.1; `codec` is the one it speaks."""

    def __init__(self, *extra):
        self.codec = extra[extra.index("--codec") + 1] if "--codec" in extra else "msgpack"
        super().__init__([REF, "--listen", "127.0.0.1:0", *extra])
