# SPDX-License-Identifier: AGPL-3.0-or-later
"""The two codecs of the wire (protocol.md section 1) as the suite uses them.

`msgpack` writes msgpack objects back to back; `lenprefix` puts a 4-byte
little-endian length in front of each.  Decoders are incremental: bytes go in
in any split and complete messages come out together with their exact bytes,
so that the wire log can show what was really on the wire.
"""
import struct

import msgpack

HEADER = struct.Struct("<I")
# Decode options of tractor 0.1.0a4's reader: str as str, arrays as tuples (so
# they can be map keys), any map key type.
UNPACK_OPTS = dict(raw=False, use_list=False, strict_map_key=False)
_DECODE_ERRORS = (ValueError, TypeError, msgpack.FormatError, msgpack.StackError)


class CodecError(Exception):
    """Bytes from the peer that do not decode under the configured codec."""


def pack(obj):
    """Encode one value the way tractor does: str as str, bytes as bin."""
    return msgpack.packb(obj, use_bin_type=True)


def unpack_one(data):
    """Decode bytes that must hold exactly one msgpack object."""
    if not data:
        raise CodecError("empty body")
    try:
        return msgpack.unpackb(bytes(data), **UNPACK_OPTS)
    except msgpack.ExtraData:
        raise CodecError("bytes after the object") from None
    except _DECODE_ERRORS as e:
        raise CodecError(f"undecodable msgpack: {e.__class__.__name__}: {e}") from None


class MsgpackDecoder:
    """Incremental decoder of back-to-back msgpack objects."""

    def __init__(self):
        self._unpacker = msgpack.Unpacker(**UNPACK_OPTS)
        self._buf = bytearray()  # bytes fed but not yet part of a returned message
        self._end = 0            # stream offset where _buf starts

    def feed(self, data):
        self._unpacker.feed(data)
        self._buf += data

    @property
    def pending(self):
        """Bytes held of a message that is not complete yet."""
        return bytes(self._buf)

    def messages(self):
        """Yield (message, raw bytes) for every complete message fed so far."""
        while True:
            try:
                obj = next(self._unpacker)
            except StopIteration:
                return
            except _DECODE_ERRORS as e:
                raise CodecError(f"undecodable msgpack: {e.__class__.__name__}: {e}") from None
            # tell() is the stream offset after the object just returned.
            end = self._unpacker.tell()
            n = end - self._end
            raw = bytes(self._buf[:n])
            del self._buf[:n]
            self._end = end
            yield obj, raw


class LenprefixDecoder:
    """Incremental decoder of `lenprefix` frames, each holding one object."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data):
        self._buf += data

    @property
    def pending(self):
        return bytes(self._buf)

    def messages(self):
        while len(self._buf) >= HEADER.size:
            (n,) = HEADER.unpack_from(self._buf)
            if len(self._buf) < HEADER.size + n:
                return
            raw = bytes(self._buf[:HEADER.size + n])
            del self._buf[:HEADER.size + n]
            try:
                obj = unpack_one(raw[HEADER.size:])
            except CodecError as e:
                raise CodecError(f"bad frame of {n} bytes: {e}") from None
            yield obj, raw


class Codec:
    """One codec: how a message or a raw body becomes bytes, and a decoder."""

    def __init__(self, name, decoder_cls, prefixed):
        self.name = name
        self._decoder_cls = decoder_cls
        self.prefixed = prefixed

    def frame(self, body):
        """Put raw msgpack bytes on the wire as one message of this codec."""
        body = bytes(body)
        return HEADER.pack(len(body)) + body if self.prefixed else body

    def encode(self, obj):
        return self.frame(pack(obj))

    def decoder(self):
        return self._decoder_cls()

    def __repr__(self):
        return f"<codec {self.name}>"


MSGPACK = Codec("msgpack", MsgpackDecoder, prefixed=False)
LENPREFIX = Codec("lenprefix", LenprefixDecoder, prefixed=True)
CODECS = {c.name: c for c in (MSGPACK, LENPREFIX)}


def get_codec(name):
    try:
        return CODECS[name]
    except KeyError:
        raise ValueError(f"unknown codec {name!r} (known: {', '.join(CODECS)})") from None
