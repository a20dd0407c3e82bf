#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""gen-corpus.py - write seed corpora for the libFuzzer targets of fuzz/.

Usage:
    gen-corpus.py OUTDIR [--vectors DIR] [--dumps DIR [--dump-codec C]]
                         [--targets fuzz_codec,fuzz_msg,fuzz_actor,fuzz_registry]

Writes OUTDIR/<target>/<sha1 of the content>, one file per seed, from:

  * the recorded tractor 0.1.0a4 traces, DIR/*.jsonl (default: the
    repository's conformance/vectors/tractor-0.1.0a4); every
    `hex` is the exact bytes of one msgpack message, `decode_error` events
    carry raw bytes the recorder could not decode;
  * optionally a directory of raw per-connection byte dumps (one file per
    connection, the bytes a client sent, e.g. the conformance suite's), split
    into messages with the codec given by --dump-codec (auto: a first byte
    0x90-0x9f means msgpack, a fifth byte in that range lenprefix; a file
    name ending in .msgpack or .lenprefix decides too); bytes that do not
    split are kept as one raw blob;
  * synthetic scenarios (every scwire_service and self function, parking,
    overruns, the registry client) built here.

Seed formats are those of fuzz/README.md:
  fuzz_codec     [cfg][k][k chunk sizes][payload]
  fuzz_msg       the bytes of one message
  fuzz_actor     [flags][seed] then operations
  fuzz_registry  [max] then operations

Only the Python 3 standard library is needed.  With python3-msgpack installed,
commands of the traces for the recording's `svc` module are also rewritten
to the matching scwire_service function, so that they reach real code.
"""

import argparse
import hashlib
import json
import os
import struct
import sys

try:
    import msgpack  # Debian python3-msgpack; optional
except ImportError:  # pragma: no cover
    msgpack = None

TARGETS = ("fuzz_codec", "fuzz_msg", "fuzz_actor", "fuzz_registry")
MSGPACK, LENPREFIX = 0, 1
# Seeds larger than this slow every later input down (libFuzzer's max_len
# follows the largest seed) and add no coverage: streams are cut at a
# message boundary below it.
MAX_SEED = 16384

# ---- a minimal msgpack encoder and skipper (no dependency) ------------------


def pack(v):
    """msgpack-python's packb(use_bin_type=True) for the types used here."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 0x80:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        for lo, hi, fmt, tag in ((0, 0xFF, ">B", 0xCC), (0, 0xFFFF, ">H", 0xCD),
                                 (0, 0xFFFFFFFF, ">I", 0xCE), (0, 2**64 - 1, ">Q", 0xCF)):
            if v >= 0 and v <= hi:
                return bytes([tag]) + struct.pack(fmt, v)
        for lo, hi, fmt, tag in ((-128, 127, ">b", 0xD0), (-2**15, 2**15 - 1, ">h", 0xD1),
                                 (-2**31, 2**31 - 1, ">i", 0xD2), (-2**63, 2**63 - 1, ">q", 0xD3)):
            if lo <= v <= hi:
                return bytes([tag]) + struct.pack(fmt, v)
        raise ValueError(v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode("utf-8", "surrogatepass")
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 256:
            return b"\xd9" + bytes([n]) + b
        if n < 65536:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(v, (bytes, bytearray)):
        n = len(v)
        if n < 256:
            return b"\xc4" + bytes([n]) + bytes(v)
        if n < 65536:
            return b"\xc5" + struct.pack(">H", n) + bytes(v)
        return b"\xc6" + struct.pack(">I", n) + bytes(v)
    if isinstance(v, (list, tuple)):
        n = len(v)
        head = bytes([0x90 | n]) if n < 16 else (b"\xdc" + struct.pack(">H", n) if n < 65536
                                                 else b"\xdd" + struct.pack(">I", n))
        return head + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        head = bytes([0x80 | n]) if n < 16 else (b"\xde" + struct.pack(">H", n) if n < 65536
                                                 else b"\xdf" + struct.pack(">I", n))
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(type(v))


_FIXED = {0xC0: 1, 0xC2: 1, 0xC3: 1, 0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,
          0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}


def skip_object(b, i):
    """Offset just past the msgpack object starting at b[i], or None if the
    bytes end first or are not msgpack (0xc1)."""
    todo = 1
    n = len(b)
    while todo:
        if i >= n:
            return None
        c = b[i]
        todo -= 1
        if c <= 0x7F or c >= 0xE0:
            i += 1
        elif c <= 0x8F:
            i += 1
            todo += 2 * (c & 0x0F)
        elif c <= 0x9F:
            i += 1
            todo += c & 0x0F
        elif c <= 0xBF:
            i += 1 + (c & 0x1F)
        elif c in _FIXED:
            i += _FIXED[c]
        elif c in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):
            w = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}[c]
            if i + 1 + w > n:
                return None
            i += 1 + w + int.from_bytes(b[i + 1:i + 1 + w], "big")
        elif c in (0xC7, 0xC8, 0xC9):
            w = {0xC7: 1, 0xC8: 2, 0xC9: 4}[c]
            if i + 1 + w > n:
                return None
            i += 2 + w + int.from_bytes(b[i + 1:i + 1 + w], "big")
        elif c in (0xDC, 0xDD, 0xDE, 0xDF):
            w = 2 if c in (0xDC, 0xDE) else 4
            if i + 1 + w > n:
                return None
            k = int.from_bytes(b[i + 1:i + 1 + w], "big")
            i += 1 + w
            todo += k if c in (0xDC, 0xDD) else 2 * k
        else:  # 0xc1
            return None
    return i if i <= n else None


def split_stream(data, codec):
    """(messages, rest): whole messages from the front, rest = bytes after."""
    msgs, i = [], 0
    while i < len(data):
        if codec == MSGPACK:
            j = skip_object(data, i)
            if j is None:
                break
            msgs.append(bytes(data[i:j]))
            i = j
        else:
            if len(data) - i < 4:
                break
            size = int.from_bytes(data[i:i + 4], "little")
            if size == 0 or len(data) - i - 4 < size or skip_object(data[i + 4:i + 4 + size], 0) != size:
                break
            msgs.append(bytes(data[i + 4:i + 4 + size]))
            i += 4 + size
    return msgs, bytes(data[i:])


def frame(msg, codec):
    return (struct.pack("<I", len(msg)) + msg) if codec == LENPREFIX else msg


# ---- corpus output -----------------------------------------------------------


class Corpus:
    def __init__(self, outdir, targets):
        self.outdir = outdir
        self.targets = targets
        self.count = {t: 0 for t in targets}
        for t in targets:
            os.makedirs(os.path.join(outdir, t), exist_ok=True)

    def add(self, target, data):
        if target not in self.targets or not data:
            return
        data = bytes(data)
        path = os.path.join(self.outdir, target, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count[target] += 1


# ---- fuzz_codec / fuzz_msg seeds ---------------------------------------------

CHUNKINGS = (b"", b"\x00", b"\x06\x02\x3f")  # whole, 1-byte pieces, 7/3/64 pieces


def codec_seed(codec, payload, chunks=b"", limits=0):
    return bytes([codec | (limits << 1), len(chunks)]) + chunks + payload


def add_message(corpus, msg):
    corpus.add("fuzz_msg", msg)
    for codec in (MSGPACK, LENPREFIX):
        corpus.add("fuzz_codec", codec_seed(codec, frame(msg, codec)))


def cap_items(items, limit=MAX_SEED):
    """The longest prefix of items whose bytes stay under limit (at least one)."""
    out, total = [], 0
    for kind, b in items:
        if out and total + len(b) + 16 > limit:
            break
        out.append((kind, b))
        total += len(b) + 16
    return out


def add_stream(corpus, items):
    """items: ("msg", bytes) or ("raw", bytes), the c2s bytes of one connection."""
    items = cap_items(items)
    for codec in (MSGPACK, LENPREFIX):
        payload = b"".join(frame(b, codec) if k == "msg" else b for k, b in items)
        if not payload:
            continue
        for chunks in CHUNKINGS:
            corpus.add("fuzz_codec", codec_seed(codec, payload, chunks))
        corpus.add("fuzz_codec", codec_seed(codec, payload, b"\x00", limits=6))


# ---- fuzz_actor seeds: the operation format of fuzz_actor.c -------------------

OP_ACCEPT, OP_HANDSHAKE, OP_MSG, OP_RAW, OP_CHOP, OP_EOF, OP_RESET = 0, 1, 2, 5, 6, 7, 8
OP_DRAIN, OP_ADVANCE, OP_SHUTDOWN, OP_CONNECTED, OP_CONNECT_FAILED, OP_BATCH = 9, 11, 12, 13, 14, 15

# Supervision ops: 0xf0 + one of these (fuzz_actor.c, do_sup_op).
SOP_CALL, SOP_STARTED, SOP_START_FAILED, SOP_CONNECT, SOP_REPLY, SOP_EXIT = 0, 2, 3, 4, 5, 7
# CHILD_REPLY: which call it answers, and how (value bytes follow as the grammar reads them).
RUN, INFO, CANCEL = 0, 1, 2
FT, RETURN, FT_RETURN, ERROR, ACTOR_ERROR, NIL = 0, 1, 2, 3, 6, 7

# ctx_call ops: 0xf8 + one of these (fuzz_actor.c, do_cc_op); the harness plays the callee.
COP_CALL, COP_CONNECT, COP_OPEN, COP_REPLY, COP_GARBAGE, COP_END, COP_IDLE = 0, 1, 2, 3, 5, 6, 7
# CC_REPLY: what the callee sends, and on which cid (the context's, or the actor's cancel call's).
CC_FT, CC_STARTED, CC_YIELD, CC_RETURN, CC_STOP, CC_CANCELLED, CC_ERROR, CC_FT_OTHER = range(8)
ON_CTX, ON_CANCEL = 0, 2
# CC_END
END_EOF, END_RESET, END_NIL = 0, 1, 2

F_LENPREFIX, F_REGISTRY_ROLE, F_REGISTRY_CLIENT, F_LAZY, F_MAXCONNS3, F_LOG = 1, 2, 4, 8, 0x40, 0x80


def actor_flags(codec, profile=3, registry_role=True, extra=0):
    return (codec | (F_REGISTRY_ROLE if registry_role else 0) | (profile << 4) | F_MAXCONNS3 | extra)


class Ops:
    """Builds one fuzz_actor input."""

    def __init__(self, flags, seed=0):
        self.b = bytearray([flags & 0xFF, seed & 0xFF])

    def accept(self):
        self.b += bytes([OP_ACCEPT])
        return self

    def raw(self, slot, data, framed=True):
        for i in range(0, max(len(data), 1), 0xFFFF):
            part = data[i:i + 0xFFFF]
            self.b += bytes([OP_RAW, slot, 1 if framed else 0]) + struct.pack("<H", len(part)) + part
        return self

    def send(self, slot, value):
        return self.raw(slot, pack(value))

    def chop(self, slot, n):
        self.b += bytes([OP_CHOP, slot, n & 0xFF])
        return self

    def eof(self, slot):
        self.b += bytes([OP_EOF, slot])
        return self

    def reset(self, slot):
        self.b += bytes([OP_RESET, slot])
        return self

    def drain(self, slot, n=0):
        self.b += bytes([OP_DRAIN, slot]) + struct.pack("<H", n)
        return self

    def advance(self, seconds):
        ms = int(seconds * 1000)
        if ms < 0x8000:
            self.b += bytes([OP_ADVANCE]) + struct.pack("<H", ms)
        else:
            self.b += bytes([OP_ADVANCE]) + struct.pack("<H", 0x8000 | min(int(seconds * 100), 0x7FFF))
        return self

    def shutdown(self):
        self.b += bytes([OP_SHUTDOWN])
        return self

    def connected(self, slot):
        self.b += bytes([OP_CONNECTED, slot])
        return self

    def connect_failed(self, slot):
        self.b += bytes([OP_CONNECT_FAILED, slot])
        return self

    def grammar(self, slot, *operands):
        """An OP_MSG of fuzz_actor's grammar (operands as in fuzz_actor.c)."""
        self.b += bytes([OP_MSG, slot]) + bytes(operands)
        return self

    def sup(self, op, *operands):
        self.b += bytes([0xF0 + op]) + bytes(operands)
        return self

    def child_started(self, child, pid=1):
        return self.sup(SOP_STARTED, child, pid)

    def child_start_failed(self, child):
        return self.sup(SOP_START_FAILED, child)

    def child_connect(self, child, variant=0):
        return self.sup(SOP_CONNECT, child, variant)

    def child_reply(self, child, which, form, *operands):
        return self.sup(SOP_REPLY, child, which + 3 * form, *operands)

    def child_exit(self, child, status=0):
        """status: 0 exit 0, 1 | code << 2 exit code, 2 SIGKILL, 3 SIGTERM."""
        return self.sup(SOP_EXIT, child, status)

    def cc(self, op, *operands):
        self.b += bytes([0xF8 + op]) + bytes(operands)
        return self

    def cc_connect(self, callee=0, ok=True, uid=None):
        """Answer the ctx_call's connect; with uid (a byte of the handshake
        grammar) the callee sends its uid at once."""
        if not ok:
            return self.cc(COP_CONNECT, callee, 1)
        return self.cc(COP_CONNECT, callee, 0) if uid is None else self.cc(COP_CONNECT, callee, 2, uid)

    def cc_open(self, callee=0, *value):
        """functype context, then started with a value of the grammar."""
        return self.cc(COP_OPEN, callee, *value)

    def cc_reply(self, callee, form, on=ON_CTX, *operands):
        return self.cc(COP_REPLY, callee, form + 8 * on, *operands)

    def cc_end(self, callee=0, how=END_EOF):
        return self.cc(COP_END, callee, how)

    def cc_idle(self, past_ms=1):
        """The clock to the actor's next deadline, and past_ms beyond it."""
        return self.cc(COP_IDLE, past_ms)

    def bytes(self):
        return bytes(self.b)


def add_actor_conns(corpus, conns, codec):
    """conns: list of c2s item lists, one per connection, in order."""
    for profile in (3, 0):
        ops = Ops(actor_flags(codec, profile))
        for items in conns:
            items = cap_items(items)
            ops.accept()
            for kind, b in items:
                ops.raw(0, b, framed=(kind == "msg"))
                ops.drain(0)
            ops.eof(0).drain(0)
        corpus.add("fuzz_actor", ops.bytes())


def actor_file_seed(events, codec):
    """All connections of one trace, interleaved as recorded; a connection
    takes the lowest free slot and frees it at its c2s eof/rst/close."""
    ops = Ops(actor_flags(codec, 3))
    slot_of, used = {}, set()
    for ev in events:
        if len(ops.b) > MAX_SEED:
            break
        conn = ev.get("conn")
        if ev.get("event") == "open":
            slot = next(s for s in range(6) if s not in used)
            used.add(slot)
            slot_of[conn] = slot
            ops.accept()
        elif conn in slot_of and ev.get("dir") == "c2s" and "hex" in ev:
            framed = ev.get("event") != "decode_error"
            ops.raw(slot_of[conn], bytes.fromhex(ev["hex"]), framed)
            ops.drain(slot_of[conn])
        elif conn in slot_of and (ev.get("event") in ("close", "rst") or
                                  (ev.get("event") == "eof" and ev.get("dir") == "c2s")):
            slot = slot_of.pop(conn)
            if ev.get("event") == "rst":
                ops.reset(slot)
            else:
                ops.eof(slot)
            ops.drain(slot)
            used.discard(slot)
    return ops.bytes()


# ---- svc -> scwire_service rewriting (needs python3-msgpack) ------------------

SVC_MAP = {
    "echo": lambda kw: ("echo", kw),
    "add": lambda kw: ("echo", {"value": [kw.get("x"), kw.get("y")]}),
    "boom": lambda kw: ("raise_error", {"type_str": "ValueError", "text": kw.get("text", "boom")}),
    "count": lambda kw: ("count", kw),
    "sleep_forever": lambda kw: ("sleep_forever", {}),
    "ctx_echo": lambda kw: ("ctx_echo", kw),
    "ctx_no_stream": lambda kw: ("ctx_no_stream", {"value": "ready"}),
    "ctx_error_after_started": lambda kw: ("ctx_error_after_started", {"type_str": "KeyError"}),
    "not_async": lambda kw: ("no_such_function", {}),
}


def rewrite_svc(msg):
    """The message with a cmd for `svc` turned into scwire_service, or None."""
    if msgpack is None:
        return None
    try:
        obj = msgpack.unpackb(msg, raw=False, use_list=True, strict_map_key=False)
    except Exception:  # noqa: BLE001 - any undecodable message is simply kept as is
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("cmd"), list) or len(obj["cmd"]) != 5:
        return None
    ns, func, kwargs, caller, cid = obj["cmd"]
    if ns != "svc" or func not in SVC_MAP or not isinstance(kwargs, dict):
        return None
    func, kwargs = SVC_MAP[func](kwargs)
    return msgpack.packb({"cmd": ["scwire_service", func, kwargs, caller, cid]}, use_bin_type=True)


# ---- sources ------------------------------------------------------------------


def load_trace(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    return events


def from_traces(corpus, vectors):
    files = sorted(p for p in os.listdir(vectors) if p.endswith(".jsonl"))
    registry_uids = []
    for name in files:
        events = load_trace(os.path.join(vectors, name))
        per_conn = {}
        order = []
        for ev in events:
            conn = ev.get("conn")
            if "hex" in ev:
                b = bytes.fromhex(ev["hex"])
                if ev.get("event") == "decode_error":
                    kind = "raw"
                else:
                    kind = "msg"
                    add_message(corpus, b)
                    registry_uids.extend(register_calls(b))
                if ev.get("dir") == "c2s":
                    if conn not in per_conn:
                        per_conn[conn] = []
                        order.append(conn)
                    per_conn[conn].append((kind, b))
        for conn in order:
            items = per_conn[conn]
            add_stream(corpus, items)
            for codec in (MSGPACK, LENPREFIX):
                add_actor_conns(corpus, [items], codec)
                rewritten = [(k, rewrite_svc(b) or b) if k == "msg" else (k, b) for k, b in items]
                if rewritten != items:
                    add_actor_conns(corpus, [rewritten], codec)
        for codec in (MSGPACK, LENPREFIX):
            corpus.add("fuzz_actor", actor_file_seed(events, codec))
    if registry_uids:
        add_registry_seeds(corpus, registry_uids)
    return len(files)


def detect_codec(path, data, forced):
    if forced in ("msgpack", "lenprefix"):
        return MSGPACK if forced == "msgpack" else LENPREFIX
    if path.endswith(".lenprefix"):
        return LENPREFIX
    if path.endswith(".msgpack"):
        return MSGPACK
    if data and 0x90 <= data[0] <= 0x9F:
        return MSGPACK
    if len(data) >= 5 and 0x90 <= data[4] <= 0x9F:
        return LENPREFIX
    return MSGPACK


def from_dumps(corpus, dumps, forced):
    n = 0
    for root, _dirs, names in os.walk(dumps):
        for name in sorted(names):
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                data = f.read()
            n += 1
            codec = detect_codec(path, data, forced)
            msgs, rest = split_stream(data, codec)
            items = [("msg", m) for m in msgs]
            if rest:
                items.append(("raw", rest))
            head = b"".join(frame(b, codec) if k == "msg" else b for k, b in cap_items(items))
            corpus.add("fuzz_codec", codec_seed(codec, head))
            corpus.add("fuzz_codec", codec_seed(codec, head, b"\x00"))
            items = cap_items(items)
            for m in msgs:
                corpus.add("fuzz_msg", m)
            # The dump is in one codec; the seed keeps its bytes exactly.
            ops = Ops(actor_flags(codec, 3)).accept()
            for kind, b in items:
                ops.raw(0, b, framed=False)
                ops.drain(0)
            corpus.add("fuzz_actor", ops.eof(0).drain(0).bytes())
            # The same messages re-framed for the other codec.
            other = LENPREFIX if codec == MSGPACK else MSGPACK
            add_actor_conns(corpus, [items], other)
    return n


# ---- synthetic scenarios --------------------------------------------------------

PEER = ["client", "4b1d0a2e-8c1f-4e27-9d3a-6f0b5c7e2a19"]
ACTOR_UUID = "0f0e0d0c-0b0a-4908-8706-050403020100"


def cmd(ns, func, kwargs, cid):
    return {"cmd": [ns, func, kwargs, PEER, cid]}


def svc(func, kwargs, cid):
    return cmd("scwire_service", func, kwargs, cid)


def scenarios(codec):
    out = []

    def new(profile=3, extra=0, registry_role=True):
        return Ops(actor_flags(codec, profile, registry_role, extra)).accept().send(0, PEER)

    # Every scwire_service function once, on one channel.
    o = new()
    calls = [("echo", {"value": {"a": [1, 2.5, "x", None, True]}}), ("raise_error", {"type_str": "ValueError", "text": "kaboom"}),
             ("sleep", {"seconds": 0.5}), ("sleep_forever", {}), ("count", {"n": 5}),
             ("ctx_echo", {"first": "hi"}), ("ctx_no_stream", {"value": "ready"}),
             ("ctx_error_after_started", {"type_str": "KeyError"}), ("ctx_return", {"value": 7}),
             ("ctx_stream_out", {"n": 3}), ("ctx_slow_sink", {"delay": 0.1, "backpressure": True}),
             ("no_such_function", {}), ("echo", {})]
    for i, (f, kw) in enumerate(calls):
        o.send(0, svc(f, kw, "c%d" % i)).drain(0)
    o.send(0, {"yield": 1, "cid": "c5"}).send(0, {"stop": True, "cid": "c5"}).drain(0)
    o.send(0, {"yield": 1, "cid": "c10"}).send(0, {"stop": True, "cid": "c10"}).advance(1).drain(0)
    o.send(0, cmd("self", "_cancel_task", {"cid": "c3"}, "k1")).send(0, cmd("os", "system", {}, "k2"))
    out.append(o.advance(1).drain(0).send(0, None).drain(0).bytes())

    # Parking: a backpressured slow sink fed faster than it reads.
    o = new(profile=0)
    o.send(0, svc("ctx_slow_sink", {"delay": 5.0, "backpressure": True}, "p1")).drain(0)
    for i in range(20):
        o.send(0, {"yield": i, "cid": "p1"})
    o.drain(0).advance(6).advance(6).advance(30).drain(0)
    out.append(o.send(0, {"stop": True, "cid": "p1"}).advance(60).drain(0).bytes())

    # Overrun: no stream on the callee, more yields than its buffer.
    o = new(profile=0)
    o.send(0, svc("ctx_no_stream", {"value": 1}, "o1")).drain(0)
    for i in range(12):
        o.send(0, {"yield": i, "cid": "o1"})
    out.append(o.drain(0).send(0, {"error": {"tb_str": "x", "type_str": "ValueError"}, "cid": "o1"}).drain(0).bytes())

    # A producer that waits for room: count with small drains.
    o = new(profile=1).send(0, svc("count", {"n": 200}, "g1"))
    for _ in range(30):
        o.drain(0, 64)
    out.append(o.eof(0).drain(0).bytes())

    # Two channels with the same uid (CID-4), and _cancel_task from the wrong one.
    o = new().accept().send(1, PEER)
    o.send(0, svc("ctx_echo", {"first": None}, "s1")).drain(0).drain(1)
    o.send(1, {"yield": "from-2", "cid": "s1"}).send(1, cmd("self", "_cancel_task", {"cid": "s1"}, "k"))
    out.append(o.drain(0).drain(1).send(0, {"stop": True, "cid": "s1"}).drain(0).reset(1).bytes())

    # Registry: wait_for_actor woken by register_actor on another channel.
    o = new().accept().send(1, PEER)
    o.send(1, cmd("self", "wait_for_actor", {"name": "late"}, "w1")).drain(1)
    o.send(0, cmd("self", "register_actor", {"uid": ["late", "u1"], "sockaddr": ["127.0.0.1", 4000]}, "r1"))
    o.send(0, cmd("self", "find_actor", {"name": "late"}, "r2")).send(0, cmd("self", "get_registry", {}, "r3"))
    o.send(0, cmd("self", "unregister_actor", {"uid": ["late", "u1"]}, "r4"))
    o.send(0, cmd("self", "unregister_actor", {"uid": ["late", "u1"]}, "r5"))
    out.append(o.drain(0).drain(1).bytes())

    # Registry results over a small message limit (RPC-11): many entries,
    # then get_registry, find_actor and a waiter woken with a long list.
    for profile in (1, 2):
        o = new(profile=profile).accept().send(1, PEER)
        o.send(1, cmd("self", "wait_for_actor", {"name": "a"}, "w")).drain(1)
        for i, (n, u) in enumerate([("b", "u1"), ("client", "u1"), ("a", "u1"), ("a", "u2"),
                                    ("a", "u3"), ("a", "u4"), ("a", "u5"), ("b", "u2")]):
            o.send(0, cmd("self", "register_actor", {"uid": [n, u], "sockaddr": ["127.0.0.1", 1000 + i]},
                          "r%d" % i)).drain(0)
        o.send(0, cmd("self", "get_registry", {}, "g")).send(0, cmd("self", "find_actor", {"name": "a"}, "f"))
        o.send(1, cmd("self", "wait_for_actor", {"name": "a"}, "w2"))
        out.append(o.drain(0).drain(1).bytes())

    # self.cancel with tasks running.
    o = new().send(0, svc("sleep_forever", {}, "a1")).send(0, svc("ctx_no_stream", {"value": 1}, "a2"))
    o.send(0, svc("count", {"n": 100000}, "a3")).send(0, cmd("self", "cancel", {}, "a4"))
    out.append(o.drain(0).bytes())

    # Handshake timeout, a connect-and-drop, a reset, shutdown.
    o = Ops(actor_flags(codec, 0)).accept().accept().eof(1).advance(3).accept().reset(0)
    out.append(o.send(1, PEER).send(1, svc("sleep", {"seconds": 100}, "x")).shutdown().drain(1).bytes())

    # Byte-at-a-time feeding.
    o = new().chop(0, 1).send(0, svc("echo", {"value": list(range(20))}, "b1"))
    out.append(o.drain(0).eof(0).drain(0).bytes())

    # The registry client: probe, register, answer it (the cid of the
    # actor's call is the grammar's cid pool entry 7), then shut down and
    # let the unregister call time out.
    o = Ops(actor_flags(codec, 0, extra=F_REGISTRY_CLIENT))
    o.connected(0).drain(0)            # probe: connected, closed, released
    o.connected(0).drain(0)            # register: connected, uid + cmd sent
    o.raw(0, pack(["arbiter", ACTOR_UUID])).drain(0)
    o.grammar(0, 7, 0, 7)              # functype asyncfunc on the call cid
    o.grammar(0, 4, 0, 7, 0)           # return nil on the call cid
    o.drain(0).shutdown().connected(0).advance(1).drain(0)
    out.append(o.bytes())
    o = Ops(actor_flags(codec, 0, extra=F_REGISTRY_CLIENT)).connect_failed(0).advance(10).shutdown()
    out.append(o.advance(1).bytes())
    out.extend(supervision(new))
    out.extend(ctx_calls(new))
    return out


def ctx_calls(new):
    """Seeds for the ctx_call ops (SVC-29): the caller is slot 0, the callee's
    channel the lowest free slot; values are bytes of fuzz_actor's grammar."""
    out = []
    callee_uid = 18              # ["client", "4b1d0a2e-..."] of the handshake grammar
    started = (9, 0)             # the word "cmd"
    nil = (0,)

    def call(o, idle=600, cid="k1", **kw):
        args = {"host": "127.0.0.1", "port": 40200, "ns": "peer", "func": "work", "kwargs": {"x": 1},
                "idle": idle}
        args.update(kw)
        return o.send(0, svc("ctx_call", args, cid)).drain(0)

    # The callee returns before idle ends: [started, "returned", 7].
    o = call(new()).cc_connect(0, uid=callee_uid).cc_open(0, *started)
    out.append(o.cc_reply(0, CC_YIELD, ON_CTX, 3, 1).cc_reply(0, CC_RETURN, ON_CTX, 3, 7).drain(0).bytes())

    # The callee fails the context after started (KeyError): RemoteActorError.
    o = call(new()).cc_connect(0, uid=callee_uid).cc_open(0, *started)
    out.append(o.cc_reply(0, CC_ERROR, ON_CTX, 0, 1, 4, 0x4b, 0x65, 0x79, 0x21).drain(0).bytes())

    # idle ends: the actor cancels with _cancel_task, the callee answers it
    # and the context ends with ContextCancelled: [started, "cancelled", nil].
    o = call(new(), idle=0.2).cc_connect(0, uid=callee_uid).cc_open(0, *started).cc_idle()
    o.cc_reply(0, CC_FT_OTHER, ON_CANCEL, 0).cc_reply(0, CC_CANCELLED, ON_CTX)
    out.append(o.cc_reply(0, CC_RETURN, ON_CANCEL, *nil).drain(0).bytes())

    # ... and a callee that refuses the cancel (an error on its cid) and
    # never ends the context (TimeoutError).
    o = call(new(profile=0), idle=0.2).cc_connect(0, uid=callee_uid).cc_open(0, *started).cc_idle()
    out.append(o.cc_reply(0, CC_ERROR, ON_CANCEL, 0, 0, 0).cc_idle().drain(0).bytes())

    # The connect fails; then one that never connects; then a callee that
    # hangs up before started, and one that resets after it.
    o = call(new()).cc_connect(0, ok=False).drain(0)
    o = call(o, cid="k2").cc_idle().drain(0)
    o = call(o, cid="k3").cc_connect(0, uid=callee_uid).cc_reply(0, CC_FT).cc_end(0, END_NIL).drain(0)
    o = call(o, cid="k4").cc_connect(0, uid=callee_uid).cc_open(0, *started).cc_end(0, END_RESET)
    out.append(o.drain(0).bytes())

    # Out of sequence: started first, a functype of another kind, a
    # ContextCancelled before any cancel; then bad arguments, and a caller
    # that goes away with a call in flight.
    o = new()
    for i, form in enumerate((CC_STARTED, CC_FT_OTHER, CC_CANCELLED)):
        call(o, cid="m%d" % i).cc_connect(0, uid=callee_uid).cc_reply(0, CC_FT)
        o.cc_reply(0, form, ON_CTX, *nil).drain(0)
    call(o, cid="m3").cc_connect(0, uid=callee_uid).cc_reply(0, CC_FT_OTHER, ON_CTX, 1).drain(0)
    for i, bad in enumerate(({"idle": -1}, {"port": 0}, {"host": ""}, {"kwargs": [1]}, {"kwargs": {1: 2}},
                             {"host": "h" * 64}, {"idle": "x"})):
        call(o, cid="b%d" % i, **bad)
    call(o, cid="g1").cc_connect(0, uid=callee_uid).cc(COP_GARBAGE, 0, 8)
    out.append(o.cc_open(0, *started).eof(0).cc_idle().bytes())
    return out


def supervision(new):
    """Seeds for the supervision ops: the peer is slot 0, a child's channel
    the lowest free slot, the child records are in spawn order."""
    out = []
    echo = ["w0", "scwire_service", "echo", {"value": 1}]

    # run_in_child: the child connects, answers, acknowledges self.cancel, exits.
    o = new().send(0, svc("run_in_child", dict(zip(("name", "ns", "func", "kwargs"), echo)), "r1"))
    o.drain(0).child_started(0, 7).child_connect(0).drain(1)
    o.child_reply(0, RUN, FT_RETURN, 3, 5).drain(1).child_reply(0, CANCEL, RETURN, 0)
    out.append(o.child_exit(0).eof(1).advance(0.1).drain(0).bytes())

    # run_in_children: one fails, the other never answers and is cancelled,
    # terminated and killed.
    o = new().send(0, svc("run_in_children", {"specs": [echo, ["w1", "scwire_service", "sleep_forever", {}]]}, "r2"))
    o.drain(0).child_started(0).child_started(1).child_connect(0).child_connect(1).drain(1).drain(2)
    o.child_reply(0, RUN, ERROR, 0, 0, 4, 65, 66, 67, 68).drain(1)
    o.advance(1).advance(4).drain(2).advance(4).child_exit(1, 2).child_exit(0, 1 | 3 << 2)
    out.append(o.advance(1).drain(0).bytes())

    # run_in_children where every child returns: the array of results.
    o = new().send(0, svc("run_in_children", {"specs": [echo, ["w1", "scwire_service", "echo", {"value": 2}]]}, "r3"))
    o.drain(0).child_started(0).child_started(1).child_connect(0).child_connect(1).drain(1).drain(2)
    o.child_reply(0, RUN, FT_RETURN, 3, 5).child_reply(1, RUN, FT_RETURN, 3, 6).drain(1).drain(2)
    o.child_reply(0, CANCEL, RETURN, 0).child_reply(1, CANCEL, RETURN, 0).child_exit(0).child_exit(1)
    out.append(o.eof(1).eof(2).advance(0.1).drain(0).bytes())

    # spawn_start and the functions around it.
    o = new().send(0, svc("spawn_start", {"name": "w0"}, "s1")).drain(0)
    o.child_started(0).child_connect(0).drain(1).child_reply(0, INFO, FT_RETURN).drain(0)
    for i, (f, kw) in enumerate([("spawn_list", {}), ("spawn_info", {}), ("spawn_start", {"name": "w0"}),
                                 ("spawn_kill", {"name": "w0", "signal": 10}), ("spawn_kill", {"name": "w0", "signal": 0}),
                                 ("spawn_cancel", {"name": "w1"}), ("spawn_stubborn", {"ignore_sigterm": True}),
                                 ("spawn_crash", {"type_str": "ValueError", "text": "x"}),
                                 ("run_in_children", {"specs": [echo] * 5}), ("spawn_start", {"name": "bad name"})]):
        o.send(0, svc(f, kw, "t%d" % i)).drain(0)
    o.send(0, svc("spawn_cancel", {"name": "w0"}, "s2")).drain(1).child_reply(0, CANCEL, FT_RETURN, 0)
    out.append(o.child_exit(0).drain(1).advance(1).drain(0).bytes())

    # A process that cannot start, a child that never connects back, one
    # that reports an actor-level error, a caller that goes away.
    o = new().send(0, svc("spawn_start", {"name": "w1"}, "f1")).child_start_failed(0).drain(0)
    o.send(0, svc("run_in_child", dict(zip(("name", "ns", "func", "kwargs"), echo)), "f2"))
    o.child_started(0).advance(2).advance(1).advance(4).child_exit(0, 2).drain(0)
    o.send(0, svc("run_in_child", dict(zip(("name", "ns", "func", "kwargs"), echo)), "f3"))
    o.child_started(0).child_connect(0).child_reply(0, RUN, ACTOR_ERROR, 0, 0, 0).drain(1).drain(0)
    o.send(0, svc("run_in_child", {"name": "w2", "ns": "scwire_service", "func": "sleep_forever", "kwargs": {}}, "f4"))
    out.append(o.eof(0).advance(1).bytes())

    # The grammar's own spawn calls, and a shutdown with children alive.
    o = new().sup(SOP_CALL, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 9).sup(SOP_CALL, 0, 2, 0, 1, 0, 1)
    o.child_started(0).child_started(1).child_connect(1, 3).child_connect(0, 2).drain(0).drain(1).drain(2)
    out.append(o.shutdown().advance(1).drain(1).bytes())
    return out


def add_registry_seeds(corpus, uids):
    """fuzz_registry seeds: the uids and addresses registered in the traces."""
    def lit(s):
        b = s.encode("utf-8", "surrogatepass")[:255]
        return bytes([0xF0, len(b)]) + b
    base = bytearray([7])
    for name, uuid, host, port in uids[:8]:
        base += b"\x00" + lit(name) + lit(uuid) + lit(host) + struct.pack("<H", port & 0xFFFF)
    ops = bytes(base)
    corpus.add("fuzz_registry", ops + b"\x05")
    names = [u[0] for u in uids[:8]]
    tail = b"".join(b"\x02" + lit(n) + b"\x03" + lit(n) + b"\x04\x01" + lit(n) for n in names)
    corpus.add("fuzz_registry", ops + tail + b"\x04\x02\x00")
    rm = b"".join(b"\x01" + lit(n) + lit(u) for n, u, _h, _p in uids[:8])
    corpus.add("fuzz_registry", ops + rm + rm + b"\x05")
    # Pool-based: fill past the max, same name twice, NUL names.
    corpus.add("fuzz_registry", bytes([1, 0, 0, 0, 7, 0, 0, 0, 1, 0, 7, 1, 0, 1, 0, 0, 0, 5]))
    corpus.add("fuzz_registry", bytes([3, 0, 4, 0, 7, 1, 0, 0, 4, 0, 7, 1, 0, 0, 5, 0, 7, 1, 0, 2, 4, 3, 4, 4, 2, 4, 1, 4, 0]))


def register_calls(msg):
    """(name, uuid, host, port) of a register_actor cmd, for fuzz_registry."""
    if msgpack is None:
        return []
    try:
        obj = msgpack.unpackb(msg, raw=False, use_list=True, strict_map_key=False)
        ns, func, kw, _caller, _cid = obj["cmd"]
        if ns == "self" and func == "register_actor":
            (name, uuid), (host, port) = kw["uid"], kw["sockaddr"]
            return [(str(name), str(uuid), str(host), int(port))]
    except Exception:  # noqa: BLE001 - not a register_actor cmd
        pass
    return []


def default_vectors():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "conformance", "vectors", "tractor-0.1.0a4"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", help="write OUTDIR/<target>/<sha1>")
    ap.add_argument("--vectors", default=None,
                    help="directory of tractor-0.1.0a4 *.jsonl traces (default: %s)" % default_vectors())
    ap.add_argument("--no-vectors", action="store_true", help="do not read the traces")
    ap.add_argument("--dumps", action="append", default=[],
                    help="directory of raw per-connection byte dumps (repeatable)")
    ap.add_argument("--dump-codec", choices=("auto", "msgpack", "lenprefix"), default="auto")
    ap.add_argument("--targets", default=",".join(TARGETS))
    args = ap.parse_args(argv)

    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in TARGETS:
            ap.error("unknown target %s" % t)
    corpus = Corpus(args.outdir, targets)

    if not args.no_vectors:
        vectors = args.vectors or default_vectors()
        if not os.path.isdir(vectors):
            if args.vectors:
                ap.error("no such directory: %s" % vectors)
            print("gen-corpus: no traces at %s, skipping them" % vectors, file=sys.stderr)
        else:
            from_traces(corpus, vectors)
    for d in args.dumps:
        if not os.path.isdir(d):
            ap.error("no such directory: %s" % d)
        from_dumps(corpus, d, args.dump_codec)
    for codec in (MSGPACK, LENPREFIX):
        for seed in scenarios(codec):
            corpus.add("fuzz_actor", seed)
    if "fuzz_registry" in targets and corpus.count["fuzz_registry"] == 0:
        add_registry_seeds(corpus, [("arbiter", ACTOR_UUID, "127.0.0.1", 1616), ("client", "u1", "127.0.0.1", 4242)])

    for t in targets:
        print("gen-corpus: %s: %d new seeds in %s" % (t, corpus.count[t], os.path.join(args.outdir, t)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
