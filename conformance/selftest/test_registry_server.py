# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the suite's own registry server (used for REG-11 and REG-12)."""
from scwire_conform.codec import MSGPACK
from scwire_conform.registry import REGISTRY_UID, RegistryServer
from scwire_conform.wire import Conn
from scwire_conform.wirelog import WireLog


def test_answers_registration_records_it_and_sees_the_close():
    log = WireLog()
    server = RegistryServer(MSGPACK, log, timeout=2.0)
    try:
        actor = Conn.connect("127.0.0.1", server.port, MSGPACK, timeout=2.0, log=WireLog())
        assert actor.handshake("actor", "u") == REGISTRY_UID
        r = actor.call("self", "register_actor", uid=["actor", "u"], sockaddr=["h", 1])
        assert r.functype == "asyncfunc" and r.kind == "return" and r.value is None
        conn, msg = server.wait_command("register_actor", 2.0)
        assert msg["cmd"][2] == {"uid": ("actor", "u"), "sockaddr": ("h", 1)}
        assert server.peer_uids[conn.name] == ("actor", "u")
        assert server.wait_command("unregister_actor", 0.1) == (None, None)
        actor.send(None)
        actor.close()
        assert server.wait_closed(conn, 2.0) == "eof"
        assert conn.name in server.nils
        # On a connection the IUT opened, the IUT's messages are c2s.
        dirs = {e["dir"] for e in log.entries if "msg" in e and e["msg"] == ["actor", "u"]}
        assert dirs == {"c2s"}
    finally:
        server.stop()


def test_silent_registry_records_but_does_not_answer():
    server = RegistryServer(MSGPACK, WireLog(), answer=False, timeout=2.0)
    try:
        actor = Conn.connect("127.0.0.1", server.port, MSGPACK, timeout=2.0, log=WireLog())
        actor.handshake()
        cid = actor.command("self", "unregister_actor", {"uid": ["a", "u"]})
        conn, msg = server.wait_command("unregister_actor", 2.0)
        assert msg["cmd"][4] == cid
        assert actor.closed_within(0.2) is None and actor.drained == []
        actor.close()
    finally:
        server.stop()
