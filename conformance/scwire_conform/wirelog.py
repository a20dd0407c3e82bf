# SPDX-License-Identifier: AGPL-3.0-or-later
"""The wire log: every message and connection event of one case, in order.

Entries follow the trace format of the recorded tractor conversations
(vectors/tractor-0.1.0a4/README.md) plus a time stamp `t`, seconds since the
log began on a monotonic clock:

    {"t": 0.0012, "conn": "c1", "event": "open"}
    {"t": 0.0020, "conn": "c1", "dir": "c2s", "hex": "92a4...", "msg": [...]}
    {"t": 0.0031, "conn": "c1", "event": "eof", "dir": "s2c"}

`c2s` is from the suite (the connecting side), `s2c` from the IUT.  Bytes the
suite sends that are not one well-formed message are logged with `"raw": true`.
Events: open, eof (a side closed its half), rst (a side reset the
connection), close (the suite closed its socket).

Big messages are clipped so that logs and reports stay readable: hex beyond
1 KiB is cut (the entry then says `"size"`, the full length, and
`"clipped": true`), and so are str and bin of more than 256 characters in
the JSON view.
"""
import json
import math
import time

import msgpack

MAX_HEX_BYTES = 1024
MAX_VIEW_CHARS = 256


def json_view(value, clip=None):
    """A JSON-compatible view of a decoded msgpack value (the trace format's rules);
    str and bin longer than clip characters are cut, saying how long they were."""
    if isinstance(value, msgpack.ExtType):   # a namedtuple: before the array case
        return {"$ext": [value.code, value.data.hex()]}
    if isinstance(value, msgpack.Timestamp):
        # msgpack-python decodes ext type -1 itself; the hex keeps its exact form.
        return {"$ext": [-1, value.to_bytes().hex()]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: json_view(v, clip) for k, v in value.items()}
        return {"$map": [[json_view(k, clip), json_view(v, clip)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [json_view(v, clip) for v in value]
    if isinstance(value, str) and clip and len(value) > clip:
        return value[:clip] + f"...({len(value)} chars)"
    if isinstance(value, (bytes, bytearray)):
        if clip and len(value) > clip:
            return {"$bin": bytes(value[:clip]).hex(), "$size": len(value)}
        return {"$bin": bytes(value).hex()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    return value


def short(value, limit=300):
    """One-line text of a message for expectations and observations."""
    text = json.dumps(json_view(value), ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class WireLog:
    """Entries of one case; every connection of the case writes into it."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._t0 = clock()
        self._conns = 0
        self.entries = []

    def new_conn(self):
        """The name of the next connection: c1, c2, ..."""
        self._conns += 1
        return f"c{self._conns}"

    def _add(self, entry):
        entry = {"t": round(self._clock() - self._t0, 6), **entry}
        self.entries.append(entry)
        return entry

    @staticmethod
    def _hex(data):
        data = bytes(data)
        if len(data) <= MAX_HEX_BYTES:
            return {"hex": data.hex()}
        return {"hex": data[:MAX_HEX_BYTES].hex(), "size": len(data), "clipped": True}

    def message(self, conn, direction, raw, msg):
        return self._add({"conn": conn, "dir": direction, **self._hex(raw),
                          "msg": json_view(msg, MAX_VIEW_CHARS)})

    def raw(self, conn, direction, data, note=None):
        entry = {"conn": conn, "dir": direction, **self._hex(data), "raw": True}
        if note:
            entry["note"] = note
        return self._add(entry)

    def event(self, conn, event, direction=None, **extra):
        entry = {"conn": conn, "event": event}
        if direction:
            entry["dir"] = direction
        entry.update(extra)
        return self._add(entry)

    def dump(self, path):
        with open(path, "w", encoding="utf-8") as fh:
            for e in self.entries:
                fh.write(json.dumps(e, ensure_ascii=False) + "\n")
