#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""pyactor: a small implementation under test (IUT) for the scwire conformance suite.

An example for implementers, written from spec/ alone: an actor that speaks the
tractor 0.1.0a4 wire protocol (spec/protocol.md) as a callee and serves the core
functions of spec/test-service.md section 3 within the reference limits of
spec/limits.md: the handshake, the three function kinds, contexts with bounded
buffers (StreamOverrun, backpressure, parking), cancellation and the `self`
namespace.  It has no optional capability: no limit flags, no registry role or
client, no supervision, no child role, no ctx_call.  Standard library plus
python3-msgpack, one thread, asyncio.

    /usr/bin/python3 pyactor.py --listen 127.0.0.1:0 [--codec msgpack|lenprefix]

It prints the address it listens on as its first stdout line, logs on stderr,
and exits 0 on SIGTERM, SIGINT or a remote `self.cancel`.  README.md next to
this file shows how to run the suite against it.
"""
import argparse
import asyncio
import collections
import itertools
import logging
import signal
import sys
import uuid

import msgpack

NAME = "pyactor"
log = logging.getLogger(NAME)

# The reference defaults of spec/limits.md.  An IUT without the capability
# `limits` takes no flags for its bounds, and the suite assumes these.
MAX_MESSAGE = 1 << 20         # LIM-2, LIM-3: bytes of one message (lenprefix: of one body)
MAX_DEPTH = 32                # LIM-4: nesting levels; a message's outermost map is level 1
MAX_STR = 1 << 20             # LIM-5: bytes of one str or bin
MAX_ENTRIES = 65536           # LIM-6: entries of one array or map
MAX_CONTEXTS = 16384          # LIM-8: live contexts per channel
HANDSHAKE_TIMEOUT = 10        # LIM-9: seconds from connect to the peer's whole uid
MAX_CONNECTIONS = 1024        # LIM-10
BUFFER = 64                   # LIM-11, OVR-1: receive buffer of a context, in messages
MAX_PARKED = 1024             # LIM-12: messages parked beyond full backpressured buffers,
MAX_PARKED_BYTES = 4 << 20    #   and their bytes, per connection
MAX_OUTPUT = 4 << 20          # LIM-13: unsent bytes per connection before reading pauses
WARNINGS_PER_SECOND = 10      # LIM-25: warnings one peer causes, a second
MAX_ERROR_TEXT = 60 << 10     # ERR-6: keeps an error message below 64 KiB
READ_SIZE = 65536
CLOSE_GRACE = 5               # seconds a closed connection may take to flush its output


# --- Framing (protocol.md section 1, limits.md) -------------------------------------

class CodecError(Exception):
    """Bytes that are not an acceptable message: their connection closes (FRAME-12)."""


# First byte -> (width of the length field after it, what the length counts).
SIZED = {0xc4: (1, "bytes"), 0xc5: (2, "bytes"), 0xc6: (4, "bytes"),     # bin 8/16/32
         0xd9: (1, "bytes"), 0xda: (2, "bytes"), 0xdb: (4, "bytes"),     # str 8/16/32
         0xdc: (2, "array"), 0xdd: (4, "array"), 0xde: (2, "map"), 0xdf: (4, "map")}
# First byte -> whole size of the nil, bool, float and int forms that it fixes.
FIXED = {0xc0: 1, 0xc2: 1, 0xc3: 1, 0xca: 5, 0xcb: 9, 0xcc: 2, 0xcd: 3, 0xce: 5,
         0xcf: 9, 0xd0: 2, 0xd1: 3, 0xd2: 5, 0xd3: 9}


def item_header(buf, pos):
    """(header size, payload size, child items, is a container) of the msgpack item
    at buf[pos], or None while its header is incomplete.  The bounds a header
    declares are checked here, before anything is allocated for them."""
    b = buf[pos]
    if b <= 0x7f or b >= 0xe0:                      # positive and negative fixint
        return 1, 0, 0, False
    if b <= 0x8f:                                   # fixmap: two items per entry
        return 1, 0, 2 * (b & 0x0f), True
    if b <= 0x9f:                                   # fixarray
        return 1, 0, b & 0x0f, True
    if b <= 0xbf:                                   # fixstr
        return 1, b & 0x1f, 0, False
    if b in FIXED:
        return FIXED[b], 0, 0, False
    if b in SIZED:
        width, what = SIZED[b]
        if len(buf) < pos + 1 + width:
            return None
        n = int.from_bytes(buf[pos + 1:pos + 1 + width], "big")
        if what == "bytes":
            if n > MAX_STR:
                raise CodecError(f"a str or bin of {n} bytes, over the limit {MAX_STR} (LIM-5)")
            return 1 + width, n, 0, False
        if n > MAX_ENTRIES:
            raise CodecError(f"an {what} of {n} entries, over the limit {MAX_ENTRIES} (LIM-6)")
        return 1 + width, 0, 2 * n if what == "map" else n, True
    if b == 0xc1:
        raise CodecError("the never-used byte 0xc1")
    # FRAME-11 lets us refuse ext values, which spares us handing them on unchanged.
    raise CodecError(f"an ext value (0x{b:02x}), which this actor refuses (FRAME-11)")


class Scanner:
    """Finds where one msgpack object ends, header by header, and refuses it as soon
    as a header breaks a bound (LIM-2, LIM-4 to LIM-7).  It resumes where it stopped,
    so a message may come one byte at a time (FRAME-8) at no extra cost."""

    def __init__(self):
        self.pos = 0      # where the next item starts
        self.open = []    # items still to come in each open container, outermost first
        self.owed = 0     # their sum: each takes at least one more byte (LIM-7)

    def scan(self, buf, budget):
        """True once buf[:self.pos] is one whole object of at most budget bytes."""
        while self.pos < len(buf):
            head = item_header(buf, self.pos)
            if head is None:
                return False
            size, payload, items, container = head
            if container and len(self.open) >= MAX_DEPTH:
                raise CodecError(f"nesting deeper than the limit of {MAX_DEPTH} levels (LIM-4)")
            end = self.pos + size + payload
            owed = self.owed - (1 if self.open else 0) + items
            if end + owed > budget:
                raise CodecError(f"a message that needs more than {budget} bytes (LIM-2, LIM-7)")
            if end > len(buf):
                return False
            self.pos, self.owed = end, owed
            if self.open:
                self.open[-1] -= 1
            if items:
                self.open.append(items)
            while self.open and self.open[-1] == 0:
                self.open.pop()
            if not self.open:
                return True
        return False


def decode(body):
    """The value of one scanned message.  Arrays become tuples, so that they can be
    map keys (FRAME-10); invalid UTF-8 (FRAME-9) or a map as a map key, which the
    scan does not see, are codec errors too."""
    try:
        return msgpack.unpackb(body, raw=False, use_list=False, strict_map_key=False)
    except (ValueError, TypeError) as e:
        raise CodecError(f"an undecodable message: {e}") from None


class Decoder:
    """Cuts the bytes received into messages with either codec (FRAME-3, FRAME-4)."""

    def __init__(self, codec):
        self.lenprefix = codec == "lenprefix"
        self.buf = bytearray()
        self.scanner = Scanner()

    def feed(self, data):
        self.buf += data

    def next(self):
        """The next message as (value, size in bytes), or None until more bytes come."""
        if self.lenprefix:
            return self.next_frame()
        if not self.scanner.scan(self.buf, MAX_MESSAGE):
            return None
        size = self.scanner.pos
        body = bytes(self.buf[:size])
        del self.buf[:size]
        self.scanner = Scanner()
        return decode(body), size

    def next_frame(self):
        if len(self.buf) < 4:
            return None
        size = int.from_bytes(self.buf[:4], "little")
        if size > MAX_MESSAGE:                  # before a byte of the body is read (LIM-3)
            raise CodecError(f"a frame of {size} bytes, over the limit {MAX_MESSAGE} (LIM-3)")
        if len(self.buf) < 4 + size:
            return None
        body = bytes(self.buf[4:4 + size])
        del self.buf[:4 + size]
        scanner = Scanner()
        if not scanner.scan(body, size) or scanner.pos != size:
            raise CodecError("a frame body that is not exactly one msgpack object (FRAME-5)")
        return decode(body), size


# --- Errors and uids (protocol.md sections 2 and 8) ---------------------------------

class Failure(Exception):
    """A task's failure, sent as an `error` on its cid: Failure(type_str, text)."""


