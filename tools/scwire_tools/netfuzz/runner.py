# SPDX-License-Identifier: AGPL-3.0-or-later
"""Playing one case against a live target, recorded in the trace format.

Actions go out in order, each connection opened at its first action, and
what the target sent meanwhile is read without waiting, so that a target
that answers while we send never blocks us.  After the last action every
connection is read until it is quiet for `settle` seconds or closed, and
never longer than `timeout` in all.  Every message and event of both
directions is kept in one list of trace entries (tools/scwire_tools/trace.py),
connections named as in the case.

The outcome of the case (before the liveness check, which is the oracle's):

    close  the target closed a connection (FIN or RST) we had not reset;
    reply  it sent at least one message besides its uid;
    drop   nothing of either.
"""
import select
import time

from .. import ToolError
from ..client import Client, Recorder
from .case import replayable

OUTCOMES = ("reply", "drop", "close", "down")
# Bound on the replies read from one case: a flood's echoes, not an endless stream.
MAX_REPLIES = 20000


class Play:
    def __init__(self):
        self.entries = []
        self.t0 = time.monotonic()
        self.replies = 0
        self.closed_by_peer = False
        self.refused = None       # why a connection could not be opened
        self.notes = []

    @property
    def outcome(self):
        if self.closed_by_peer:
            return "close"
        return "reply" if self.replies else "drop"

    def reply_kinds(self):
        """The keys of the replies (besides each connection's uid), in order, for listings."""
        seen, out = set(), []
        for e in self.entries:
            if e.get("dir") != "s2c" or "msg" not in e:
                continue
            if e["conn"] not in seen:
                seen.add(e["conn"])
                continue
            m = e["msg"]
            out.append("nil" if m is None else
                       next((k for k in ("functype", "return", "started", "yield", "stop",
                                         "error") if isinstance(m, dict) and k in m), "other"))
        return out


class _Conn:
    def __init__(self, play, name, addr, codec, timeout):
        rec = Recorder(name)
        rec.t0, rec.entries = play.t0, play.entries     # one time line, one list
        self.client = Client(addr, codec, connect_timeout=timeout, recorder=rec)
        self.reset = False
        self.seen_uid = False
        self.dead = False         # sending failed or the reply stream broke


def _read(play, conn, timeout):
    """One item from a connection; counts replies and closes. False when nothing more will come."""
    if conn.dead or conn.reset:
        return False
    try:
        item = conn.client.recv(timeout)
    except ToolError as e:
        play.notes.append(str(e))
        play.replies += 1         # bytes came, just not the codec's
        conn.dead = True
        return False
    if item[0] == "msg":
        if conn.seen_uid:
            play.replies += 1
        conn.seen_uid = True
        return True
    if item[0] in ("eof", "rst"):
        play.closed_by_peer = True
        return False
    return None                   # timeout


def _drain(play, conn):
    while _read(play, conn, 0.0) and play.replies < MAX_REPLIES:
        pass


def _act(play, conn, action):
    c = conn.client
    try:
        if action[0] == "msg":
            c.send(action[2])
        elif action[0] == "raw":
            c.send_raw(action[2])
        elif action[0] == "eof":
            c.shutdown_write()
        else:
            c.reset()
            conn.reset = True
    except ToolError as e:
        # The target may well have closed first: that is an outcome, not an error.
        play.notes.append(str(e))
        conn.dead = True


def _settle(play, conns, settle, timeout):
    """Read every connection until all are quiet for `settle` s, closed, or `timeout` passed."""
    deadline = time.monotonic() + timeout
    live = [c for c in conns if not (c.dead or c.reset)]
    while live and play.replies < MAX_REPLIES:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready = [c for c in live if c.client.queue or c.client.closed]
        if not ready:
            r, _, _ = select.select([c.client for c in live], [], [], min(settle, left))
            ready = [c for c in live if c.client in r]
        if not ready:
            break
        for c in ready:
            if _read(play, c, 0.0) is False:
                live.remove(c)


def play(actions, addr, codec="msgpack", settle=0.1, timeout=5.0):
    """Play the actions against addr; returns a Play."""
    p = Play()
    conns = {}
    try:
        for a in replayable(actions, codec):
            name = a[1]
            if name not in conns:
                try:
                    conns[name] = _Conn(p, name, addr, codec, timeout)
                except ToolError as e:
                    p.refused = str(e)
                    return p
            conn = conns[name]
            if not conn.dead and not conn.reset:
                _act(p, conn, a)
                _drain(p, conn)
        _settle(p, list(conns.values()), settle, timeout)
    finally:
        for conn in conns.values():
            conn.client.close()
    return p
