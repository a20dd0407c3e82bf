# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of message kinds, wire-value equality and patterns."""
import msgpack
import pytest

from scwire_conform import msgs


@pytest.mark.parametrize("a,b,equal", [
    (1, 1, True), (1, 1.0, False), (True, 1, False), ("a", b"a", False), (b"a", b"a", True),
    ([1, 2], (1, 2), True), ((1,), (1, 2), False), (float("nan"), float("nan"), True),
    ({(1, 2): "x"}, {(1, 2): "x"}, True), ({1: "x"}, {True: "x"}, False),
    ({"a": [1, {"b": b""}]}, {"a": (1, {"b": b""})}, True), (None, None, True), (None, 0, False),
    (msgpack.ExtType(5, b"a"), msgpack.ExtType(5, b"a"), True),
    (msgpack.ExtType(5, b"a"), [5, b"a"], False), ((5, b"a"), msgpack.ExtType(5, b"a"), False),
])
def test_same_keeps_msgpack_types_apart(a, b, equal):
    assert msgs.same(a, b) is equal


def test_kind():
    assert msgs.kind(None) == "nil"
    assert msgs.kind({"cmd": []}) == "cmd"
    assert msgs.kind({"yield": 1, "cid": "c"}) == "yield"
    assert msgs.kind({"yield": 1, "stop": True, "cid": "c"}) is None
    assert msgs.kind(42) is None


def test_patterns_are_strict_and_describe_themselves():
    p = msgs.functype("c1", "asyncfunc")
    assert p({"functype": "asyncfunc", "cid": "c1"})
    assert not p({"functype": "asyncfunc", "cid": "c2"})
    assert not p({"functype": "asyncfunc", "return": 1, "cid": "c1"})
    assert "functype" in str(p) and "c1" in str(p)
    err = msgs.error("c1", "ValueError", text_in_tb="boom")
    assert err({"error": {"tb_str": "x\nValueError: boom", "type_str": "ValueError"}, "cid": "c1"})
    assert not err({"error": {"type_str": "ValueError"}, "cid": "c1"})
    assert not msgs.error("c1")({"error": {"tb_str": "", "type_str": "a.B"}, "cid": "c1"})
    either = msgs.ret("c1", [1]) | msgs.stop("c1")
    assert either({"return": (1,), "cid": "c1"}) and either({"stop": True, "cid": "c1"})
    assert not msgs.stop("c1")({"stop": 1, "cid": "c1"})
    assert msgs.nil()(None) and not msgs.nil()(0)


def test_reply_and_error_problems():
    assert msgs.reply_problems({"return": 1, "cid": "c"}, "c") == []
    assert msgs.reply_problems({"functype": "sync", "cid": "c"}, "c")
    assert msgs.error_problems({"tb_str": 1, "type_str": ""}) == [
        "tb_str missing or not a str", "type_str missing, empty or not a str"]


def test_uid_and_uuid_shapes():
    assert msgs.is_uid(("a", "b")) and not msgs.is_uid(["a", "b", "c"]) and not msgs.is_uid("ab")
    assert msgs.UUID4_RE.match(msgs.new_cid())