def error_msg(cid, type_str, text):
    """An `error` message whose tb_str ends with `Type: text` (ERR-2), the text cut
    to keep the message below 64 KiB (ERR-6)."""
    raw = text.encode()
    if len(raw) > MAX_ERROR_TEXT:
        text = raw[:MAX_ERROR_TEXT].decode(errors="ignore") + " [cut]"
    tb_str = f"Traceback (pyactor):\n{type_str}: {text}\n"
    return {"error": {"tb_str": tb_str, "type_str": type_str}, "cid": cid}


def bare_name(type_str):
    """type_str as ERR-1 lets it go on the wire: a bare class name."""
    if not type_str or "." in type_str:
        raise Failure("ValueError", f"{type_str!r} is not a bare class name")
    return type_str


def is_uid(value):
    """A uid as HS-5 accepts it: an array whose first two items are str."""
    return (isinstance(value, tuple) and len(value) >= 2
            and isinstance(value[0], str) and isinstance(value[1], str))


def uid_text(uid):
    return repr(tuple(uid))


def peer_label(writer):
    """host:port of the peer, which names its connection in the log (SVC-30)."""
    return "%s:%s" % (writer.get_extra_info("peername") or ("?", "?"))[:2]


# --- The functions (test-service.md section 3, protocol.md section 9) ---------------

