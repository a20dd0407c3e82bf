# SPDX-License-Identifier: AGPL-3.0-or-later
"""The two codecs of the wire (spec/protocol.md section 1), incremental.

`msgpack` writes msgpack objects back to back; `lenprefix` puts a 4-byte
unsigned little-endian length in front of each.  A `Decoder` takes bytes in
any split and hands back complete messages together with the exact bytes of
each object (without the lenprefix header), so tools can show what was on the
wire.  After a codec error a decoder stays broken: the spec forbids
resynchronising (FRAME-12), and guessing would show messages that no
receiver saw.
"""
import struct

import msgpack

CODECS = ("msgpack", "lenprefix")
HEADER = struct.Struct("<I")
# tractor 0.1.0a4's reader options: str as str, arrays as tuples (so they can
# be map keys), map keys of any type.
UNPACK_OPTS = dict(raw=False, use_list=False, strict_map_key=False)
_DECODE_ERRORS = (ValueError, TypeError, msgpack.FormatError, msgpack.StackError)


class CodecError(Exception):
    """Bytes that do not decode under the codec."""


def pack(value):
    """Encode one value as tractor does: str as str, bytes as bin, float64."""
    return msgpack.packb(value, use_bin_type=True)


def frame(body, codec):
    """The bytes that carry one encoded message under `codec`."""
    if codec == "lenprefix":
        return HEADER.pack(len(body)) + body
    return body


def _describe(exc):
    text = str(exc)
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


class Decoder:
    """Incremental decoder of one direction of a connection.

    `feed(data)` returns a list of `(value, raw_bytes)`; it raises CodecError
    once, after which `error` is set and later feeds return nothing.
    `pending` is the number of bytes held for an incomplete message.
    """

    def __init__(self, codec="msgpack", max_frame=None):
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r} (msgpack or lenprefix)")
        self.codec = codec
        self.max_frame = max_frame
        self.error = None
        self.offset = 0          # stream offset of the first byte in _buf
        self._buf = bytearray()
        self._fed = 0            # bytes of _buf already given to the Unpacker
        self._unpacker = None

    @property
    def pending(self):
        return len(self._buf)

    def pending_bytes(self):
        return bytes(self._buf)

    def feed(self, data):
        if self.error:
            return []
        self._buf += data
        try:
            if self.codec == "lenprefix":
                return self._frames()
            return self._objects()
        except CodecError as e:
            self.error = str(e)
            raise

    def _fail(self, text):
        head = bytes(self._buf[:8]).hex(" ")
        more = " ..." if len(self._buf) > 8 else ""
        raise CodecError(f"{text} at stream offset {self.offset} (bytes {head}{more})")

    def _objects(self):
        # One Unpacker for the whole stream: it keeps a partial object across
        # feeds, and tell() says where each object ends, which gives its
        # exact bytes out of _buf.
        if self._unpacker is None:
            self._unpacker = msgpack.Unpacker(**UNPACK_OPTS)
        up = self._unpacker
        up.feed(bytes(self._buf[self._fed:]))
        self._fed = len(self._buf)
        out = []
        while True:
            try:
                value = up.unpack()
            except msgpack.OutOfData:
                break
            except _DECODE_ERRORS as e:
                self._fail(f"not msgpack ({_describe(e)})")
            used = up.tell() - self.offset
            out.append((value, bytes(self._buf[:used])))
            del self._buf[:used]
            self._fed -= used
            self.offset += used
        return out

    def _frames(self):
        out = []
        while len(self._buf) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buf)
            if self.max_frame is not None and length > self.max_frame:
                self._fail(f"frame length {length} over the limit of {self.max_frame} bytes")
            if len(self._buf) < HEADER.size + length:
                break
            body = bytes(self._buf[HEADER.size:HEADER.size + length])
            if not body:
                self._fail("empty frame body")
            try:
                value = msgpack.unpackb(body, **UNPACK_OPTS)
            except msgpack.ExtraData:
                self._fail("bytes after the object in a frame body")
            except _DECODE_ERRORS as e:
                self._fail(f"frame body is not msgpack ({_describe(e)})")
            out.append((value, body))
            del self._buf[:HEADER.size + length]
            self.offset += HEADER.size + length
        return out
