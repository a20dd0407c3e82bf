# SPDX-License-Identifier: AGPL-3.0-or-later
"""A socket wrapper that chops the suite's writes and keeps a copy of them.

`TapSocket` stands in for the socket of a `Conn` and forwards everything to
it, except writes:

- with `chop=N` every `sendall` leaves in N-byte TCP segments (TCP_NODELAY is
  on, so each segment leaves at once), and after a share `pause_share` of the
  segments, picked at random (seeded per connection), the tap sleeps `pause`
  seconds, so that the IUT reads the stream split at ever other places, most
  reads a byte or two long.  This is how the suite runs a whole conversation
  case a second time in 1-byte segments (FRAME-8) without touching the case:
  the `Conn` above writes whole messages and logs them as such;
- with a `SentDump`, every byte the IUT accepted is appended to one file per
  connection, `DIR/<codec>/<area>/<case>.<conn>.bin`, so that fuzzing corpora
  can be seeded from conformance traffic.
"""
import os
import random
import re
import threading
import time

DEFAULT_CHOP_PAUSE = 0.00005
DEFAULT_PAUSE_SHARE = 0.5


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "_"


class SentDump:
    """Where the raw c2s bytes of each connection of a run are written."""

    def __init__(self, root, codec):
        self.root = os.path.join(os.path.abspath(root), codec)
        self._lock = threading.Lock()
        self._used = set()

    def path(self, area, case, conn):
        """The file for one connection of one case (made unique if needed)."""
        base = os.path.join(self.root, _safe(area), f"{_safe(case)}.{_safe(conn)}")
        with self._lock:
            path, n = base + ".bin", 1
            while path in self._used:
                n += 1
                path = f"{base}-{n}.bin"
            self._used.add(path)
        return path


class TapSocket:
    """A socket that chops and records what is written through it."""

    def __init__(self, sock, *, chop=None, pause=DEFAULT_CHOP_PAUSE,
                 pause_share=DEFAULT_PAUSE_SHARE, seed=None, dump_path=None):
        self._sock = sock
        self.chop = chop
        self.pause = pause
        self.pause_share = pause_share
        self._rng = random.Random(seed)
        self.dump_path = dump_path     # may be set after creation (the conn name comes later)
        self._fh = None
        self.sent_bytes = 0
        self.segments = 0

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _record(self, data):
        self.sent_bytes += len(data)
        if not self.dump_path or not data:
            return
        if self._fh is None:
            os.makedirs(os.path.dirname(self.dump_path), exist_ok=True)
            self._fh = open(self.dump_path, "ab")
        self._fh.write(data)
        self._fh.flush()

    def sendall(self, data):
        data = bytes(data)
        if not self.chop or len(data) <= self.chop:
            self._sock.sendall(data)
            self.segments += 1
            self._record(data)
            return None
        for i in range(0, len(data), self.chop):
            piece = data[i:i + self.chop]
            self._sock.sendall(piece)
            self.segments += 1
            self._record(piece)
            if self.pause and self._rng.random() < self.pause_share:
                time.sleep(self.pause)
        return None

    def send(self, data, *flags):
        n = self._sock.send(data, *flags)
        self.segments += 1
        self._record(bytes(data[:n]))
        return n

    def close(self):
        try:
            self._sock.close()
        finally:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
