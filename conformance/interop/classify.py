# SPDX-License-Identifier: AGPL-3.0-or-later
"""Classification of the differences the differential replay finds.

A difference between the two implementations' replies to one recording is:

- `robustness` when one of them went down on the recording's input (its
  process exited, or a fresh connection was not served afterwards, where the
  recording does not cancel the actor): what it did not answer, or the
  connection it closed, is part of that;
- `profile` when the recording is the evidence of a row of spec/profiles.md
  (its `evidence` column): the row names the requirement on which tractor
  0.1.0a4 deliberately differs from the strict spec that scwire-ref follows;
- `unexplained` otherwise, which the runner prints loudly.

Recordings the replay machinery cannot reproduce faithfully are SKIP
(`unreplayable`), so that they cannot pass for agreement.
"""
from scwire_conform.profiles import load_table

_TABLE = {}


def rows_by_evidence():
    """{evidence recording, e.g. "profile/cid_5_cmd_with_cid": Row}."""
    if not _TABLE:
        for row in load_table().values():
            _TABLE[row.evidence[:-len(".jsonl")] if row.evidence.endswith(".jsonl")
                   else row.evidence] = row
    return _TABLE


def classify(rec, where, text, a, b):
    down = [s for s in (a, b) if s.down]
    row = rows_by_evidence().get(rec.name)
    entry = {"where": where, "text": text, "class": "unexplained", "row": None, "why": None}
    if down:
        who = "; ".join(f"{s.impl.name} went down on this input ({s.down})" for s in down)
        return dict(entry, **{"class": "robustness", "why": who + ": what it left unanswered "
                              "and the connection it closed are part of that"})
    if row:
        return dict(entry, **{"class": "profile", "row": row.rid,
                              "why": f"{rec.name} is the evidence of row {row.rid} of "
                                     f"spec/profiles.md: strict: {row.strict}; tractor "
                                     f"0.1.0a4: {row.tractor}"})
    return entry


def _views(entries):
    return [e["msg"] for e in entries if e.get("dir") == "c2s" and "msg" in e]


def _has_ext(v):
    if isinstance(v, dict):
        return "$ext" in v or any(_has_ext(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_ext(x) for x in v)
    return False


def _server_uids(entries):
    """The uid each connection's accepting side sent first."""
    uids = {}
    for e in entries:
        m = e.get("msg")
        if e.get("dir") == "s2c" and e.get("conn") not in uids and isinstance(m, list) \
                and len(m) == 2:
            uids[e["conn"]] = tuple(map(str, m))
    return set(uids.values())


def _cmd_of(v):
    return v["cmd"] if isinstance(v, dict) and isinstance(v.get("cmd"), list) else []


def unreplayable(rec):
    """Why the replay machinery (scwire_conform/replay.py) cannot play this
    recording's client side as recorded, or None."""
    entries = rec.entries
    views = _views(entries)
    if any(e.get("dir") == "s2c" and isinstance(e.get("msg"), dict)
           and "_parent_main_data" in e["msg"] for e in entries):
        return ("a parent/child recording: a child actor opens one of its connections and "
                "takes an init map, which the replay cannot play")
    if any(_cmd_of(v)[1:2] == ["ctx_call"] for v in views):
        return ("its ctx_call connects to the recorded callee's port, which nobody serves "
                "during the replay")
    if len(_server_uids(entries)) > 1:
        return "its connections go to more than one actor; the replay plays against one"
    odd = sorted({e["event"] for e in entries if e.get("dir") == "c2s" and "event" in e}
                 - {"eof", "decode_error"})
    if odd:
        return f"its client side does what the replay cannot ({', '.join(odd)})"
    for v in views:
        if isinstance(v, dict) and "cmd" in v and set(v) != {"cmd"}:
            return (f"a cmd carries other keys ({', '.join(sorted(set(v) - {'cmd'}))}), which "
                    f"the replay rebuilds from the cmd alone")
        if _has_ext(v):
            return "it sends an ext value, which the replay sends as its JSON view"
    return None
