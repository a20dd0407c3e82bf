# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the codecs: round trips, every split of a stream, codec errors."""
import msgpack
import pytest

from scwire_conform.codec import HEADER, LENPREFIX, MSGPACK, CodecError, get_codec, unpack_one

MESSAGES = [
    ["client", "0f0e"],
    {"cmd": ["self", "cancel", {}, ["root", "u1"], "c1"]},
    None,
    {"return": {(1, 2): b"\x00", "s": [1.5, -3, 2 ** 64 - 1]}, "cid": "c1"},
    {"yield": "häß", "cid": "c1"},
]


def decode_all(codec, chunks):
    dec = codec.decoder()
    out = []
    for chunk in chunks:
        dec.feed(chunk)
        out.extend(dec.messages())
    return out, dec.pending


@pytest.mark.parametrize("codec", [MSGPACK, LENPREFIX], ids=lambda c: c.name)
def test_every_split_of_a_stream_gives_the_same_messages(codec):
    encoded = [codec.encode(m) for m in MESSAGES]
    stream = b"".join(encoded)
    expected = [(msgpack.unpackb(msgpack.packb(m, use_bin_type=True), raw=False,
                                 use_list=False, strict_map_key=False), raw)
                for m, raw in zip(MESSAGES, encoded)]
    for cut in range(len(stream) + 1):
        got, pending = decode_all(codec, [stream[:cut], stream[cut:]])
        assert got == expected, cut
        assert pending == b""
    # ... and one byte at a time, and two cuts at once.
    got, _ = decode_all(codec, [bytes([b]) for b in stream])
    assert got == expected
    for a in range(0, len(stream), 7):
        for b in range(a, len(stream), 11):
            got, _ = decode_all(codec, [stream[:a], stream[a:b], stream[b:]])
            assert got == expected, (a, b)


def test_msgpack_codec_is_bare_objects_and_lenprefix_adds_a_header():
    nil = None
    assert MSGPACK.encode(nil) == b"\xc0"
    assert LENPREFIX.encode(nil) == b"\x01\x00\x00\x00\xc0"
    assert LENPREFIX.frame(b"\xc1") == b"\x01\x00\x00\x00\xc1"
    # The byte example of protocol.md section 3.
    msg = {"cmd": ["self", "cancel", {}, ["root", "u1"], "c1"]}
    assert MSGPACK.encode(msg).hex() == ("81a3636d6495a473656c66a663616e63656c8092a4726f6f74"
                                         "a27531a26331")
    assert LENPREFIX.encode(msg)[:4] == bytes.fromhex("1f000000")


def test_str_and_bin_are_kept_apart():
    got, _ = decode_all(MSGPACK, [MSGPACK.encode(["s", b"s"])])
    assert got[0][0] == ("s", b"s")
    assert MSGPACK.encode(b"s")[0] == 0xc4


def test_partial_message_is_pending():
    data = MSGPACK.encode({"yield": 1, "cid": "c1"})
    got, pending = decode_all(MSGPACK, [data[:-2]])
    assert got == [] and pending == data[:-2]
    got, pending = decode_all(LENPREFIX, [LENPREFIX.encode(1)[:3]])
    assert got == [] and pending == b"\x01\x00\x00"


@pytest.mark.parametrize("data", [b"\xc1", b"\xa2\xc3\x28"], ids=["c1", "bad-utf8"])
def test_msgpack_decoder_reports_bad_bytes(data):
    dec = MSGPACK.decoder()
    dec.feed(b"\xc0" + data)
    it = dec.messages()
    assert next(it) == (None, b"\xc0")
    with pytest.raises(CodecError):
        next(it)


@pytest.mark.parametrize("body", [b"\xc0\xc0", b"", b"\x92\xc0"],
                         ids=["trailing", "empty", "incomplete"])
def test_lenprefix_frame_must_hold_exactly_one_object(body):
    dec = LENPREFIX.decoder()
    dec.feed(HEADER.pack(len(body)) + body)
    with pytest.raises(CodecError):
        list(dec.messages())


def test_unpack_one_and_get_codec():
    assert unpack_one(b"\x92\x01\x02") == (1, 2)
    with pytest.raises(CodecError):
        unpack_one(b"\x01\x02")
    assert get_codec("lenprefix") is LENPREFIX
    with pytest.raises(ValueError):
        get_codec("json")
