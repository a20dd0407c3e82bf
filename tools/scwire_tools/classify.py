# SPDX-License-Identifier: AGPL-3.0-or-later
"""What a message is: its kind, its cid and a one-line summary.

Works on the JSON view of messages (trace entries' "msg"), so trace files,
packet captures and live connections are all classified the same way.  Kinds
follow spec/protocol.md section 3:

    handshake  the first message each way on a connection (the uid)
    cmd functype return started yield stop error   request messages
    actor-error  an "error" map without "cid"
    nil        terminate
    other      anything else after the handshake (malformed)
    raw        bytes that are not one msgpack object (wire logs only)
"""
import json
import re

KINDS = ("handshake", "cmd", "functype", "return", "started", "yield", "stop",
         "error", "actor-error", "nil", "other", "raw")
# Keys that name a request message, in the order they are tested: a map with
# several of them is shown as the first one.
_KEYED = ("cmd", "functype", "return", "started", "yield", "stop", "error")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def kind(msg, first=False):
    """The kind of a message (JSON view); `first`: first message of its direction."""
    if first:
        return "handshake"
    if msg is None:
        return "nil"
    # A JSON-view wrapper ({"$map": ...}) is a value, not a message map.
    view = isinstance(msg, dict) and len(msg) == 1 and next(iter(msg)) in ("$map", "$bin", "$ext")
    if isinstance(msg, dict) and not view:
        for key in _KEYED:
            if key in msg:
                if key == "error" and "cid" not in msg:
                    return "actor-error"
                return key
    return "other"


def cid(msg):
    """The cid of a message as a str (a non-str cid is shown as JSON), or None."""
    if not isinstance(msg, dict):
        return None
    if "cid" in msg:
        c = msg["cid"]
    elif isinstance(msg.get("cmd"), list) and len(msg["cmd"]) == 5:
        c = msg["cmd"][4]
    else:
        return None
    return c if isinstance(c, str) else json.dumps(c)


def short_cid(c, width=8):
    """The first `width` characters of a cid ("" for none)."""
    if c is None:
        return ""
    return c if len(c) <= width else c[:width]


def tb_last_line(tb):
    """The last non-empty line of a traceback text, stripped."""
    if not isinstance(tb, str):
        return ""
    lines = [ln.strip() for ln in tb.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def tb_type(tb):
    """The exception type named by a traceback's last line (bare name), or ""."""
    m = re.match(r"^([A-Za-z_][\w.]*)(?::|$)", tb_last_line(tb))
    return m.group(1).rsplit(".", 1)[-1] if m else ""


def error_summary(err):
    """`Type: text` for an error map: its type_str and the last line of its tb_str."""
    if not isinstance(err, dict):
        return brief(err)
    type_str = err.get("type_str")
    last = tb_last_line(err.get("tb_str"))
    if isinstance(type_str, str):
        # The last line usually repeats the type with a module path in front
        # ("tractor._exceptions.ModuleNotExposed: svc"): show it once, bare.
        m = re.match(r"^(?:[\w]+\.)*" + re.escape(type_str) + r"(:.*|$)", last)
        if m:
            return type_str + m.group(1)
        return f"{type_str}: {last}" if last else type_str
    return brief(err)


def brief(value, limit=60, uuids=True):
    """A compact one-line rendering of a JSON-view value, cut at `limit` chars.

    nil/true/false as in msgpack, bin as <bin N: hex>, uuid strings shortened
    to 8 characters when `uuids`.
    """
    text = _render(value, uuids)
    return text if len(text) <= limit else text[:max(limit - 1, 1)] + "…"


def _render(v, uuids):
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        if uuids and UUID_RE.match(v):
            return json.dumps(v[:8] + "…", ensure_ascii=False)
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_render(x, uuids) for x in v) + "]"
    if isinstance(v, dict):
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "$bin" and isinstance(arg, str):
                n = len(arg) // 2
                return f"<bin {n}: {arg[:16]}{'…' if len(arg) > 16 else ''}>"
            if k == "$map" and isinstance(arg, list):
                return "{" + ", ".join(f"{_render(p[0], uuids)}: {_render(p[1], uuids)}"
                                       for p in arg if isinstance(p, list) and len(p) == 2) + "}"
            if k == "$ext" and isinstance(arg, list) and len(arg) == 2:
                return f"<ext {arg[0]}: {arg[1]}>"
            if k == "$float":
                return str(arg)
        return "{" + ", ".join(f"{k if _IDENT_RE.match(k) else json.dumps(k)}: {_render(x, uuids)}"
                               for k, x in v.items()) + "}"
    return json.dumps(v)


