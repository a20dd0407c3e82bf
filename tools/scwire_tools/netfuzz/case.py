# SPDX-License-Identifier: AGPL-3.0-or-later
"""A case: what the client side does, as a list of actions.

Each action belongs to a named connection ("c1", "c2", ...), opened on its
first action, and is one of

    ("msg", conn, value)   one message, framed by the codec when sent;
    ("raw", conn, bytes)   bytes sent exactly as they are (framing included);
    ("eof", conn)          our half closed (FIN);
    ("rst", conn)          the connection reset (RST).

Actions are plain tuples: the minimizer cuts and splices lists of them, and
two cases compare by their wire bytes.  A message whose value the JSON view
of trace files would not carry exactly is played as raw bytes (`replayable`),
so that a saved case replays byte for byte.
"""
from ..codec import frame, pack
from ..jsonview import ViewError, from_json, to_json


class Case:
    def __init__(self, index, family, label, actions):
        self.index = index
        self.family = family
        self.label = label            # what the mutation did, one line
        self.actions = list(actions)

    def with_actions(self, actions):
        return Case(self.index, self.family, self.label, actions)

    @property
    def name(self):
        return f"{self.index:05d}-{self.family}"

    def size(self):
        """Bytes the case sends (messages counted without framing)."""
        return sum(len(wire_bytes(a, "msgpack")) for a in self.actions if a[0] in ("msg", "raw"))

    def __repr__(self):
        return f"Case({self.name}: {self.label}, {len(self.actions)} actions)"


def msg(conn, value):
    return ("msg", conn, value)


def raw(conn, data):
    return ("raw", conn, bytes(data))


def eof(conn):
    return ("eof", conn)


def rst(conn):
    return ("rst", conn)


def wire_bytes(action, codec):
    """The bytes an action puts on the wire under `codec` (b"" for eof and rst)."""
    if action[0] == "msg":
        return frame(pack(action[2]), codec)
    if action[0] == "raw":
        return action[2]
    return b""


def faithful(value):
    """True when the JSON view of a value packs back to the same bytes."""
    try:
        return pack(from_json(to_json(value))) == pack(value)
    except (ViewError, TypeError, ValueError, OverflowError):
        return False


def replayable(actions, codec):
    """The actions with every message the JSON view would change made raw."""
    return [raw(a[1], wire_bytes(a, codec)) if a[0] == "msg" and not faithful(a[2]) else a
            for a in actions]