STOP = object()   # what Context.receive gives for the caller's `stop`


async def echo(ctx, value):
    return value


async def raise_error(ctx, type_str, text):
    raise Failure(bare_name(type_str), text)


async def sleep(ctx, seconds):
    await asyncio.sleep(seconds)


async def sleep_forever(ctx):
    await asyncio.Event().wait()            # until cancelled


async def count(ctx, n):
    for i in range(n):
        await ctx.send_yield(i)


async def ctx_echo(ctx, first):
    ctx.started(first)
    ctx.open_stream(backpressure=True)
    echoed = 0
    while (value := await ctx.receive()) is not STOP:
        await ctx.send_yield(value)
        echoed += 1
    return echoed


async def ctx_no_stream(ctx, value):
    ctx.started(value)
    await asyncio.Event().wait()            # until cancelled; what comes piles up unread


async def ctx_error_after_started(ctx, type_str):
    ctx.started(None)
    raise Failure(bare_name(type_str), "ctx_error_after_started fails, as asked")


async def ctx_return(ctx, value):
    ctx.started(None)
    return value


async def ctx_stream_out(ctx, n):
    ctx.started(None)
    ctx.open_stream(backpressure=True)
    for i in range(n):
        await ctx.send_yield(i)
    return n


async def ctx_slow_sink(ctx, delay, backpressure):
    ctx.started(None)
    ctx.open_stream(backpressure)
    taken = 0
    while True:
        await asyncio.sleep(delay)
        if await ctx.receive() is STOP:
            return taken
        taken += 1


async def self_cancel(ctx):
    """self.cancel: cancel every task, answer true, then the actor stops (SELF-8, SELF-9)."""
    await ctx.actor.cancel_all(but=ctx)
    ctx.actor.stopping.set()                # serve() ends everything once this reply is out
    return True


