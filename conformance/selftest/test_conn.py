# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of Conn against a scripted peer: timeouts, EOF, reset, expect, helpers."""
import threading
import time

import pytest

from fakepeer import Peer
from scwire_conform import msgs
from scwire_conform.codec import LENPREFIX, MSGPACK
from scwire_conform.verdict import Violation
from scwire_conform.wire import Closed, Conn, Timeout
from scwire_conform.wirelog import WireLog

UID = ["peer", "5f1c1d7e-3c57-4c8e-9f7b-0d6b1c2f9a10"]


def connect(peer, codec=MSGPACK, **kw):
    return Conn.connect("127.0.0.1", peer.port, codec, timeout=2.0, log=WireLog(), **kw)


def test_recv_times_out_when_nothing_comes():
    done = threading.Event()
    peer = Peer(lambda p, s: done.wait(5))
    c = connect(peer)
    t0 = time.monotonic()
    with pytest.raises(Timeout):
        c.recv(timeout=0.2)
    assert 0.15 < time.monotonic() - t0 < 1.0
    done.set()
    c.close()
    peer.join()


def test_clean_eof_is_told_from_reset():
    peer = Peer(lambda p, s: s.sendall(MSGPACK.encode(UID)))
    c = connect(peer)
    assert c.recv() == tuple(UID)
    with pytest.raises(Closed) as e:
        c.recv()
    assert e.value.how == "eof" and c.closed == "eof"
    assert c.log.entries[-1]["event"] == "eof" and c.log.entries[-1]["dir"] == "s2c"
    peer.join()

    def reset(p, s):
        p.read(s, 1)
        Peer.reset(s)
    peer = Peer(reset)
    c = connect(peer)
    c.send_raw(b"\xc0")
    with pytest.raises(Closed) as e:
        c.recv()
    assert e.value.how == "rst"
    assert c.log.entries[-1]["event"] == "rst"
    peer.join()


def test_eof_inside_a_message_is_logged_as_truncated():
    data = MSGPACK.encode({"return": "x" * 50, "cid": "c1"})
    peer = Peer(lambda p, s: s.sendall(data[:10]))
    c = connect(peer)
    assert c.closed_within(2.0) == "eof"
    assert c.log.entries[-1]["truncated_hex"] == data[:10].hex()
    peer.join()


def test_expect_names_expected_and_observed():
    peer = Peer(lambda p, s: (s.sendall(MSGPACK.encode({"return": 1, "cid": "c1"})), p.read(s, 1)))
    c = connect(peer)
    with pytest.raises(Violation) as e:
        c.expect(msgs.functype("c1", "asyncfunc"))
    assert "expected {functype \"asyncfunc\"} on cid c1" in str(e.value)
    assert 'observed {"return": 1, "cid": "c1"}' in str(e.value)
    with pytest.raises(Violation) as e:
        c.expect(msgs.ret("c1"), timeout=0.1)
    assert "observed nothing within 0.1 s" in str(e.value)
    c.close()
    peer.join()


def test_recv_for_keeps_other_cids_queued_in_order():
    out = [{"yield": 0, "cid": "a"}, {"yield": 0, "cid": "b"}, {"yield": 1, "cid": "a"},
           {"stop": True, "cid": "b"}]
    peer = Peer(lambda p, s: (s.sendall(b"".join(MSGPACK.encode(m) for m in out)), p.read(s, 1)))
    c = connect(peer)
    assert c.recv_for("b") == {"yield": 0, "cid": "b"}
    assert c.recv_for("b") == {"stop": True, "cid": "b"}
    assert c.unread("a") == [{"yield": 0, "cid": "a"}, {"yield": 1, "cid": "a"}]
    assert c.recv() == {"yield": 0, "cid": "a"}
    assert c.take_unread("a") == [{"yield": 1, "cid": "a"}] and c.unread() == []
    c.close()
    peer.join()


