# SPDX-License-Identifier: AGPL-3.0-or-later
"""Normalized messages, to compare two runs of one conversation.

Two runs differ in what is random or incidental even when they are
equivalent.  A `Normalizer` rewrites the JSON view of messages so that:

- cids (a top-level "cid", item 5 of a "cmd", the "cid" kwarg of
  `self._cancel_task`) become `<cid1>`, `<cid2>`, ... in order of first
  appearance, or the name they were given with `seed_cid`;
- every other uuid-shaped str becomes `<uuid1>`, ... (or a seeded name), also
  where it appears inside a longer str;
- `tb_str` becomes `<tb Type>`, the exception type of its last line, or just
  `<tb>` with tb="ignore";
- with `peer_name` set, the name in a uid whose uuid is the seeded peer uuid
  becomes `<peer-name>`.

Use one Normalizer per run; seed both with the same names for the values
that correspond (our uid against the recorded client's, the cids the replay
generated against the recorded ones).  `line` renders a normalized value with
sorted keys: key order carries no meaning (MSG-5).
"""
import json
import re

from .classify import UUID_RE, tb_type

_UUID_IN = re.compile(UUID_RE.pattern.strip("^$"))


class Normalizer:
    def __init__(self, tb="type", peer_name=False):
        self.tb = tb
        self.peer_name = peer_name
        self.cids = {}
        self.uuids = {}
        self.ncid = 0
        self.nuuid = 0

    def seed_cid(self, value, name):
        """Give a cid a fixed name; `<cidN>` names also move the counter past N."""
        self.cids[value] = name
        m = re.match(r"^<cid(\d+)>$", name)
        if m:
            self.ncid = max(self.ncid, int(m.group(1)))

    def seed_uuid(self, value, name):
        """Give a uuid a fixed name (for example `<peer-uuid>`)."""
        self.uuids[value] = name

    def cid(self, value):
        if not isinstance(value, str):
            return value
        if value not in self.cids:
            if value in self.uuids:
                return self.uuids[value]
            self.ncid += 1
            self.cids[value] = f"<cid{self.ncid}>"
        return self.cids[value]

    def _uuid(self, value):
        if value in self.cids:
            return self.cids[value]
        if value not in self.uuids:
            self.nuuid += 1
            self.uuids[value] = f"<uuid{self.nuuid}>"
        return self.uuids[value]

    def _str(self, s):
        if UUID_RE.match(s):
            return self._uuid(s)
        return _UUID_IN.sub(lambda m: self._uuid(m.group(0)), s)

    def tb_text(self, tb):
        if self.tb == "ignore":
            return "<tb>"
        t = tb_type(tb)
        return f"<tb {t}>" if t else "<tb>"

    def norm(self, v):
        """The normalized copy of a JSON-view message."""
        if isinstance(v, str):
            return self._str(v)
        if isinstance(v, list):
            out = [self.norm(x) for x in v]
            is_peer = len(out) == 2 and out[1] == "<peer-uuid>" and isinstance(v[0], str)
            if self.peer_name and is_peer:
                out[0] = "<peer-name>"
            return out
        if not isinstance(v, dict):
            return v
        if set(v) == {"$map"} and isinstance(v["$map"], list):
            pairs = v["$map"]
            return {"$map": [[self.norm(p[0]), self.norm(p[1])]
                             if isinstance(p, list) and len(p) == 2 else self.norm(p)
                             for p in pairs]}
        # cid positions first, so that a cid is never named as a plain uuid.
        if "cid" in v:
            self.cid(v["cid"])
        cmd = v.get("cmd")
        if isinstance(cmd, list) and len(cmd) == 5:
            self.cid(cmd[4])
            if cmd[:2] == ["self", "_cancel_task"] and isinstance(cmd[2], dict):
                self.cid(cmd[2].get("cid"))
        out = {}
        for k, x in v.items():
            if k == "tb_str" and isinstance(x, str):
                out[k] = self.tb_text(x)
            else:
                out[self._str(k)] = self.norm(x)
        return out


def line(value):
    """One comparable line of text for a normalized value."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
