# SPDX-License-Identifier: AGPL-3.0-or-later
"""Trace files: one JSON object a line (vectors/tractor-0.1.0a4/README.md).

    {"conn": "c3", "event": "open"}
    {"conn": "c3", "dir": "c2s", "hex": "92a6...", "msg": ["client", "..."]}
    {"conn": "c3", "event": "eof", "dir": "c2s"}

Events: open, eof, rst, close, decode_error (with "error" and "hex").  Any
entry may carry "t", seconds.  The conformance suite's wire logs are the same
format and add `"raw": true` to bytes that are not one message.

`read_trace` checks every line and names the first bad one; the loaded entries
keep their line number under the private key "_line" (never written back).
"""
import json

from . import ToolError
from .codec import UNPACK_OPTS
from .jsonview import to_json

DIRS = ("c2s", "s2c")
EVENTS = ("open", "eof", "rst", "close", "decode_error")


def is_message(entry):
    """True for an entry that carries bytes of a direction (a message or raw bytes)."""
    return "event" not in entry and entry.get("dir") in DIRS


def _decode_hex(text):
    import msgpack
    try:
        data = bytes.fromhex(text)
        return to_json(msgpack.unpackb(data, **UNPACK_OPTS)), True
    except (ValueError, TypeError, msgpack.FormatError, msgpack.StackError):
        return None, False


def _check(obj, where):
    """Raise ToolError unless obj is a well-formed entry; fill in "msg" from "hex"."""
    if not isinstance(obj, dict):
        raise ToolError(f"{where}: not a JSON object")
    if not isinstance(obj.get("conn"), str):
        raise ToolError(f"{where}: no \"conn\" string")
    if "t" in obj and (isinstance(obj["t"], bool) or not isinstance(obj["t"], (int, float))):
        raise ToolError(f"{where}: \"t\" is not a number")
    if "dir" in obj and obj["dir"] not in DIRS:
        raise ToolError(f"{where}: \"dir\" is {obj['dir']!r}, not c2s or s2c")
    if "hex" in obj:
        try:
            bytes.fromhex(obj["hex"])
        except (TypeError, ValueError):
            raise ToolError(f"{where}: \"hex\" is not a hex string") from None
    if "event" in obj:
        if not isinstance(obj["event"], str):
            raise ToolError(f"{where}: \"event\" is not a string")
        return obj
    if "dir" not in obj:
        raise ToolError(f"{where}: neither \"event\" nor \"dir\"")
    if "msg" not in obj:
        if "hex" not in obj:
            raise ToolError(f"{where}: a message without \"msg\" or \"hex\"")
        if not obj.get("raw"):
            msg, ok = _decode_hex(obj["hex"])
            if ok:
                obj["msg"] = msg
            else:
                obj["raw"] = True
    return obj


def parse_lines(lines, name="trace", lenient=False, warn=None):
    """Entries of a trace given as text lines (with their line ends).

    A bad line raises ToolError naming it; with `lenient`, `warn` is called
    with the same text and the line is skipped.
    """
    out = []
    total = len(lines)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                cut = lineno == total and not line.endswith("\n")
                hint = "truncated line, " if cut else ""
                raise ToolError(f"{where}: {hint}not JSON: {e.msg} (column {e.colno})") from None
            obj = _check(obj, where)
        except ToolError as e:
            if not lenient:
                raise
            if warn:
                warn(f"{e} (skipped)")
            continue
        obj["_line"] = lineno
        out.append(obj)
    return out


def read_trace(path, lenient=False, warn=None):
    """Entries of a trace file (see parse_lines)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            lines = fh.read().splitlines(keepends=True)
    except OSError as e:
        raise ToolError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ToolError(f"{path}: not UTF-8 text: {e.reason} at byte {e.start}") from None
    return parse_lines(lines, name=path, lenient=lenient, warn=warn)


def public(entry):
    """A copy of an entry without the private keys (those starting with "_")."""
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def dump_entry(entry):
    """One trace line (without its newline)."""
    return json.dumps(public(entry), ensure_ascii=False)


def write_trace(entries, fh):
    """Write entries to an open text file, one JSON object a line."""
    for e in entries:
        fh.write(dump_entry(e) + "\n")


def conns(entries):
    """Connection names in order of first appearance."""
    seen = {}
    for e in entries:
        seen.setdefault(e.get("conn"), None)
    return list(seen)
