# SPDX-License-Identifier: AGPL-3.0-or-later
"""From what the tap or a capture wrote to the committed trace format.

The committed traces have no time field: `read_lines` drops the "t" that
the tap and scwire-trace --pcap add; `convert` scrubs every message and
keeps everything else of each line as it was.  `kind_sequences` is what two recordings of a
scenario are compared by: per connection, the direction and kind of every
message (and decode error), uuids and cids aside.
"""
import json

from scwire_tools.classify import kind
from scwire_tools.jsonview import to_json

from scrub import unscrubbed_tb_paths, unpack


class TraceError(Exception):
    """A recording that cannot be turned into a trace file."""


def read_lines(path, keep_time=False):
    """The JSON objects of a trace file, without time fields unless `keep_time`."""
    entries = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                raise TraceError(f"{path}:{lineno}: not JSON ({e.msg})") from None
            if not keep_time:
                entry.pop("t", None)
            entries.append(entry)
    return entries


def is_message(entry):
    return "event" not in entry and "hex" in entry


def scrub_entry(entry, scrubber):
    """The entry with its message scrubbed and re-encoded where needed."""
    if not is_message(entry):
        return entry
    raw = bytes.fromhex(entry["hex"])
    scrubbed = scrubber.message(raw)
    value = unpack(raw) if scrubbed is None else scrubbed[0]
    left = unscrubbed_tb_paths(value)
    if left:
        raise TraceError(f"{entry['conn']}: a traceback path outside the known "
                         f"directories: {left[0]}")
    if scrubbed is None:
        return entry
    return {**entry, "hex": scrubbed[1].hex(), "msg": to_json(scrubbed[0])}


def convert(entries, dst, scrubber):
    """Write the entries, scrubbed, to the trace file `dst`; the entries written."""
    entries = [scrub_entry(e, scrubber) for e in entries]
    with open(dst, "w", encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entries


def drop_refused(entries):
    """The entries without connections refused at SYN (an open and a reset,
    nothing else), the others renamed c1, c2, ... in order."""
    events = {}
    for e in entries:
        events.setdefault(e["conn"], []).append(e.get("event"))
    kept = [c for c, evs in events.items() if evs != ["open", "rst"]]
    names = {c: f"c{i}" for i, c in enumerate(kept, 1)}
    return [{**e, "conn": names[e["conn"]]} for e in entries if e["conn"] in names]


def merge(traces):
    """One trace from the traces of several taps, each given as (start, entries
    with their "t"): the lines in the order of start + t, the connections
    renamed c1, c2, ... in the order they first appear, no time field.

    Each tap counts the time from its own start, so `start` is where the
    recorder started it, on the same monotonic clock: two taps started alike
    are then off by far less than the adapter takes to answer anything."""
    timed = [(start + e["t"], i, n, e) for i, (start, entries) in enumerate(traces)
             for n, e in enumerate(entries)]
    names = {}
    merged = []
    for _, i, _, e in sorted(timed, key=lambda x: x[:3]):
        name = names.setdefault((i, e["conn"]), f"c{len(names) + 1}")
        merged.append({**{k: v for k, v in e.items() if k != "t"}, "conn": name})
    return merged


def unfinished_conns(entries):
    """Connections that neither closed nor saw a reset nor an end both ways."""
    opened, ended = [], {}
    for e in entries:
        conn, event = e.get("conn"), e.get("event")
        if event == "open":
            opened.append(conn)
        elif event in ("close", "rst"):
            ended[conn] = {"c2s", "s2c"}
        elif event == "eof":
            ended.setdefault(conn, set()).add(e.get("dir"))
    return [c for c in opened if ended.get(c) != {"c2s", "s2c"}]


HANDSHAKES = [("c2s", "handshake"), ("s2c", "handshake")]


def kind_sequences(entries):
    """{conn: [(dir, kind), ...]} over messages and decode errors.

    Both sides send their uid without waiting for the other's, so which one
    a recording shows first is a race: two opening handshakes are put in
    one order."""
    seqs, seen_dirs = {}, set()
    for e in entries:
        conn, d = e.get("conn"), e.get("dir")
        if e.get("event") == "decode_error":
            seqs.setdefault(conn, []).append((d, "decode_error"))
        elif is_message(e):
            first = (conn, d) not in seen_dirs
            seen_dirs.add((conn, d))
            seqs.setdefault(conn, []).append((d, kind(e.get("msg"), first=first)))
    for seq in seqs.values():
        if sorted(seq[:2]) == HANDSHAKES:
            seq[:2] = HANDSHAKES
    return seqs


def one_direction(seq, d):
    return [k for k in seq if k[0] == d]
