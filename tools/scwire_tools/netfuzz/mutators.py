# SPDX-License-Identifier: AGPL-3.0-or-later
"""The mutation families: each turns valid conversations into one case.

A family is a function `f(gen) -> (label, actions)`; `gen` (generate.Gen)
supplies the randomness, the codec and valid conversations, and the label
says in one line what was done, so that a finding can be read without its
trace.  FAMILIES maps each name to its function, in the round-robin order of
the case stream.  Sizes and counts are bounded by the limits of
spec/limits.md (a little over them at most), so a case never costs more than
a few MiB and a few thousand messages.
"""
import copy

from ..classify import kind
from ..codec import frame, pack
from ..jsonview import to_json
from .case import eof, msg, raw, rst

KiB, MiB = 1024, 1024 * 1024
ROUTED_KEYS = ("yield", "stop", "return", "started", "error", "functype")
# One value of each msgpack type, to put where another type belongs.
TYPED = (("nil", None), ("bool", True), ("int", -1), ("int", 2 ** 64 - 1), ("float", 1.5),
         ("str", "netfuzz"), ("str", ""), ("bin", b"\x00\xff"), ("array", []),
         ("array", [1, "x"]), ("map", {}), ("map", {"k": 1}), ("map", {1: 2}))
BAD_UIDS = (42, "ab", {}, None, [], ["x"], ["x", "not-a-uuid"], ["x", ""], ["x", 5], [5, "u"],
            [b"x", b"u"], ["x", "u", "extra"], ["x" * 60000, "u"])
# Headers that claim far more than follows (spec/protocol.md section 13, rows 34-36).
LYING_HEADERS = ("df0fffffff0000", "ddffffffff01", "dbffffffff61", "c6ffffffff00",
                 "c9ffffffff0100")


def type_name(v):
    for name, types in (("nil", type(None)), ("bool", bool), ("int", int), ("float", float),
                        ("str", str), ("bin", (bytes, bytearray)), ("array", (list, tuple)),
                        ("map", dict)):
        if isinstance(v, types):
            return name
    return type(v).__name__


def fields(m):
    """Paths to every field of a message: top-level keys, cmd items, kwargs keys."""
    if not isinstance(m, dict):
        return []
    out = [(k,) for k in m]
    cmd = m.get("cmd")
    if isinstance(cmd, list):
        out += [("cmd", i) for i in range(len(cmd))]
        if len(cmd) > 2 and isinstance(cmd[2], dict):
            out += [("cmd", 2, k) for k in cmd[2]]
    return out


def get_path(m, path):
    for p in path:
        m = m[p]
    return m


def set_path(m, path, value):
    m = copy.deepcopy(m)
    target = m
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return m, target


def framed(gen, value):
    """A message as raw bytes under the case's codec (kept exact in a trace)."""
    return frame(pack(value), gen.codec)


def with_handshake(gen, *values):
    return [msg("c1", gen.uid)] + [msg("c1", v) for v in values]


def echo_cmd(gen, value=None, cid=None):
    return {"cmd": ["scwire_service", "echo", {"value": gen.value() if value is None else value},
                    gen.uid, cid or gen.cid()]}


# -- families ---------------------------------------------------------------------------

def valid(gen):
    conv = gen.conversation()
    return f"valid {conv.messages[1]['cmd'][1]}", conv.actions()


def wrong_type(gen):
    conv = gen.conversation()
    i = gen.rng.randrange(1, len(conv.messages))
    m = conv.messages[i]
    path = gen.rng.choice(fields(m))
    old = type_name(get_path(m, path))
    name, value = gen.rng.choice([t for t in TYPED if t[0] != old])
    if path[:2] == ("cmd", 2) and len(path) == 3 and gen.rng.random() < 0.5:
        # The key of a kwarg rather than its value: a non-str key.
        kwargs = dict(m["cmd"][2])
        kwargs[2] = kwargs.pop(path[2])
        new, _ = set_path(m, ("cmd", 2), kwargs)
        where, name = f"cmd.kwargs key {path[2]}", "int key"
    else:
        new, _ = set_path(m, path, value)
        where = ".".join(map(str, path))
    conv.messages[i] = new
    return f"wrong-type {kind(to_json(m))}: {where} {old} -> {name}", conv.actions()


def cid(gen):
    r = gen.rng
    how = r.choice(("unknown", "non-str", "reuse-live", "reuse-done", "cross-conn"))
    if how == "unknown":
        conv = gen.conversation()
        key = r.choice(ROUTED_KEYS)
        conv.messages.append({key: gen.value(), "cid": gen.cid()})
        return f"cid unknown: {key} for a cid never used", conv.actions()
    if how == "non-str":
        bad = r.choice([5, "", None, {"a": 1}, ["x"]])
        conv = gen.conversation()
        conv.messages.append({r.choice(ROUTED_KEYS): 1, "cid": bad})
        return f"cid non-str: routed message with cid {bad!r}", conv.actions()
    if how == "reuse-live":
        conv, c = gen.opened(r.choice(("ctx_no_stream", "sleep_forever", "ctx_echo")))
        conv.messages.append(echo_cmd(gen, cid=c))
        return f"cid reused: echo with the cid of a live {conv.cids[c]}", conv.actions()
    if how == "reuse-done":
        conv, c = gen.opened("echo")
        conv.messages.append(echo_cmd(gen, cid=c))
        return "cid reused: a second echo with a finished call's cid", conv.actions()
    conv, c = gen.opened(r.choice(("ctx_no_stream", "ctx_echo")))
    foreign = r.choice(({"yield": 1, "cid": c}, {"stop": True, "cid": c},
                        {"cmd": ["self", "_cancel_task", {"cid": c}, gen.uid, gen.cid()]}))
    actions = conv.actions() + [msg("c2", gen.uid), msg("c2", foreign)]
    return f"cid of another connection: {kind(to_json(foreign))} on c2", actions


