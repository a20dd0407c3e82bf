# SPDX-License-Identifier: AGPL-3.0-or-later
"""A blocking client connection that speaks the wire protocol.

`Client` connects to a target, sends values or raw bytes with the codec and
returns what comes back one item at a time, each wait bounded by a timeout:
`("msg", value, raw)`, `("eof",)`, `("rst",)` or `("timeout",)`.  Bytes that
do not decode end the stream with a ToolError (status 1): no guessing past a
codec error.  With `recorder` set, every message and event goes into it in the
trace format, with "t" since the connection was opened.
"""
import errno
import select
import socket
import struct
import time
import uuid

from . import ToolError
from .codec import CodecError, Decoder, frame, pack
from .jsonview import to_json

# A reply frame announcing more than this is not believed: it is far over the
# reference runtime's own limit (1 MiB) and would make a lenprefix client wait
# for bytes that never come.
MAX_FRAME = 64 * 1024 * 1024


def parse_target(text):
    """(host, port) from HOST:PORT or [IPv6]:PORT; ToolError (status 2) otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ToolError(f"bad target {text!r}: expected HOST:PORT", 2)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def new_uid(name):
    """A uid [name, uuid4] as a list."""
    return [name, str(uuid.uuid4())]


def is_uid(value):
    """True for a value a receiver accepts as a uid (HS-5): >= 2 items, the first two str."""
    return isinstance(value, (list, tuple)) and len(value) >= 2 and \
        isinstance(value[0], str) and isinstance(value[1], str)


class Recorder:
    """Entries of one connection in the trace format, time-stamped."""

    def __init__(self, conn="c1"):
        self.conn = conn
        self.t0 = time.monotonic()
        self.entries = []

    def add(self, **fields):
        t = round(time.monotonic() - self.t0, 6)
        self.entries.append({"t": t, "conn": self.conn, **fields})


class Client:
    def __init__(self, target, codec="msgpack", connect_timeout=5.0, recorder=None):
        self.target = target
        self.codec = codec
        self.decoder = Decoder(codec, max_frame=MAX_FRAME)
        self.recorder = recorder
        self.queue = []
        self.closed = False      # the peer's direction has ended
        self.rst = False
        host, port = parse_target(target)
        try:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        except socket.timeout:
            raise ToolError(f"cannot connect to {target}: timed out after "
                            f"{connect_timeout:g} s", 1) from None
        except OSError as e:
            raise ToolError(f"cannot connect to {target}: {e.strerror or e}", 1) from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if recorder:
            recorder.add(event="open")

    def fileno(self):
        return self.sock.fileno()

    def _send_bytes(self, data):
        try:
            self.sock.settimeout(10.0)
            self.sock.sendall(data)
        except OSError as e:
            raise ToolError(f"{self.target}: send failed: {e.strerror or e}", 1) from None

    def send(self, value):
        """Encode and send one message; returns its msgpack bytes."""
        body = pack(value)
        self._send_bytes(frame(body, self.codec))
        if self.recorder:
            self.recorder.add(dir="c2s", hex=body.hex(), msg=to_json(value))
        return body

    def send_raw(self, data):
        """Send bytes as they are (no codec framing)."""
        self._send_bytes(data)
        if self.recorder:
            self.recorder.add(dir="c2s", hex=data.hex(), raw=True)

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if self.recorder:
            self.recorder.add(event="eof", dir="c2s")

    def reset(self):
        """Close with a RST (SO_LINGER 0), as a peer that aborts."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.closed = True
        if self.recorder:
            self.recorder.add(event="rst", dir="c2s")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def readable(self, timeout):
        """True when recv would not block (data, EOF, or a queued message)."""
        if self.queue or self.closed:
            return True
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        return bool(r)

    def recv(self, timeout):
        """The next item from the peer, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.queue:
            if self.closed:
                return ("rst",) if self.rst else ("eof",)
            # Always look once, even with no time left, so recv(0) polls.
            left = max(0.0, deadline - time.monotonic())
            if not self.readable(left):
                return ("timeout",)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                self._end("rst")
                continue
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EINTR):
                    continue
                raise ToolError(f"{self.target}: receive failed: {e.strerror or e}", 1) from None
            if not data:
                self._end("eof")
                continue
            try:
                for value, raw in self.decoder.feed(data):
                    self.queue.append(("msg", value, raw))
                    if self.recorder:
                        self.recorder.add(dir="s2c", hex=raw.hex(), msg=to_json(value))
            except CodecError as e:
                if self.recorder:
                    self.recorder.add(event="decode_error", dir="s2c", error=str(e),
                                      hex=self.decoder.pending_bytes().hex())
                raise ToolError(f"{self.target}: the reply stream is not {self.codec}: {e}", 1) \
                    from None
        return self.queue.pop(0)

    def _end(self, how):
        self.closed = True
        self.rst = how == "rst"
        if self.decoder.pending and self.recorder:
            self.recorder.add(event="decode_error", dir="s2c",
                              error="stream ended inside a message (truncated)",
                              hex=self.decoder.pending_bytes().hex())
        if self.recorder:
            self.recorder.add(event=how, dir="s2c")