async def self_cancel_task(ctx, cid):
    """self._cancel_task: only a task that this connection started (SELF-4, SELF-5)."""
    target = ctx.channel.tasks.get(cid)
    if target is not None and target is not ctx:
        target.cancel_remotely()
        await asyncio.wait([target.task])   # its final message is out once it has ended


# name -> (kind, function, {kwarg: type}); every kwarg is required, no other taken.
NAMESPACES = {
    "scwire_service": {
        "echo": ("asyncfunc", echo, {"value": "any"}),
        "raise_error": ("asyncfunc", raise_error, {"type_str": "str", "text": "str"}),
        "sleep": ("asyncfunc", sleep, {"seconds": "number"}),
        "sleep_forever": ("asyncfunc", sleep_forever, {}),
        "count": ("asyncgen", count, {"n": "int"}),
        "ctx_echo": ("context", ctx_echo, {"first": "any"}),
        "ctx_no_stream": ("context", ctx_no_stream, {"value": "any"}),
        "ctx_error_after_started": ("context", ctx_error_after_started, {"type_str": "str"}),
        "ctx_return": ("context", ctx_return, {"value": "any"}),
        "ctx_stream_out": ("context", ctx_stream_out, {"n": "int"}),
        "ctx_slow_sink": ("context", ctx_slow_sink, {"delay": "number", "backpressure": "bool"}),
    },
    # A registry would add its methods here (SELF-1); any other name is AttributeError.
    "self": {
        "cancel": ("asyncfunc", self_cancel, {}),
        "_cancel_task": ("asyncfunc", self_cancel_task, {"cid": "str"}),
    },
}
# Accepted even on a channel at its context limit, so that it can be cleaned up (LIM-15).
CLEANUP = {("self", "cancel"), ("self", "_cancel_task")}


def fits(type_name, value):
    """Whether a kwarg value has the type the table asks for (RPC-4)."""
    if type_name == "any":
        return True
    if type_name == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):             # Python's bool is an int; msgpack's is not
        return False
    return isinstance(value, {"str": str, "int": int, "number": (int, float)}[type_name])


# --- Contexts (protocol.md sections 5 to 7) -----------------------------------------