def test_closed_within_drains_and_times_out():
    def script(p, s):
        p.read(s, 1)
        s.sendall(MSGPACK.encode(None))
    peer = Peer(script)
    c = connect(peer)
    assert c.closed_within(0.1) is None
    c.send_raw(b"\xc1")
    assert c.closed_within(2.0) == "eof" and c.drained == [None]
    peer.join()


@pytest.mark.parametrize("codec", [MSGPACK, LENPREFIX], ids=lambda x: x.name)
def test_chopped_send_arrives_whole_and_is_logged_once(codec):
    msg = {"cmd": ["scwire_service", "echo", {"value": "x" * 40}, UID, "c1"]}
    data = codec.encode(msg)
    peer = Peer(lambda p, s: p.read(s, len(data)))
    c = connect(peer, codec, chop=3)
    c.send(msg)
    peer.join()
    assert peer.received == data
    sent = [e for e in c.log.entries if e.get("dir") == "c2s"]
    assert len(sent) == 1 and sent[0]["hex"] == data.hex()
    c.close()


def test_codec_error_from_the_peer_is_a_violation():
    peer = Peer(lambda p, s: (s.sendall(b"\xc0\xc1"), p.read(s, 1)))
    c = connect(peer)
    assert c.recv() is None
    with pytest.raises(Violation) as e:
        c.recv()
    assert "not valid msgpack" in str(e.value)
    c.close()
    peer.join()


@pytest.mark.parametrize("codec", [MSGPACK, LENPREFIX], ids=lambda x: x.name)
def test_handshake_and_call(codec):
    def script(p, s):
        dec = codec.decoder()
        s.sendall(codec.encode(UID))
        got = []
        while len(got) < 3:
            dec.feed(s.recv(4096))
            got.extend(m for m, _ in dec.messages())
        ns, func, kwargs, uid, cid = got[1]["cmd"]
        s.sendall(codec.encode({"functype": "asyncfunc", "cid": cid}) +
                  codec.encode({"return": kwargs["value"], "cid": cid}))
        cid2 = got[2]["cmd"][4]
        s.sendall(codec.encode({"error": {"tb_str": "", "type_str": "AttributeError"},
                                "cid": cid2}))
        p.read(s, 1)
    peer = Peer(script)
    c = connect(peer, codec)
    assert c.handshake() == tuple(UID)
    cid1 = c.command("scwire_service", "echo", {"value": [1, b"2"]})
    cid2 = c.command("scwire_service", "nope")
    r = c.result(cid1)
    assert r.functype == "asyncfunc" and r.kind == "return" and r.value == (1, b"2")
    assert c.last_body == MSGPACK.encode({"return": (1, b"2"), "cid": cid1})
    r = c.result(cid2)
    assert r.functype is None and r.type_str == "AttributeError"
    c.close()
    peer.join()


def test_a_write_that_finds_the_peer_gone_does_not_raise_and_what_came_before_is_read():
    # The peer answers nil to our nil and resets while our next bytes still
    # arrive one at a time: the case must still see the nil and the close.
    def answer_nil_then_reset(p, s):
        p.read(s, 1)
        s.sendall(MSGPACK.encode(None))
        time.sleep(0.05)
        Peer.reset(s)
    peer = Peer(answer_nil_then_reset)
    c = connect(peer)
    c.send_many([None, {"cmd": ["scwire_service", "echo", {"value": "x" * 200},
                                UID, "c1"]}], chop=1)
    c.send({"cmd": ["scwire_service", "echo", {}, UID, "c2"]})
    assert c.write_closed == "rst" and not c.sendable
    assert c.closed_within(1.0) in ("rst", "eof")
    assert c.drained == [None]
    events = [(e.get("event"), e.get("note")) for e in c.log.entries if "event" in e]
    assert ("rst", "seen by a write") in events
    assert any(ev == "unsent" for ev, _ in events)
    peer.join()
