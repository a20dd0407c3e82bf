# SPDX-License-Identifier: AGPL-3.0-or-later
"""Messages of the protocol: their kinds, strict value equality, and patterns.

A pattern is a predicate with a description, so that a wait that fails can say
what it expected next to what it observed.  Patterns are strict: a reply
matches only if it has exactly one kind key (MSG-3), the right cid, and, for
errors, the map shape of ERR-1.
"""
import math
import re
import uuid as _uuid

import msgpack

from .wirelog import short

KINDS = ("functype", "return", "started", "yield", "stop", "error")
FUNCTYPES = ("asyncfunc", "asyncgen", "context")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def new_cid():
    """A fresh cid, as CID-3 asks of callers."""
    return str(_uuid.uuid4())


def kind(msg):
    """The kind of a post-handshake message, or None when it has no single kind.

    nil -> "nil"; a map with a `cmd` key and no cid -> "cmd"; a map with
    exactly one of the reply keys -> that key.
    """
    if msg is None:
        return "nil"
    if not isinstance(msg, dict):
        return None
    keys = [k for k in KINDS if k in msg]
    if len(keys) == 1:
        return keys[0]
    if not keys and "cmd" in msg:
        return "cmd"
    return None


def same(a, b):
    """Equality of wire values: msgpack type families must match, arrays compare
    whatever their Python sequence type, floats compare as numbers.

    Python's == would call True equal to 1, 1 equal to 1.0 and b"a" unequal
    to "a" only by luck; echo checks (SVC-8) need the msgpack type kept.
    """
    if isinstance(a, msgpack.ExtType) or isinstance(b, msgpack.ExtType):
        # ExtType is a namedtuple; it must not pass for an array.
        return isinstance(a, msgpack.ExtType) and isinstance(b, msgpack.ExtType) and a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int) or isinstance(b, int):
        return isinstance(a, int) and isinstance(b, int) and a == b
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, (bytes, bytearray)) or isinstance(b, (bytes, bytearray)):
        return isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray)) \
            and bytes(a) == bytes(b)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) \
            and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or len(a) != len(b):
            return False
        # Keys of different families can be equal in Python (True == 1), so
        # each key must find a partner of the same family.
        rest = list(b.items())
        for ka, va in a.items():
            for i, (kb, vb) in enumerate(rest):
                if same(ka, kb) and same(va, vb):
                    del rest[i]
                    break
            else:
                return False
        return True
    return a is None and b is None


def error_problems(err):
    """Why an `error` value breaks ERR-1 (empty list when it does not)."""
    if not isinstance(err, dict):
        return [f"error value is not a map: {short(err)}"]
    problems = []
    if not isinstance(err.get("tb_str"), str):
        problems.append("tb_str missing or not a str")
    t = err.get("type_str")
    if not isinstance(t, str) or not t:
        problems.append("type_str missing, empty or not a str")
    elif "." in t:
        problems.append(f"type_str {t!r} is not a bare class name")
    return problems


def reply_problems(msg, cid):
    """Why a reply on cid breaks MSG-3/ERR-1 (empty list when it does not)."""
    if not isinstance(msg, dict):
        return [f"not a map: {short(msg)}"]
    keys = [k for k in KINDS if k in msg]
    problems = []
    if len(keys) != 1:
        problems.append(f"has {len(keys)} of the kind keys {KINDS} instead of one")
    if msg.get("cid") != cid:
        problems.append(f"cid is {short(msg.get('cid'))}, not {cid!r}")
    if "functype" in keys and msg["functype"] not in FUNCTYPES:
        problems.append(f"functype {short(msg['functype'])} is none of {FUNCTYPES}")
    if "stop" in keys and msg["stop"] is not True:
        problems.append(f"stop is {short(msg['stop'])}, not true")
    if "error" in keys:
        problems += error_problems(msg["error"])
    return problems


class Pattern:
    """A predicate over one message, with the text of what it expects."""

    def __init__(self, text, fn):
        self.text = text
        self._fn = fn

    def __call__(self, msg):
        try:
            return bool(self._fn(msg))
        except (KeyError, TypeError, AttributeError, IndexError):
            return False

    def __or__(self, other):
        return Pattern(f"{self.text} or {other.text}", lambda m: self(m) or other(m))

    def __str__(self):
        return self.text


ANY = object()


def _reply(kind_key, cid, value=ANY, check=None):
    def fn(m):
        if reply_problems(m, cid) or kind_key not in m:
            return False
        if value is not ANY and not same(m[kind_key], value):
            return False
        return check(m) if check else True
    shown = "" if value is ANY else f" {short(value, 120)}"
    return Pattern(f"{{{kind_key}{shown}}} on cid {cid}", fn)


def functype(cid, ft):
    return _reply("functype", cid, ft)


def ret(cid, value=ANY):
    return _reply("return", cid, value)


def started(cid, value=ANY):
    return _reply("started", cid, value)


def yield_(cid, value=ANY):
    return _reply("yield", cid, value)


def stop(cid):
    return _reply("stop", cid)


def error(cid, type_str=None, text_in_tb=None):
    def check(m):
        e = m["error"]
        return (type_str is None or e["type_str"] == type_str) and \
            (text_in_tb is None or text_in_tb in e["tb_str"])
    p = _reply("error", cid, check=check)
    detail = f" type_str {type_str}" if type_str else ""
    if text_in_tb:
        detail += f" with {text_in_tb!r} in tb_str"
    p.text = f"{{error{detail}}} on cid {cid}"
    return p


def nil():
    return Pattern("nil", lambda m: m is None)


def is_uid(value):
    """HS-3: an array of exactly two str."""
    return isinstance(value, (list, tuple)) and len(value) == 2 and \
        all(isinstance(x, str) for x in value)
