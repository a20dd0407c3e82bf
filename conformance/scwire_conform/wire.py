# SPDX-License-Identifier: AGPL-3.0-or-later
"""A logged connection to the IUT, and the request helpers built on it.

`Conn` wraps one TCP socket with a codec.  Every message in and out, and every
open/eof/rst/close, goes to the case's wire log.  Every wait has a timeout:
`recv` raises `Timeout` when nothing complete arrived in time and `Closed`
when the IUT ended the connection (`how` is "eof" for a clean end of file,
"rst" for a reset).  `expect` takes the next message and raises a
`Violation` that names what was expected and what was observed; it never
skips a message silently.  Messages of other cids that arrive while waiting
for one cid stay queued for later waits (`recv_for`, `unread`).

Request helpers: `call` (asyncfunc: functype then return or error, or one
error when refused), `open_stream_from` (asyncgen), `open_context` (cmd,
functype, started), `cancel_task` (`self._cancel_task`) and `barrier` (an
echo round trip after which everything the IUT sent before is in hand).
"""
import collections
import socket
import struct
import time
import uuid as _uuid

from . import msgs
from .codec import CodecError, get_codec
from .msgs import ANY, Pattern, new_cid, same
from .verdict import Violation, observe
from .wirelog import WireLog, short

DEFAULT_TIMEOUT = 5.0
# Pause between chopped segments: long enough for each to leave as its own
# TCP segment (TCP_NODELAY is on) and usually to be read on its own.
CHOP_PAUSE = 0.001
SERVICE = "scwire_service"


class Timeout(Exception):
    """Nothing (complete) arrived before the deadline."""


class Closed(Exception):
    """The IUT ended the connection: how is "eof" or "rst"."""

    def __init__(self, how, conn_name=""):
        super().__init__(f"{conn_name}: connection closed by the IUT ({how})")
        self.how = how


class Reply:
    """The outcome of one request: its functype (None when refused) and final message."""

    def __init__(self, cid, functype, final):
        self.cid = cid
        self.functype = functype
        self.final = final

    @property
    def kind(self):
        return msgs.kind(self.final)

    @property
    def value(self):
        return self.final.get("return") if self.kind == "return" else None

    @property
    def error(self):
        return self.final.get("error") if self.kind == "error" else None

    @property
    def type_str(self):
        return self.error.get("type_str") if self.error else None

    def __repr__(self):
        return f"<Reply {self.cid} functype={self.functype} {short(self.final)}>"


# The most bytes that extend one wait by the time the link needs to carry them.
BULK_CAP = 16 << 20
# A long transfer gets less of the link than the short echo that measured it
# (headers, acknowledgements, the shaper's burst): bytes are counted at 2/3 of it.
CARRY_SHARE = 2 / 3


def carry_time(nbytes):
    """Seconds the link to the IUT needs to carry nbytes (0 when not measured)."""
    return nbytes / (Conn.link_rate * CARRY_SHARE) if Conn.link_rate else 0.0


def link_backlog():
    """Seconds the link still needs for what the suite wrote on any connection:
    a wait that begins now begins, for the IUT, that much later."""
    return max(0.0, Conn.busy_until - time.monotonic())