class Context:
    """One request this actor serves: its task, its receive buffer and its stream."""

    def __init__(self, channel, cid, kind, func, kwargs):
        self.channel, self.actor, self.cid, self.kind = channel, channel.actor, cid, kind
        # Unread `yield`/`stop` as (value, size, channel it came on): the first BUFFER
        # are the buffer, any further ones are parked, which only a backpressured stream
        # allows.  A parked message counts against the channel that delivered it, which
        # may be another channel of the same peer (OVR-8, CID-4).
        self.inbox = collections.deque()
        self.readable = asyncio.Event()
        self.stream_open = self.backpressure = self.overrun_logged = False
        self.cancelling, self.last_words = False, None
        # The context exists before its first reply goes out (CID-7).
        channel.tasks[cid] = self
        self.actor.contexts[(channel.peer, cid)] = self
        self.task = asyncio.create_task(self.run(func, kwargs))
        # A callback, not a `finally`: a task cancelled before its first step never runs.
        self.task.add_done_callback(self.forget)

    async def run(self, func, kwargs):
        try:
            self.send({"functype": self.kind, "cid": self.cid})
            result = await func(self, **kwargs)
            if self.kind == "asyncgen" or self.stream_open:
                self.send({"stop": True, "cid": self.cid})
            if self.kind != "asyncgen":
                self.send({"return": result, "cid": self.cid})
        except asyncio.CancelledError:
            if self.last_words is not None:
                self.send(self.last_words)
        except Failure as e:
            self.send(error_msg(self.cid, *e.args))
        except Exception as e:              # a bug still ends the request properly (RPC-1)
            log.exception("%s: task %s failed", self.channel, self.cid)
            self.send(error_msg(self.cid, type(e).__name__, str(e)))

    def send(self, msg):
        """Send a message of this context, or an error in its place when it cannot
        go on the wire (RPC-11)."""
        try:
            self.channel.send(msg)
        except ValueError as e:
            what = next(iter(msg))
            self.channel.send(error_msg(self.cid, "TypeError", f"cannot send the {what}: {e}"))

    def started(self, value):
        self.send({"started": value, "cid": self.cid})

    def open_stream(self, backpressure):
        self.stream_open, self.backpressure = True, backpressure

    async def send_yield(self, value):
        self.send({"yield": value, "cid": self.cid})
        # A producer lets every other task run between two yields (drain() returns
        # at once below its limit), and waits while the peer is slow to read (LIM-13).
        await asyncio.sleep(0)
        await self.channel.writable()

    async def receive(self):
        """The next `yield` value from the caller, or STOP."""
        while not self.inbox:
            self.readable.clear()
            await self.readable.wait()
        value, _, _ = self.inbox.popleft()
        if len(self.inbox) >= BUFFER:       # a parked message moved into the buffer
            _, size, via = self.inbox[BUFFER - 1]
            via.unpark(size)
        return value

    def deliver(self, value, size, via):
        """A `yield` (or STOP) from the caller: buffered, parked (OVR-6, OVR-7), or
        dropped and answered with StreamOverrun (OVR-2)."""
        if self.kind != "context":
            self.channel.warn("a stream message for the %s %s, dropped (CTX-8)", self.kind,
                              self.cid)
            return
        if len(self.inbox) >= BUFFER:
            if not self.backpressure:
                self.overrun()
                return
            via.park(size)
        self.inbox.append((value, size, via))
        self.readable.set()

    def overrun(self):
        """Answer a message dropped for want of room with the StreamOverrun of OVR-3."""
        if not self.overrun_logged:         # a flood gets one record (SVC-30)
            self.overrun_logged = True
            log.warning("%s: %s has %d unread messages: this one, and each that finds no "
                        "room, is dropped with StreamOverrun (OVR-2)",
                        self.channel, self.cid, BUFFER)
        lines = ["Task context stream was overrun"]
        if not self.stream_open:
            lines.append(f"*** No stream open on `{NAME}` side! ***")
        lines += [f"local task: {self.cid} @ {uid_text(self.actor.uid)}",
                  f"remote sender: {uid_text(self.channel.peer)}"]
        self.send(error_msg(self.cid, "StreamOverrun", "\n".join(lines)))

    def error_received(self, error):
        """An `error` from the caller ends the task with RemoteActorError (CTX-6),
        however full its buffer (OVR-5)."""
        if not (isinstance(error, dict) and isinstance(error.get("type_str"), str)):
            self.channel.warn("an error without a str type_str for %s, dropped (SEC-5)",
                              self.cid)
        elif self.cancelling:
            self.channel.warn("a further error for %s, dropped (OVR-5)", self.cid)
        else:
            tb_str = error.get("tb_str")
            tb_str = tb_str if isinstance(tb_str, str) else ""     # missing: empty (ERR-5)
            text = f"{uid_text(self.channel.peer)} raised {error['type_str']}:\n{tb_str}"
            self.cancel(error_msg(self.cid, "RemoteActorError", text))

    def cancel_remotely(self):
        """Cancelled by self._cancel_task: a context ends with ContextCancelled
        (SELF-6), an asyncgen with `stop`, an asyncfunc with nothing (SELF-7)."""
        if self.kind == "context":
            self.cancel(error_msg(self.cid, "ContextCancelled",
                                  f"context {self.cid} was remotely cancelled by its caller "
                                  f"{uid_text(self.channel.peer)}"))
        else:
            self.cancel({"stop": True, "cid": self.cid} if self.kind == "asyncgen" else None)

    def cancel(self, last_words=None):
        """Cancel the task; its final message will be last_words, if any."""
        if not self.cancelling:
            self.cancelling, self.last_words = True, last_words
            self.task.cancel()

    def forget(self, _task):
        """The task has ended: the context and its unread messages go (CID-7, OVR-9)."""
        del self.channel.tasks[self.cid]
        del self.actor.contexts[(self.channel.peer, self.cid)]
        for _, size, via in itertools.islice(self.inbox, BUFFER, None):
            via.unpark(size)
        self.inbox.clear()


