# SPDX-License-Identifier: AGPL-3.0-or-later
"""Findings and divergences, saved as trace files, and the run's JSON summary.

A trace file holds the recorded conversation of the (minimized) case, in the
format of the recorded tractor vectors, so that `tools/scwire-send --trace`
replays it; each finding also names the connection to replay and the exact
command.  A memory finding, which no single case shows, holds the client
side of the cases sampled since the previous sample, connections renamed
`k<case>-<conn>`.
"""
import json
import os
import re

from .. import ToolError
from ..codec import pack
from ..jsonview import to_json
from ..replay import pick_conn
from ..trace import write_trace


def slug(text, limit=60):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:limit] or "case"


def entries_of(actions, codec, prefix=""):
    """Trace entries of the client side of actions (no replies)."""
    out, opened = [], set()
    for a in actions:
        conn = prefix + a[1]
        if conn not in opened:
            opened.add(conn)
            out.append({"conn": conn, "event": "open"})
        if a[0] == "msg":
            out.append({"conn": conn, "dir": "c2s", "hex": pack(a[2]).hex(), "msg": to_json(a[2])})
        elif a[0] == "raw":
            out.append({"conn": conn, "dir": "c2s", "hex": a[2].hex(), "raw": True})
        else:
            out.append({"conn": conn, "event": a[0], "dir": "c2s"})
    return out


def replay_conn(entries):
    """The connection scwire-send should replay: its own choice, else the first that sends."""
    try:
        return pick_conn(entries)
    except ToolError:
        return next((e["conn"] for e in entries if e.get("dir") == "c2s"), entries[0]["conn"])


def save_trace(out_dir, name, entries):
    path = os.path.join(out_dir, name + ".jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        write_trace(entries, fh)
    return path


def replay_command(path, conn, codec):
    return (f"tools/scwire-send --target HOST:PORT --codec {codec} --trace {path} --conn {conn}")


class Finding:
    def __init__(self, side, case, verdict, codec):
        self.side = side              # the target's label
        self.codec = codec
        self.case = case
        self.kind = verdict.kind
        self.detail = verdict.detail
        self.signature = verdict.signature
        self.original = len(case.actions)
        self.original_bytes = case.size()
        self.actions = case.actions
        self.attempts = 0
        self.minimized = False
        self.reproduced = None        # None: not re-checked
        self.file = None
        self.conn = None
        self.conns = 0
        self.note = ""

    def save(self, out_dir, entries):
        self.conn = replay_conn(entries)
        self.conns = len({e["conn"] for e in entries})
        self.file = save_trace(out_dir, f"finding-{self.side}-{self.case.name}-{self.kind}",
                               entries)

    def line(self):
        size = (f"{self.original} -> {len(self.actions)} actions"
                if self.minimized else f"{len(self.actions)} actions, not minimized")
        note = f" ({self.note})" if self.note else ""
        crash = f" [{self.signature}]" if self.signature else ""
        return (f"{self.kind:<12} {self.side}: case {self.case.name} \"{self.case.label}\": "
                f"{self.detail}{crash}; {size}{note}; {self.file}")

    def to_json(self):
        return {"target": self.side, "kind": self.kind, "detail": self.detail,
                "crash_line": self.signature,
                "case": self.case.name, "family": self.case.family, "label": self.case.label,
                "actions": self.original, "bytes": self.original_bytes,
                "minimized_actions": len(self.actions),
                "minimized_bytes": self.case.with_actions(self.actions).size(),
                "minimized": self.minimized, "attempts": self.attempts,
                "reproduced": self.reproduced, "note": self.note, "file": self.file,
                "connections": self.conns, "replay_conn": self.conn,
                "replay": replay_command(self.file, self.conn, self.codec) if self.file else None}


def write_summary(path, summary):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