def order(gen):
    r = gen.rng
    how = r.choice(("yield-before-cmd", "return-twice", "stop-without-stream", "started-unknown",
                    "started-from-caller", "functype-from-caller", "yield-after-stop",
                    "cancel-before-cmd", "error-into-context", "actor-error", "nil-then-more",
                    "no-kind-key", "cmd-with-cid"))
    conv, c = gen.opened(r.choice(("ctx_echo", "ctx_no_stream")))
    m = conv.messages
    if how == "yield-before-cmd":
        m.insert(1, {"yield": gen.value(), "cid": c})
    elif how == "return-twice":
        m += [{"return": 1, "cid": c}, {"return": 2, "cid": c}]
    elif how == "stop-without-stream":
        conv, c = gen.opened(r.choice(("ctx_no_stream", "echo", "sleep_forever")))
        conv.messages.append({"stop": True, "cid": c})
        how += f" ({conv.cids[c]})"
    elif how == "started-unknown":
        m.append({"started": gen.value(), "cid": gen.cid()})
    elif how == "started-from-caller":
        m.append({"started": gen.value(), "cid": c})
    elif how == "functype-from-caller":
        m.append({"functype": r.choice(("asyncfunc", "context", "bogus")), "cid": c})
    elif how == "yield-after-stop":
        m += [{"stop": True, "cid": c}, {"yield": 1, "cid": c}]
    elif how == "cancel-before-cmd":
        gen.cancel(conv, c)
        m.insert(1, m.pop())
    elif how == "error-into-context":
        err = r.choice(("x", {"tb_str": "t"}, {"type_str": "ValueError"}, {1: 2},
                        {"type_str": "ValueError", "tb_str": "", "message": "m"}))
        m.append({"error": err, "cid": c})
        how += f" {err!r}"
    elif how == "actor-error":
        m.append({"error": {"type_str": "ValueError", "tb_str": "netfuzz"}})
    elif how == "nil-then-more":
        m += [None, echo_cmd(gen)]
    elif how == "no-kind-key":
        m.append({"cid": c, "x": 1})
    else:
        m.append(dict(echo_cmd(gen), cid=c))
    return f"order {how}", conv.actions()


def oversize(gen):
    r = gen.rng
    how = r.choice(("str", "bin", "array", "map", "lying-header"))
    if how == "lying-header":
        choices = LYING_HEADERS + (("lenprefix ffffffff", "lenprefix 1 MiB + 1")
                                   if gen.codec == "lenprefix" else ())
        h = r.choice(choices)
        if h == "lenprefix ffffffff":
            data = bytes.fromhex("ffffffff0102")
        elif h == "lenprefix 1 MiB + 1":
            data = (MiB + 1).to_bytes(4, "little") + b"\x91"
        else:
            data = frame(bytes.fromhex(h), gen.codec)
        return f"oversize lying header {h}", with_handshake(gen) + [raw("c1", data)]
    if how in ("str", "bin"):
        n = r.choice((64 * KiB - 200, 64 * KiB + 100, MiB - 200, MiB + 100))
        value = "a" * n if how == "str" else b"\x00" * n
    else:
        n = r.choice((4096, 64 * KiB - 16, 64 * KiB + 1))
        value = [0] * n if how == "array" else {f"{i}": 0 for i in range(n)}
    return f"oversize {how} of {n}", with_handshake(gen, echo_cmd(gen, value))


def nesting(gen):
    r = gen.rng
    depth = r.choice((13, 16, 29, 33, 100, 1000, 1100, 4000))
    shape = r.choice(("array", "map"))
    if depth <= 100:
        value = 0
        for _ in range(depth):
            value = [value] if shape == "array" else {"a": value}
        # The echo value sits at level 4 (map, cmd array, kwargs map).
        return f"nesting {shape} of depth {depth + 3} in echo", \
            with_handshake(gen, echo_cmd(gen, value))
    body = (b"\x91" if shape == "array" else b"\x81\xa1a") * depth + b"\xc0"
    return f"nesting {shape} of depth {depth} as a message", \
        with_handshake(gen) + [raw("c1", frame(body, gen.codec))]


