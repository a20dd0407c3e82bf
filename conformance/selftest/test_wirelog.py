# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the wire log: trace format, JSON views, clipping, flood sends."""
import json

import msgpack

from fakepeer import Peer
from scwire_conform.codec import MSGPACK
from scwire_conform.wire import Conn
from scwire_conform.wirelog import MAX_HEX_BYTES, WireLog, json_view, short


def test_json_view_follows_the_trace_format():
    assert json_view({"a": (1, b"\x00")}) == {"a": [1, {"$bin": "00"}]}
    assert json_view({(1, 2): None}) == {"$map": [[[1, 2], None]]}
    assert json_view(msgpack.ExtType(5, b"ab")) == {"$ext": [5, "6162"]}
    assert json_view(float("inf")) == {"$float": "inf"}
    assert json_view("x" * 10, clip=4) == "xxxx...(10 chars)"
    assert json_view(b"x" * 10, clip=4) == {"$bin": "78787878", "$size": 10}
    assert short({"k": "v" * 500}, limit=20).endswith("chars)")


def test_entries_and_dump(tmp_path):
    ticks = iter([0.0, 0.5, 0.75, 1.0])
    log = WireLog(clock=lambda: next(ticks))
    name = log.new_conn()
    log.event(name, "open")
    log.message(name, "c2s", b"\xc0", None)
    big = b"\x00" * (MAX_HEX_BYTES + 10)
    log.raw(name, "s2c", big, note="big")
    assert log.entries[0] == {"t": 0.5, "conn": "c1", "event": "open"}
    assert log.entries[1] == {"t": 0.75, "conn": "c1", "dir": "c2s", "hex": "c0", "msg": None}
    e = log.entries[2]
    assert e["clipped"] and e["size"] == len(big) and len(e["hex"]) == 2 * MAX_HEX_BYTES
    log.dump(tmp_path / "w.jsonl")
    lines = (tmp_path / "w.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == log.entries
    assert log.new_conn() == "c2"


def test_send_while_accepted_stops_when_the_peer_stops_reading():
    import threading
    done = threading.Event()
    peer = Peer(lambda p, s: done.wait(10))     # accepts, never reads
    c = Conn.connect("127.0.0.1", peer.port, MSGPACK, timeout=2.0, log=WireLog())
    data = b"\x00" * (64 * 2 ** 20)   # far more than loopback buffers hold
    sent = c.send_while_accepted(data, idle=0.3)
    assert 0 < sent < len(data)
    entry = c.log.entries[-1]
    assert entry["raw"] and entry["note"] == f"flood: {sent} of {len(data)} bytes taken"
    done.set()
    c.close()
    peer.join()