class Conn:
    """One connection with the IUT: one the suite opened (it is then `c2s`), or, with
    accepted=True, one the IUT opened to a server of the suite."""

    # The throughput of the link to the IUT in bytes/s, once measured (link.py;
    # None: not limited).  A write may take the time the link needs to carry its
    # bytes on top of the wait bound; a wait is extended by the time the link
    # needed to carry what arrived during it, counting at most BULK_CAP bytes, and
    # starts once the link has carried what the suite wrote before it, on any
    # connection (spec/test-service.md section 1.1).
    link_rate = None
    busy_until = 0.0          # when the link has carried what the suite wrote

    def __init__(self, sock, codec, *, log=None, name=None, timeout=DEFAULT_TIMEOUT, chop=None,
                 accepted=False):
        self.sock = sock
        # Trace direction names are relative to the side that opened the
        # connection; on a connection the IUT opened to us, ours are "s2c".
        self._out_dir, self._in_dir = ("s2c", "c2s") if accepted else ("c2s", "s2c")
        self.codec = get_codec(codec) if isinstance(codec, str) else codec
        self.log = log if log is not None else WireLog()
        self.name = name or self.log.new_conn()
        self.timeout = timeout
        self.chop = chop
        self.uid = None
        self.peer_uid = None
        self.closed = None        # "eof"/"rst" once the IUT ended the connection
        self.write_closed = None  # "rst" once a write found the IUT gone
        self.local_closed = False
        self.drained = []         # messages read by the last closed_within()
        self.last_raw = b""       # exact bytes (codec framing included) of the last message taken
        self._decoder = self.codec.decoder()
        self._inbox = collections.deque()
        self._rx = 0              # bytes received in all
        self._rx_mark = 0         # ... when the current wait began
        self._codec_error = None
        self.log.event(self.name, "open")

    @classmethod
    def connect(cls, host, port, codec, *, timeout=DEFAULT_TIMEOUT, **kw):
        sock = socket.create_connection((host, port), timeout=timeout)
        # Small writes must leave at once, or chopping would be undone by Nagle.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, codec, timeout=timeout, **kw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<Conn {self.name} {self.codec.name} peer={self.peer_uid}>"

    # --- sending -----------------------------------------------------------

    # A write that finds the IUT gone does not raise: the IUT may close when
    # the spec lets it (after nil, on hostile input), and what it sent before
    # is still to be read and graded.  A case that needed an answer learns of
    # the close when it reads; later writes are logged as not sent.

    def send(self, obj, chop=None):
        """Encode and send one message."""
        data = self.codec.encode(obj)
        if self._sendable(data):
            self.log.message(self.name, self._out_dir, data, obj)
            self._write(data, chop)

    def send_many(self, objs, chop=None):
        """Send several messages with one write (one TCP segment when small)."""
        parts = [(self.codec.encode(obj), obj) for obj in objs]
        data = b"".join(one for one, _ in parts)
        if not self._sendable(data):
            return
        for one, obj in parts:
            self.log.message(self.name, self._out_dir, one, obj)
        self._write(data, chop)

    def send_while_accepted(self, data, idle=1.0):
        """Write as much of data as the IUT takes, until it has taken nothing for `idle`
        seconds (it stopped reading) or all is sent; returns the bytes sent.  Logged
        as one raw entry, for floods too big to log message by message."""
        sent, last = 0, time.monotonic()
        start = last
        self.sock.setblocking(False)
        try:
            while sent < len(data) and time.monotonic() - last < idle:
                try:
                    n = self.sock.send(data[sent:sent + 65536])
                except BlockingIOError:
                    time.sleep(0.005)
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    self.write_closed = "rst"
                    break
                sent, last = sent + n, time.monotonic()
        finally:
            self.sock.setblocking(True)
        if sent and Conn.link_rate:
            Conn.busy_until = max(start, Conn.busy_until) + carry_time(sent)
        self.log.raw(self.name, self._out_dir, data[:sent],
                     note=f"flood: {sent} of {len(data)} bytes taken")
        return sent

    def send_raw(self, data, chop=None, note=None):
        """Send bytes as they are (they may be no message at all)."""
        if self._sendable(data):
            self.log.raw(self.name, self._out_dir, data, note)
            self._write(bytes(data), chop)

    def send_body(self, body, chop=None, note=None):
        """Send raw msgpack bytes as one message of the codec (lenprefix adds a header)."""
        self.send_raw(self.codec.frame(body), chop, note)

    @property
    def in_dir(self):
        """The trace direction of what the IUT sends on this connection."""
        return self._in_dir

    @property
    def out_dir(self):
        """The trace direction of what the suite sends on this connection."""
        return self._out_dir

    @property
    def codec_error(self):
        """The Violation of the IUT's first bytes that did not decode, or None."""
        return self._codec_error

    @property
    def sendable(self):
        """Whether writes still reach the IUT (False once one found it gone)."""
        return self.write_closed is None and not self.local_closed

    def _sendable(self, data):
        if self.write_closed is None:
            return True
        self.log.event(self.name, "unsent", self._out_dir, bytes=len(data),
                       note=f"the IUT had closed the connection ({self.write_closed})")
        return False

    def _write(self, data, chop):
        chop = self.chop if chop is None else chop
        carry = carry_time(len(data))
        limit = self.timeout + link_backlog() + carry
        if carry:
            Conn.busy_until = max(time.monotonic(), Conn.busy_until) + carry
        self.sock.settimeout(limit)
        try:
            if not chop:
                self.sock.sendall(data)
                return
            for i in range(0, len(data), chop):
                self.sock.sendall(data[i:i + chop])
                time.sleep(CHOP_PAUSE)
        except socket.timeout:
            raise Timeout(f"{self.name}: the IUT did not take our bytes within "
                          f"{limit:g} s") from None
        except (BrokenPipeError, ConnectionResetError):
            self.write_closed = "rst"
            self.log.event(self.name, "rst", self._in_dir, note="seen by a write")

    # --- receiving ---------------------------------------------------------

    def _deadline(self, timeout):
        self._rx_mark = self._rx
        return time.monotonic() + link_backlog() + (self.timeout if timeout is None else timeout)

    def _peer_closed(self, how):
        if self.closed:
            return
        self.closed = how
        pending = self._decoder.pending
        extra = {"truncated_hex": pending.hex()} if pending else {}
        self.log.event(self.name, how, self._in_dir, **extra)

    def _pump(self, deadline):
        """Read once (waiting at most until deadline) and decode what came."""
        if self._codec_error:
            raise self._codec_error
        if self.closed:
            raise Closed(self.closed, self.name)
        if self.local_closed:
            raise Closed("closed by the suite", self.name)
        remaining = deadline + carry_time(min(self._rx - self._rx_mark, BULK_CAP)) \
            - time.monotonic()
        if remaining <= 0:
            raise Timeout(f"{self.name}: nothing arrived in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout(f"{self.name}: nothing arrived in time") from None
        except ConnectionResetError:
            self._peer_closed("rst")
            raise Closed("rst", self.name) from None
        if not data:
            self._peer_closed("eof")
            raise Closed("eof", self.name)
        self._rx += len(data)
        self._decoder.feed(data)
        got = 0
        try:
            for obj, raw in self._decoder.messages():
                self.log.message(self.name, self._in_dir, raw, obj)
                self._inbox.append((obj, raw))
                got += 1
        except CodecError as e:
            self.log.raw(self.name, self._in_dir, self._decoder.pending, note=f"codec error: {e}")
            self._codec_error = Violation(
                f"{self.name}: the IUT sent bytes that are not valid {self.codec.name}: {e}")
            # Messages decoded before the bad bytes are still handed out first.
            if not got:
                raise self._codec_error from None

    def recv(self, timeout=None):
        """The next message (None is the message nil); raises Timeout or Closed."""
        deadline = self._deadline(timeout)
        while not self._inbox:
            self._pump(deadline)
        obj, self.last_raw = self._inbox.popleft()
        return obj

    def recv_for(self, cid, timeout=None):
        """The next message whose cid is cid; others stay queued in order."""
        deadline = self._deadline(timeout)
        while True:
            for i, (m, raw) in enumerate(self._inbox):
                if isinstance(m, dict) and m.get("cid") == cid:
                    del self._inbox[i]
                    self.last_raw = raw
                    return m
            self._pump(deadline)

    def poll(self, timeout):
        """Queue what arrives within timeout, taking nothing; an ended connection
        is left for the next recv to report."""
        try:
            self._pump(self._deadline(timeout))
        except (Timeout, Closed):
            pass

    def unread(self, cid=ANY):
        """Messages received but not taken yet (only those of cid, if given)."""
        if cid is ANY:
            return [m for m, _ in self._inbox]
        return [m for m, _ in self._inbox if isinstance(m, dict) and m.get("cid") == cid]

    def take_unread(self, cid):
        """Remove and return the queued messages of cid."""
        got = [(m, r) for m, r in self._inbox if isinstance(m, dict) and m.get("cid") == cid]
        for item in got:
            self._inbox.remove(item)
        return [m for m, _ in got]

    @property
    def last_body(self):
        """The msgpack bytes of the last message taken, without codec framing."""
        return self.last_raw[4:] if self.codec.prefixed else self.last_raw

    def _unread_text(self):
        if not self._inbox:
            return ""
        shown = ", ".join(short(m, 160) for m, _ in list(self._inbox)[:5])
        more = f" and {len(self._inbox) - 5} more" if len(self._inbox) > 5 else ""
        return f" (queued, not taken: {shown}{more})"

    def expect(self, pattern, timeout=None, what=None, cid=None, rid=None):
        """Take the next message (of cid, if given) and check it against pattern.

        Returns the message; raises Violation with expected-vs-observed text
        when it does not match, nothing arrives in time, or the IUT closes; `rid`
        names the requirement the expectation comes from.
        """
        what = what or str(pattern)
        t = self.timeout if timeout is None else timeout
        silent = False
        try:
            msg = self.recv(t) if cid is None else self.recv_for(cid, t)
        except Timeout:
            observed, silent = f"nothing within {t:g} s", True
        except Closed as e:
            observed = f"the connection closed ({e.how})"
        else:
            if pattern(msg):
                observe(f"{self.name} received {short(msg)}")
                return msg
            observed = short(msg)
        text = f"{self.name}: expected {what}; observed {observed}{self._unread_text()}"
        observe(text)
        v = Violation(text, rid=rid)
        v.silent = silent       # nothing came: a case may judge that a hang
        raise v

    def closed_within(self, timeout=None):
        """Wait for the IUT to end the connection: "eof" or "rst", or None when it
        is still open at the timeout.  Messages read meanwhile go to `drained`."""
        deadline = self._deadline(timeout)
        self.drained = []
        while True:
            while self._inbox:
                self.drained.append(self._inbox.popleft()[0])
            try:
                self._pump(deadline)
            except Timeout:
                return None
            except Closed as e:
                while self._inbox:
                    self.drained.append(self._inbox.popleft()[0])
                return e.how

    # --- ending ------------------------------------------------------------

    def close(self):
        """Close our socket (FIN), quietly if it is closed already."""
        if self.local_closed:
            return
        self.local_closed = True
        try:
            self.sock.close()
        finally:
            self.log.event(self.name, "close")

    def abort(self):
        """Reset the connection (RST) instead of closing it."""
        if self.local_closed:
            return
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.local_closed = True
        self.sock.close()
        self.log.event(self.name, "rst", self._out_dir)

    def shutdown_write(self):
        """Close our half (FIN) and keep reading."""
        self.sock.shutdown(socket.SHUT_WR)
        self.log.event(self.name, "eof", self._out_dir)

    # --- handshake ---------------------------------------------------------

    def send_uid(self, name="scwire-conform", uuid=None, extra=(), chop=None):
        uid = [name, uuid if uuid is not None else str(_uuid.uuid4())] + list(extra)
        self.uid = (uid[0], uid[1])
        self.send(uid, chop)
        return self.uid

    def recv_uid(self, timeout=None):
        """Read the IUT's uid; it must be an array of exactly two str (HS-3)."""
        uid = self.expect(Pattern("the IUT's uid, an array of exactly two str", msgs.is_uid),
                          timeout)
        self.peer_uid = tuple(uid)
        return self.peer_uid

    def handshake(self, name="scwire-conform", uuid=None, extra=()):
        """Send our uid at once, then read the IUT's (the order tractor uses)."""
        self.send_uid(name, uuid, extra)
        return self.recv_uid()

    # --- requests ----------------------------------------------------------

    def command(self, ns, func, kwargs=None, *, cid=None, caller_uid=None):
        """Send one `cmd`; returns its cid (a fresh uuid4 unless given)."""
        cid = cid if cid is not None else new_cid()
        uid = caller_uid or self.uid or ("scwire-conform", "")
        self.send({"cmd": [ns, func, {} if kwargs is None else kwargs, list(uid), cid]})
        return cid

    def result(self, cid, functype="asyncfunc", timeout=None):
        """Read a request's functype then return/error, or its single refusal error."""
        first = self.expect(msgs.functype(cid, functype) | msgs.error(cid), timeout, cid=cid)
        if msgs.kind(first) == "error":
            return Reply(cid, None, first)
        final = self.expect(msgs.ret(cid) | msgs.error(cid), timeout, cid=cid)
        return Reply(cid, functype, final)

    def call(self, ns, func, /, kwargs=None, *, timeout=None, **kw):
        """Run an asyncfunc: kwargs from the dict and/or keywords."""
        args = dict(kwargs or {})
        args.update(kw)
        cid = self.command(ns, func, args)
        return self.result(cid, "asyncfunc", timeout)

    def open_stream_from(self, ns, func, /, kwargs=None, **kw):
        """Start an asyncgen; returns its stream once `functype asyncgen` arrived."""
        args = dict(kwargs or {})
        args.update(kw)
        cid = self.command(ns, func, args)
        self.expect(msgs.functype(cid, "asyncgen"), cid=cid)
        return RemoteStream(self, cid)

    def open_context(self, ns, func, /, kwargs=None, **kw):
        """Start a context function: cmd, `functype context`, then `started`."""
        args = dict(kwargs or {})
        args.update(kw)
        cid = self.command(ns, func, args)
        self.expect(msgs.functype(cid, "context"), cid=cid)
        first = self.expect(msgs.started(cid), cid=cid)
        return RemoteContext(self, cid, first["started"])

    def cancel_task(self, cid, timeout=None):
        """`self._cancel_task` for cid, run on this connection."""
        return self.call("self", "_cancel_task", {"cid": cid}, timeout=timeout)

    def barrier(self, timeout=None):
        """Echo round trip: afterwards every message the IUT sent before its
        answer is queued, so `unread(cid)` shows whether anything came on cid."""
        token = "barrier-" + new_cid()
        r = self.call(SERVICE, "echo", value=token, timeout=timeout)
        if r.kind != "return" or not same(r.value, token):
            raise Violation(f"{self.name}: barrier echo of {token!r} answered {short(r.final)}")

    def expect_quiet(self, cid, what="nothing more", rid=None):
        """Check, with a barrier, that the IUT sent nothing more on cid."""
        self.barrier()
        extra = self.unread(cid)
        if extra:
            raise Violation(f"{self.name}: expected {what} on cid {cid}; observed "
                            + ", ".join(short(m, 160) for m in extra), rid=rid)


class RemoteStream:
    """The caller's end of an asyncgen started with `open_stream_from`."""

    def __init__(self, conn, cid):
        self.conn = conn
        self.cid = cid

    def next(self, timeout=None):
        """The next `yield`, `stop` or `error` on the stream's cid."""
        c = self.cid
        return self.conn.expect(msgs.yield_(c) | msgs.stop(c) | msgs.error(c), timeout, cid=c)

    def collect(self, timeout=None, limit=100000):
        """Read yields until stop or error: (values, final message)."""
        values = []
        while len(values) <= limit:
            m = self.next(timeout)
            if msgs.kind(m) != "yield":
                return values, m
            values.append(m["yield"])
        raise Violation(f"stream {self.cid}: more than {limit} yields")


class RemoteContext:
    """The caller's end of a context started with `open_context`."""

    def __init__(self, conn, cid, started_value):
        self.conn = conn
        self.cid = cid
        self.started = started_value

    def send_yield(self, value):
        self.conn.send({"yield": value, "cid": self.cid})

    def send_stop(self):
        self.conn.send({"stop": True, "cid": self.cid})

    def next(self, timeout=None):
        """The next `yield`, `stop`, `return` or `error` on the context's cid."""
        c = self.cid
        pat = msgs.yield_(c) | msgs.stop(c) | msgs.ret(c) | msgs.error(c)
        return self.conn.expect(pat, timeout, cid=c)

    def finish(self, timeout=None):
        """Read until return or error: (yielded values, number of stops, final message)."""
        values, stops = [], 0
        while True:
            m = self.next(timeout)
            k = msgs.kind(m)
            if k == "yield":
                if stops:
                    raise Violation(f"context {self.cid}: yield after stop (CTX-5): {short(m)}")
                values.append(m["yield"])
            elif k == "stop":
                stops += 1
            else:
                return values, stops, m