def flood(gen):
    r = gen.rng
    how = r.choice(("ctx_echo", "ctx_no_stream", "ctx_slow_sink", "echo", "unknown-cid"))
    n = r.choice((64, 65, 200, 1000, 2000))
    if how in ("ctx_echo", "ctx_no_stream", "ctx_slow_sink"):
        kwargs = {"delay": 0.5, "backpressure": r.random() < 0.5} if how == "ctx_slow_sink" \
            else None
        conv, c = gen.opened(how, kwargs)
        conv.messages += [{"yield": i, "cid": c} for i in range(n)]
    else:
        conv = gen.conversation("echo")
        if how == "echo":
            conv.messages += [echo_cmd(gen, i) for i in range(n)]
        else:
            conv.messages += [{"yield": i, "cid": gen.cid()} for i in range(n)]
    return f"flood of {n} into {how}", conv.actions()


def truncate(gen):
    conv = gen.conversation()
    r = gen.rng
    k = r.randrange(len(conv.messages))
    data = framed(gen, conv.messages[k])
    cut = r.randrange(1, len(data))
    end = r.choice(("eof", "rst", "stall"))
    actions = conv.actions()[:k] + [raw("c1", data[:cut])]
    actions += {"eof": [eof("c1")], "rst": [rst("c1")], "stall": []}[end]
    what = "the uid" if k == 0 else kind(to_json(conv.messages[k]))
    return f"truncate {what} at {cut}/{len(data)} bytes, then {end}", actions


def disconnect(gen):
    r = gen.rng
    func = r.choice(("sleep_forever", "ctx_no_stream", "ctx_echo", "count"))
    conv, c = gen.opened(func, {"n": 2000} if func == "count" else None)
    if func == "ctx_echo":
        conv.messages += [{"yield": i, "cid": c} for i in range(r.randrange(1, 20))]
    end = r.choice(("rst", "eof"))
    return f"disconnect ({end}) during {func}", conv.actions() + [(end, "c1")]


def handshake(gen):
    r = gen.rng
    how = r.choice(("none", "double", "bad-uid", "nil", "uid-then-eof"))
    call = echo_cmd(gen)
    if how == "none":
        return "handshake none: a command first", [msg("c1", call)]
    if how == "double":
        return "handshake twice", with_handshake(gen, [gen.uid[0], gen.uuid()], call)
    if how == "uid-then-eof":
        return "handshake then eof", with_handshake(gen) + [eof("c1")]
    bad = None if how == "nil" else r.choice(BAD_UIDS)
    shown = repr(bad) if len(repr(bad)) < 40 else repr(bad)[:37] + "..."
    # Raw, so that a replay sends this uid and not one of its own.
    return f"handshake bad uid {shown}", [raw("c1", framed(gen, bad)), msg("c1", call)]


def storm(gen):
    r = gen.rng
    n = r.randrange(10, 61)
    uid = framed(gen, gen.uid)
    firsts, drops = [], []
    for i in range(1, n + 1):
        c = f"c{i}"
        sent = r.choice((b"", uid[:r.randrange(1, len(uid))], uid))
        if sent:
            firsts.append(raw(c, sent))
        drops.append((r.choice(("eof", "rst")), c))
    overlapped = r.random() < 0.5
    if overlapped:
        actions = firsts + drops
    else:
        by_conn = {a[1]: a for a in firsts}
        actions = [a for d in drops for a in ((by_conn[d[1]], d) if d[1] in by_conn else (d,))]
    mode = "overlapped" if overlapped else "one after the other"
    return f"storm of {n} connect-and-drop, {mode}", actions


def bytes_(gen):
    r = gen.rng
    conv = gen.conversation()
    frames = [framed(gen, m) for m in conv.messages[1:]]
    i = r.randrange(len(frames))
    stream = bytearray(b"".join(frames[i:]))
    pos = r.randrange(len(frames[i]))
    op = r.choice(("flip", "splice", "insert", "delete", "dup", "interesting"))
    if op == "flip":
        bits = r.randrange(1, 9)
        for _ in range(bits):
            p = r.randrange(len(stream)) if r.random() < 0.3 else pos
            stream[p] ^= 1 << r.randrange(8)
        op += f" {bits} bits"
    elif op == "splice":
        other = frames[r.randrange(len(frames))]
        stream[pos:] = other[r.randrange(len(other)):] + b"".join(frames[i + 1:])
    elif op == "insert":
        stream[pos:pos] = bytes(r.randrange(256) for _ in range(r.randrange(1, 9)))
    elif op == "delete":
        del stream[pos:pos + r.randrange(1, 9)]
    elif op == "dup":
        stream[pos:pos] = stream[pos:pos + r.randrange(1, 33)]
    else:
        stream[pos] = r.choice((0xc1, 0xff, 0x00, 0x7f, 0x80, 0xdd, 0xdf, 0xdb, 0xc0))
        op += f" {stream[pos]:02x}"
    what = kind(to_json(conv.messages[i + 1]))
    return f"bytes {op} at {pos} of a {what} frame", conv.actions()[:i + 1] + [raw("c1", stream)]


FAMILIES = {"valid": valid, "wrong-type": wrong_type, "cid": cid, "order": order,
            "oversize": oversize, "nesting": nesting, "flood": flood, "truncate": truncate,
            "disconnect": disconnect, "handshake": handshake, "storm": storm, "bytes": bytes_}
