# SPDX-License-Identifier: AGPL-3.0-or-later
"""Compare conversations modulo what is random or incidental in them.

Two runs of one conversation differ in uuids, cids and traceback text even
when they are equivalent.  `normalize` rewrites wire-log entries (ours or the
recorded tractor traces, both in the trace format) so that:

- cids are renamed in order of first appearance: `<cid1>`, `<cid2>`, ...
  (consistently: the same cid gets the same name everywhere);
- other uuid strings become `<uuid1>`, ...;
- `tb_str` becomes `<tb Type>` (the type of its last line) or `<tb>`;
- optionally, actor names in uids become `<name1>`, ...;
- time stamps and hex are dropped.

It works on the JSON view of messages (`msg`), so the codec does not matter.
"""
import json
import re

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TB_LAST_RE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


def load_trace(path):
    """The entries of a .jsonl trace file."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def tb_summary(tb_str, mode="type"):
    """`<tb Type>` from the last line of a traceback text, or `<tb>`."""
    if mode == "drop" or not isinstance(tb_str, str):
        return "<tb>"
    lines = [ln for ln in tb_str.strip().splitlines() if ln.strip()]
    m = _TB_LAST_RE.match(lines[-1].strip()) if lines else None
    return f"<tb {m.group(1).rsplit('.', 1)[-1]}>" if m else "<tb>"


class Renamer:
    """Consistent names for the random parts of one or more conversations."""

    def __init__(self):
        self.cids = {}
        self.uuids = {}
        self.names = {}

    def _name(self, table, prefix, value):
        if value not in table:
            table[value] = f"<{prefix}{len(table) + 1}>"
        return table[value]

    def cid(self, value):
        return self._name(self.cids, "cid", value) if isinstance(value, str) else value

    def uuid(self, value):
        if value in self.cids:
            return self.cids[value]
        return self._name(self.uuids, "uuid", value)

    def name(self, value):
        return self._name(self.names, "name", value) if isinstance(value, str) else value


def _walk(v, ren, tb):
    if isinstance(v, str):
        return ren.uuid(v) if UUID_RE.match(v) else v
    if isinstance(v, list):
        return [_walk(x, ren, tb) for x in v]
    if not isinstance(v, dict):
        return v
    if set(v) == {"$map"}:
        return {"$map": [[_walk(k, ren, tb), _walk(x, ren, tb)] for k, x in v["$map"]]}
    out = {}
    # cid positions first, so a cid is never named as a plain uuid.
    if "cid" in v:
        out["cid"] = ren.cid(v["cid"])
    cmd = v.get("cmd")
    if isinstance(cmd, list) and len(cmd) == 5:
        ren.cid(cmd[4])
        if cmd[:2] == ["self", "_cancel_task"] and isinstance(cmd[2], dict):
            ren.cid(cmd[2].get("cid"))
    for k, x in v.items():
        if k == "cid":
            continue
        if k == "tb_str":
            out[k] = tb_summary(x, tb)
        else:
            out[k] = _walk(x, ren, tb)
    return out


def normalize(entries, *, tb="type", uid_names=False, events=True, renamer=None):
    """Normalized copies of wire-log entries (see the module text)."""
    ren = renamer or Renamer()
    seen_first = set()
    out = []
    for e in entries:
        if "event" in e:
            if events:
                out.append({k: e[k] for k in ("conn", "event", "dir") if k in e})
            continue
        if "msg" not in e:
            out.append({"conn": e.get("conn"), "dir": e.get("dir"), "raw": e.get("hex")})
            continue
        msg = e["msg"]
        key = (e.get("conn"), e.get("dir"))
        # The first message each way is the uid; its name is incidental.
        if uid_names and key not in seen_first and isinstance(msg, list) and msg:
            msg = [ren.name(msg[0])] + msg[1:]
        seen_first.add(key)
        if uid_names and isinstance(msg, dict) and isinstance(msg.get("cmd"), list) \
                and len(msg["cmd"]) == 5 and isinstance(msg["cmd"][3], list) and msg["cmd"][3]:
            cmd = list(msg["cmd"])
            cmd[3] = [ren.name(cmd[3][0])] + cmd[3][1:]
            msg = dict(msg, cmd=cmd)
        out.append({"conn": e.get("conn"), "dir": e.get("dir"), "msg": _walk(msg, ren, tb)})
    return out


def messages(entries, conn=None, direction=None):
    """Just the normalized messages, optionally of one conn and one direction."""
    return [e["msg"] for e in entries if "msg" in e
            and (conn is None or e.get("conn") == conn)
            and (direction is None or e.get("dir") == direction)]


def diff(a, b, limit=5):
    """Texts that describe how two normalized sequences differ (empty if equal)."""
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            out.append(f"#{i}: {json.dumps(x, sort_keys=True)} != {json.dumps(y, sort_keys=True)}")
            if len(out) >= limit:
                break
    if len(a) != len(b) and len(out) < limit:
        longer, n = (a, len(b)) if len(a) > len(b) else (b, len(a))
        out.append(f"lengths {len(a)} != {len(b)}; first extra: "
                   f"{json.dumps(longer[n], sort_keys=True)}")
    return out
