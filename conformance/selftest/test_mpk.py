# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the hand-made msgpack forms and the header scanner."""
import msgpack
import pytest

from scwire_conform import mpk


def unpack(b):
    return msgpack.unpackb(b, raw=False, use_list=False, strict_map_key=False)


@pytest.mark.parametrize("raw,value,first", [
    (mpk.uint(5, 8), 5, 0xcc), (mpk.uint(5, 64), 5, 0xcf), (mpk.sint(-5, 16), -5, 0xd1),
    (mpk.sint(-2 ** 63, 64), -2 ** 63, 0xd3), (mpk.f32(1.5), 1.5, 0xca), (mpk.f64(1.5), 1.5, 0xcb),
    (mpk.str_("abc"), "abc", 0xa3), (mpk.str_("abc", 8), "abc", 0xd9),
    (mpk.str_("abc", 16), "abc", 0xda), (mpk.str_("abc", 32), "abc", 0xdb),
    (mpk.bin_(b"ab", 8), b"ab", 0xc4), (mpk.bin_(b"ab", 32), b"ab", 0xc6),
    (mpk.array([mpk.obj(1)], 16), (1,), 0xdc), (mpk.array([mpk.obj(1)], 32), (1,), 0xdd),
    (mpk.map_([(mpk.obj("k"), mpk.NIL)], 16), {"k": None}, 0xde),
    (mpk.map_([(mpk.obj("k"), mpk.TRUE)], 32), {"k": True}, 0xdf),
    (mpk.ext(5, b"\x01\x02\x03\x04"), msgpack.ExtType(5, b"\x01\x02\x03\x04"), 0xd6),
    (mpk.ext(5, b"abc"), msgpack.ExtType(5, b"abc"), 0xc7),
])
def test_forms_decode_to_their_value(raw, value, first):
    assert raw[0] == first
    assert unpack(raw) == value


def test_command_with_raw_kwargs():
    raw = mpk.command("scwire_service", "echo", mpk.map_([(mpk.obj("value"), mpk.f32(0.5))]),
                      ("n", "u"), "c1")
    assert unpack(raw) == {"cmd": ("scwire_service", "echo", {"value": 0.5}, ("n", "u"), "c1")}


def test_scan_lists_formats_in_preorder():
    raw = msgpack.packb({"a": [1.5, "x", b"y", None, True]}, use_bin_type=True)
    fams = [f for f, _ in mpk.scan(raw)]
    assert fams == ["map", "str", "array", "float64", "str", "bin", "nil", "bool"]
    assert [f for f, _ in mpk.scan(mpk.array([mpk.f32(1.0), mpk.ext(1, b"ab")]))] == \
        ["array", "float32", "ext"]


@pytest.mark.parametrize("raw", [b"\xc1", b"\x92\x01", b"\xdb\x00\x00\x00\x05ab",
                                 b"\xdd\xff\xff\xff\xff\xc0"])
def test_scan_refuses_bad_or_incomplete_bytes(raw):
    with pytest.raises(mpk.ScanError):
        mpk.scan(raw)