def cmd_summary(cmd, limit=70):
    """`ns.func(k=v, ...)` for the array of a cmd message."""
    if not (isinstance(cmd, list) and len(cmd) == 5):
        return "malformed cmd " + brief(cmd, limit)
    ns, func, kwargs = cmd[0], cmd[1], cmd[2]
    name = f"{ns}.{func}" if isinstance(ns, str) and isinstance(func, str) else \
        f"{brief(ns, 20)}.{brief(func, 20)}"
    if isinstance(kwargs, dict) and "$map" not in kwargs:
        args = ", ".join(f"{k}={_render(v, True)}" for k, v in kwargs.items())
    else:
        args = brief(kwargs, limit)
    text = f"{name}({args})"
    return text if len(text) <= limit else text[:limit - 2] + "…)"


def summary(msg, k, limit=70):
    """The one-line summary of a message of kind `k`."""
    if k == "handshake":
        if isinstance(msg, list) and len(msg) >= 2 and all(isinstance(x, str) for x in msg[:2]):
            return f"{msg[0]} {msg[1][:8]}"
        return "not a uid: " + brief(msg, limit)
    if k == "cmd":
        return cmd_summary(msg.get("cmd"), limit)
    if k == "functype":
        f = msg.get("functype")
        return f if isinstance(f, str) else brief(f, limit)
    if k in ("return", "started", "yield"):
        return brief(msg.get(k), limit)
    if k == "stop":
        return "" if msg.get("stop") is True else brief(msg.get("stop"), limit)
    if k in ("error", "actor-error"):
        text = error_summary(msg.get("error"))
        return text if len(text) <= limit else text[:limit - 1] + "…"
    if k == "nil":
        return "terminate"
    return brief(msg, limit)


def annotate(entries):
    """For each entry, a dict: kind, cid, summary (events: kind "event")."""
    seen = set()
    out = []
    for e in entries:
        if "event" in e:
            ev = e["event"]
            text = ev + (f" {e['dir']}" if e.get("dir") else "")
            if ev == "decode_error":
                text += f": {e.get('error', '')} ({len(e.get('hex', '')) // 2} bytes)"
            out.append({"kind": "event", "event": ev, "cid": None, "summary": text})
            continue
        key = (e.get("conn"), e.get("dir"))
        first = key not in seen
        seen.add(key)
        if e.get("raw") or "msg" not in e:
            n = len(e.get("hex", "")) // 2
            note = f" {e['note']}" if e.get("note") else ""
            more = "…" if n > 16 else ""
            out.append({"kind": "raw", "cid": None,
                        "summary": f"{n} bytes: {e.get('hex', '')[:32]}{more}{note}"})
            continue
        msg = e["msg"]
        k = kind(msg, first)
        out.append({"kind": k, "cid": cid(msg) if k != "handshake" else None,
                    "summary": summary(msg, k)})
    return out


def cancel_target(msg):
    """The cid a `self._cancel_task` command cancels, else None."""
    if isinstance(msg, dict) and isinstance(msg.get("cmd"), list) and len(msg["cmd"]) == 5:
        ns, func, kwargs = msg["cmd"][:3]
        if ns == "self" and func == "_cancel_task" and isinstance(kwargs, dict):
            c = kwargs.get("cid")
            return c if isinstance(c, str) else None
    return None
