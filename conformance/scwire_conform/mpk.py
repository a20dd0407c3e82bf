# SPDX-License-Identifier: AGPL-3.0-or-later
"""Hand-made msgpack bytes, and a walker over msgpack headers.

msgpack-python always picks the shortest form of a value.  FRAME-7 asks
decoders to accept every form (a small int in 64 bits, a short str in a str32,
a float32), and hostile-input cases need bytes no encoder would write, so
this module builds them piece by piece.  `scan` goes the other way: it lists
the format of each value in received bytes, for checks the decoded Python
value cannot show (a float sent as float32 decodes to the same float).
"""
import struct

from .codec import pack

NIL, FALSE, TRUE = b"\xc0", b"\xc2", b"\xc3"

_UINT = {8: (0xcc, ">B"), 16: (0xcd, ">H"), 32: (0xce, ">I"), 64: (0xcf, ">Q")}
_SINT = {8: (0xd0, ">b"), 16: (0xd1, ">h"), 32: (0xd2, ">i"), 64: (0xd3, ">q")}
_LEN = {8: ">B", 16: ">H", 32: ">I"}
_STR = {8: 0xd9, 16: 0xda, 32: 0xdb}
_BIN = {8: 0xc4, 16: 0xc5, 32: 0xc6}
_ARRAY = {16: 0xdc, 32: 0xdd}
_MAP = {16: 0xde, 32: 0xdf}
_EXT = {8: 0xc7, 16: 0xc8, 32: 0xc9}
_FIXEXT = {1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}


def obj(value):
    """The shortest encoding of a Python value (msgpack-python's choice)."""
    return pack(value)


def uint(v, width):
    code, fmt = _UINT[width]
    return bytes([code]) + struct.pack(fmt, v)


def sint(v, width):
    code, fmt = _SINT[width]
    return bytes([code]) + struct.pack(fmt, v)


def f32(x):
    return b"\xca" + struct.pack(">f", x)


def f64(x):
    return b"\xcb" + struct.pack(">d", x)


def str_(s, width=None, *, raw=False):
    """A str in the given length form (None: fixstr); raw=True takes bytes as-is."""
    data = s if raw else s.encode("utf-8")
    if width is None:
        if len(data) > 31:
            raise ValueError("fixstr holds at most 31 bytes")
        return bytes([0xa0 | len(data)]) + data
    return bytes([_STR[width]]) + struct.pack(_LEN[width], len(data)) + data


def bin_(b, width):
    return bytes([_BIN[width]]) + struct.pack(_LEN[width], len(b)) + bytes(b)


def array(items, width=None, *, count=None):
    """An array of already encoded items; count overrides the declared length."""
    n = len(items) if count is None else count
    if width is None:
        head = bytes([0x90 | n])
    else:
        head = bytes([_ARRAY[width]]) + struct.pack(_LEN[width], n)
    return head + b"".join(items)


def map_(pairs, width=None, *, count=None):
    """A map of already encoded (key, value) pairs; count overrides the declared size."""
    n = len(pairs) if count is None else count
    if width is None:
        head = bytes([0x80 | n])
    else:
        head = bytes([_MAP[width]]) + struct.pack(_LEN[width], n)
    return head + b"".join(k + v for k, v in pairs)


def ext(code, data, width=None):
    """An ext value; width None picks fixext when the size allows."""
    if width is None and len(data) in _FIXEXT:
        return bytes([_FIXEXT[len(data)]]) + struct.pack(">b", code) + data
    width = width or 8
    head = bytes([_EXT[width]]) + struct.pack(_LEN[width], len(data))
    return head + struct.pack(">b", code) + data


def command(ns, func, kwargs_raw, uid, cid):
    """A `cmd` message whose kwargs map is given as raw bytes."""
    return map_([(obj("cmd"), array([obj(ns), obj(func), kwargs_raw, obj(list(uid)), obj(cid)]))])


# --- scanning -------------------------------------------------------------

class ScanError(ValueError):
    pass


def _fixed(b):
    """(family, extra header bytes, payload kind) for a format byte."""
    if b <= 0x7f or b >= 0xe0:
        return "int", 0, None
    if 0x80 <= b <= 0x8f:
        return "map", 0, ("n", b & 0x0f)
    if 0x90 <= b <= 0x9f:
        return "array", 0, ("n", b & 0x0f)
    if 0xa0 <= b <= 0xbf:
        return "str", 0, ("bytes", b & 0x1f)
    table = {
        0xc0: ("nil", 0, None), 0xc2: ("bool", 0, None), 0xc3: ("bool", 0, None),
        0xc4: ("bin", 1, "len"), 0xc5: ("bin", 2, "len"), 0xc6: ("bin", 4, "len"),
        0xc7: ("ext", 1, "extlen"), 0xc8: ("ext", 2, "extlen"), 0xc9: ("ext", 4, "extlen"),
        0xca: ("float32", 4, None), 0xcb: ("float64", 8, None),
        0xcc: ("int", 1, None), 0xcd: ("int", 2, None), 0xce: ("int", 4, None),
        0xcf: ("int", 8, None), 0xd0: ("int", 1, None), 0xd1: ("int", 2, None),
        0xd2: ("int", 4, None), 0xd3: ("int", 8, None),
        0xd4: ("ext", 2, None), 0xd5: ("ext", 3, None), 0xd6: ("ext", 5, None),
        0xd7: ("ext", 9, None), 0xd8: ("ext", 17, None),
        0xd9: ("str", 1, "len"), 0xda: ("str", 2, "len"), 0xdb: ("str", 4, "len"),
        0xdc: ("array", 2, "count"), 0xdd: ("array", 4, "count"),
        0xde: ("map", 2, "count"), 0xdf: ("map", 4, "count"),
    }
    if b not in table:
        raise ScanError(f"format byte 0x{b:02x} is never valid")
    return table[b]


def scan(raw):
    """List (family, format byte) of every value of the first object in raw, in pre-order.

    Families: nil, bool, int, float32, float64, str, bin, array, map, ext.
    Raises ScanError on bytes that are not one complete object.
    """
    out, pos, left = [], 0, 1
    while left:
        if pos >= len(raw):
            raise ScanError("object incomplete")
        b = raw[pos]
        family, extra, kind = _fixed(b)
        pos += 1
        if pos + extra > len(raw):
            raise ScanError("header incomplete")
        field = int.from_bytes(raw[pos:pos + extra], "big") if extra else 0
        left -= 1
        if isinstance(kind, tuple):
            what, n = kind
            if what == "n":
                left += n * (2 if family == "map" else 1)
            else:
                pos += n
        elif kind == "count":
            pos += extra
            left += field * (2 if family == "map" else 1)
        elif kind == "len":
            pos += extra + field
        elif kind == "extlen":
            pos += extra + 1 + field
        else:
            pos += extra
        if pos > len(raw):
            raise ScanError("payload incomplete")
        out.append((family, b))
    return out