# --- Channels (protocol.md sections 2 to 4, 11 and 13) ------------------------------

END = object()   # what Channel.next_message gives at the end of the stream


class Channel:
    """One connection: the handshake, then every message classified as CID-1 says."""

    def __init__(self, actor, reader, writer):
        self.actor, self.reader, self.writer = actor, reader, writer
        self.lenprefix = actor.codec == "lenprefix"
        self.decoder = Decoder(actor.codec)
        self.peer = None            # the peer's uid, once the handshake is done
        self.tasks = {}             # cid -> Context started on this connection
        self.closed = False
        self.parked = self.parked_bytes = 0
        self.room = asyncio.Event()
        writer.transport.set_write_buffer_limits(high=MAX_OUTPUT)
        self.label = peer_label(writer)
        self.warn_t0, self.warn_n, self.warn_left = float("-inf"), 0, 0

    def __str__(self):
        return self.label

    def warn(self, fmt, *args):
        """A warning this peer caused: WARNINGS_PER_SECOND a second at most, the rest
        counted in one line when the next second begins (LIM-25)."""
        now = asyncio.get_running_loop().time()
        if now - self.warn_t0 >= 1.0:
            if self.warn_left:
                log.warning("%s: %d more warnings like these in the last second", self,
                            self.warn_left)
            self.warn_t0, self.warn_n, self.warn_left = now, 0, 0
        if self.warn_n >= WARNINGS_PER_SECOND:
            self.warn_left += 1
            return
        self.warn_n += 1
        log.warning("%s: " + fmt, self, *args)

    async def serve(self):
        try:
            self.send(self.actor.uid)           # first, without waiting for anything (HS-1)
            if await self.handshake():
                while (got := await self.next_message()) is not END and self.handle(*got):
                    await self.pause_while_full()
        except CodecError as e:
            log.warning("%s: closing: %s", self, e)
        except asyncio.TimeoutError:
            log.warning("%s: closing: no uid within the limit of %d s (HS-9, LIM-9)",
                        self, HANDSHAKE_TIMEOUT)
        except OSError:                         # a reset is a normal end (FRAME-13, CAN-3)
            self.note_truncated()
        finally:
            self.end()

    def note_truncated(self):
        if self.decoder.buf:
            log.warning("%s: the stream ended inside a message (FRAME-13)", self)

    async def handshake(self):
        """Take the peer's uid (HS-5, HS-6); False when the connection must end."""
        got = await asyncio.wait_for(self.next_message(), HANDSHAKE_TIMEOUT)
        if got is END:
            return False                        # connect-and-drop, quietly (HS-8)
        uid, _ = got
        if not is_uid(uid):
            log.warning("%s: closing: %.80r is not a uid (HS-6)", self, uid)
            return False
        self.peer = uid[:2]                     # further items are ignored (HS-5)
        return True

    async def next_message(self):
        """The next (value, size), or END when the peer has closed."""
        while (got := self.decoder.next()) is None:
            data = await self.reader.read(READ_SIZE)
            if not data:
                self.note_truncated()
                return END
            self.decoder.feed(data)
        return got

    async def pause_while_full(self):
        """Read no further while the peer leaves our output unread (LIM-13) or the
        parking area is full (OVR-8, LIM-12); other connections read on."""
        if self.writer.transport.get_write_buffer_size() > MAX_OUTPUT:
            log.warning("%s: reading paused: over the limit of %d bytes of output unread "
                        "(LIM-13)", self, MAX_OUTPUT)
        await self.writable()
        if self.parked >= MAX_PARKED or self.parked_bytes >= MAX_PARKED_BYTES:
            log.warning("%s: reading paused: the parking limit of %d messages or %d bytes "
                        "is reached (LIM-12)", self, MAX_PARKED, MAX_PARKED_BYTES)
        while self.parked >= MAX_PARKED or self.parked_bytes >= MAX_PARKED_BYTES:
            self.room.clear()
            await self.room.wait()

    def handle(self, msg, size):
        """One message after the handshake, in the order of CID-1; False ends the channel."""
        if msg is None:
            return False                        # `nil`: end() answers nil and closes (CAN-1)
        if not isinstance(msg, dict):
            self.warn("%.80r is not a map, dropped (SEC-3)", msg)
        elif msg.get("cid"):                    # a present cid: routed; a `cmd` in it never runs
            self.route(msg, msg["cid"], size)
        elif "cmd" in msg:
            self.command(msg["cmd"])
        elif "error" in msg and "cid" not in msg:
            self.warn("an actor-level error from a peer that is not our child, dropped (SEC-3)")
        elif "cid" in msg:
            self.warn("a message whose cid is empty, dropped (CID-1)")
        else:
            self.warn("a map that is neither a command nor routable, dropped (SEC-3)")
        return True

    def route(self, msg, cid, size):
        ctx = self.actor.contexts.get((self.peer, cid)) if isinstance(cid, str) else None
        if ctx is None:
            self.warn("a message for no live context (%.80r), dropped (CID-6)", cid)
        elif "error" in msg:
            ctx.error_received(msg["error"])
        elif "yield" in msg:
            ctx.deliver(msg["yield"], size, self)
        elif "stop" in msg:
            ctx.deliver(STOP, size, self)
        elif msg.keys() & {"functype", "return", "started"}:
            self.warn("a reply sent to the callee of %s, dropped (CTX-8)", cid)
        else:
            self.warn("a message of no known kind for %s, dropped (SEC-5)", cid)

    def command(self, cmd):
        if not (isinstance(cmd, tuple) and len(cmd) == 5 and isinstance(cmd[4], str) and cmd[4]):
            self.warn("a cmd that is not five items ending in a cid, dropped (SEC-3)")
            return
        ns, func, kwargs, caller_uid, cid = cmd
        refusal = self.refusal(ns, func, kwargs, caller_uid, cid)
        if refusal:                             # one error, no functype (RPC-1)
            log.info("%s: refused %.80s: %s: %.200s", self, cid, *refusal)
            self.send(error_msg(cid, *refusal))
            return
        kind, function, _ = NAMESPACES[ns][func]
        Context(self, cid, kind, function, kwargs)

    def refusal(self, ns, func, kwargs, caller_uid, cid):
        """Why a command cannot run, as (type_str, text), or None.  caller_uid is
        checked for its shape only and never used (CID-9)."""
        if not (isinstance(ns, str) and isinstance(func, str) and isinstance(kwargs, dict)
                and all(isinstance(k, str) for k in kwargs) and is_uid(caller_uid)):
            return "MessagingError", ("a cmd needs a str ns and func, a map with str keys as "
                                      "kwargs and a uid as caller_uid (SEC-4)")
        if (self.peer, cid) in self.actor.contexts:
            return "MessagingError", f"cid {cid} names a live context (CID-10)"
        if len(self.tasks) >= MAX_CONTEXTS and (ns, func) not in CLEANUP:
            return "TooManyContexts", f"the channel is at its limit of {MAX_CONTEXTS} contexts"
        functions = NAMESPACES.get(ns)
        if functions is None:
            return "ModuleNotExposed", f"namespace {ns!r} is not exposed"
        if func not in functions:
            return "AttributeError", f"namespace {ns!r} has no function {func!r}"
        params = functions[func][2]
        if kwargs.keys() != params.keys() or not all(fits(params[k], v)
                                                     for k, v in kwargs.items()):
            wanted = ", ".join(f"{k}: {t}" for k, t in params.items()) or "no kwargs"
            return "TypeError", f"{ns}.{func} takes {wanted}; got {sorted(kwargs)}"
        return None

    def send(self, msg):
        """Write one whole message at once, so that no other bytes come between its
        bytes (FRAME-14); ValueError when it cannot be encoded or is too big."""
        if self.closed:
            return
        try:
            body = msgpack.packb(msg, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as e:
            raise ValueError(f"it cannot be encoded ({e})") from None
        if len(body) > MAX_MESSAGE:
            raise ValueError(f"its {len(body)} bytes are over the limit of {MAX_MESSAGE}")
        self.writer.write(len(body).to_bytes(4, "little") + body if self.lenprefix else body)

    async def writable(self):
        """Wait while more than MAX_OUTPUT bytes wait for the peer to read them."""
        try:
            await self.writer.drain()
        except OSError:
            pass                                # the reading side sees the end

    def park(self, size):
        self.parked += 1
        self.parked_bytes += size

    def unpark(self, size):
        self.parked -= 1
        self.parked_bytes -= size
        self.room.set()

    def end(self):
        """End the channel: cancel every task it started (CAN-1, CAN-3, CAN-5), say
        `nil` (CAN-2, SVC-4) and close; the cancelled tasks find it closed."""
        if self.closed:
            return
        for ctx in list(self.tasks.values()):
            ctx.cancel()
        self.send(None)
        self.closed = True
        self.writer.close()
        # A peer that never reads must not keep the socket open for ever.
        asyncio.get_running_loop().call_later(CLOSE_GRACE, self.writer.transport.abort)
        self.actor.channels.discard(self)


# --- The actor -----------------------------------------------------------------------

class Actor:
    def __init__(self, codec):
        self.uid = (NAME, str(uuid.uuid4()))    # the same on every connection (HS-3, HS-4)
        self.codec = codec
        self.channels = set()
        self.contexts = {}      # (peer uid, cid) -> Context, whatever channel carries it (CID-4)
        self.stopping = asyncio.Event()

    async def accept(self, reader, writer):
        if len(self.channels) >= MAX_CONNECTIONS:
            log.warning("%s: closed at once: the limit of %d connections is reached (LIM-10)",
                        peer_label(writer), MAX_CONNECTIONS)
            writer.close()
            return
        channel = Channel(self, reader, writer)
        self.channels.add(channel)
        await channel.serve()

    async def cancel_all(self, but):
        """Cancel every task on every channel but one, and wait until they have ended."""
        contexts = [ctx for ctx in self.contexts.values() if ctx is not but]
        for ctx in contexts:
            ctx.cancel()
        if contexts:
            await asyncio.wait([ctx.task for ctx in contexts])


async def serve(host, port, codec):
    actor = Actor(codec)
    server = await asyncio.start_server(actor.accept, host, port)
    bound = server.sockets[0].getsockname()
    print(f"{bound[0]}:{bound[1]}", flush=True)     # serving from now on (SVC-1, SVC-2)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, actor.stopping.set)
    await actor.stopping.wait()
    # Stop accepting, end every channel and exit well within 5 s (SVC-3, SELF-9).
    server.close()
    writers = [channel.writer for channel in actor.channels]
    for channel in list(actor.channels):
        channel.end()
    closing = asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
    try:
        await asyncio.wait_for(closing, 2)
    except asyncio.TimeoutError:
        pass                                    # the process exit closes what is left


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, metavar="HOST:PORT", help="port 0: any free port")
    ap.add_argument("--codec", choices=["msgpack", "lenprefix"], default="msgpack")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"{NAME} %(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(host.strip("[]"), int(port), args.codec))


if __name__ == "__main__":
    main()
