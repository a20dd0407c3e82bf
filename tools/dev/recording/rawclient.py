# SPDX-License-Identifier: AGPL-3.0-or-later
"""A client without tractor: a socket and msgpack, for what tractor never sends.

    rawclient.py SCENARIO HOST PORT

It reads the daemon's uid, answers with `["rawclient", "<uuid4>"]` (or not
a uid at all) and sends the scenario's messages; each step prints a `RAW:`
line with what came back: messages, 'TIMEOUT' when nothing came within
QUIET seconds, 'EOF' when the daemon closed.
"""
import argparse
import socket
import time
import uuid

import msgpack

CONNECT_TIMEOUT = 5
# How long a step waits for replies once the last one came: the daemon
# answers within milliseconds on loopback.
QUIET = 0.5
UID = ["rawclient", str(uuid.uuid4())]
NIL = msgpack.packb(None)

SCENARIOS = {}


def scenario(name, uid=UID, registry=SCENARIOS):
    """Register a scenario in `registry`; `uid` is what the client answers the
    daemon's uid with."""
    def register(fn):
        registry[name] = (fn, uid)
        return fn
    return register


def say(text):
    print(f"RAW: {text}", flush=True)


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


class Conn:
    """One connection to the daemon and an incremental decoder of its replies."""

    def __init__(self, sock):
        self.sock = sock
        self.unpacker = msgpack.Unpacker(raw=False, use_list=False, strict_map_key=False)
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def replies(self, until=None, quiet=QUIET):
        """What arrives until `until(msg)` is true, EOF, or `quiet` s of silence."""
        got = []
        self.sock.settimeout(quiet)
        while True:
            for msg in self.unpacker:
                got.append(msg)
                if until and until(msg):
                    return got
            if self.eof:
                return got + ['EOF']
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return got + ['TIMEOUT']
            self.eof = not data
            self.unpacker.feed(data)

    def during(self, seconds):
        """Everything that arrives within `seconds` (up to EOF): for steps whose
        point is what comes unasked, where a silence ends nothing."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            more = self.replies(quiet=left)
            got += [m for m in more if m != 'TIMEOUT']
            if more[-1:] == ['EOF']:
                break
        return got

    def handshake(self, uid):
        got = self.replies(until=lambda msg: True, quiet=CONNECT_TIMEOUT)
        if got in (['TIMEOUT'], ['EOF']):
            raise SystemExit(f"RAW: no uid from the daemon: {got[0]}")
        say(f"peer uid: {got[0]}")
        self.send(pack(uid))

    def call(self, ns, func, kwargs):
        """A `cmd`, and its replies up to the `return` or `error` for its cid."""
        cid = str(uuid.uuid4())
        self.send(pack({'cmd': [ns, func, kwargs, UID, cid]}))
        return self.replies(until=lambda msg: isinstance(msg, dict) and msg.get('cid') == cid
                            and ('return' in msg or 'error' in msg))

    def close(self):
        self.sock.close()


def connect(host, port):
    return Conn(socket.create_connection((host, port), timeout=CONNECT_TIMEOUT))


def converse(host, port, uid, fn):
    """Connect, handshake with `uid`, run the scenario `fn(conn)`, close."""
    conn = connect(host, port)
    try:
        conn.handshake(uid)
        fn(conn)
    finally:
        conn.close()
    say("done")


def send_and_report(conn, label, data):
    """Send bytes; report what comes back until EOF or a silence."""
    conn.send(data)
    say(f"after {label} -> {conn.replies()}")


@scenario('unknown_cid')
def unknown_cid(conn):
    for msg in ({'yield': 1, 'cid': 'no-such-cid'},
                {'return': 'x', 'cid': 'no-such-cid-2'},
                {'stop': True, 'cid': 'no-such-cid-3'},
                {'error': {'tb_str': 'fake', 'type_str': 'ValueError'}, 'cid': 'no-such-cid-4'}):
        conn.send(pack(msg))
        say(f"sent {msg} -> got {conn.replies()}")
    say(f"call svc.echo -> {conn.call('svc', 'echo', {'value': 'still-alive'})}")
    send_and_report(conn, "nil sentinel", NIL)


@scenario('no_cmd_no_cid')
def no_cmd_no_cid(conn):
    send_and_report(conn, "{foo:1}", pack({'foo': 1}))


@scenario('non_map')
def non_map(conn):
    send_and_report(conn, "42", pack(42))


@scenario('garbage')
def garbage(conn):
    # 0xc1 is the one byte msgpack never uses.
    send_and_report(conn, "0xc1", b'\xc1')


@scenario('cmd_errors')
def cmd_errors(conn):
    say(f"call os.getcwd -> {conn.call('os', 'getcwd', {})}")
    say(f"call svc.no_such_func -> {conn.call('svc', 'no_such_func', {})}")
    say(f"call svc.echo -> {conn.call('svc', 'echo', {'value': 'still-alive'})}")
    send_and_report(conn, "nil", NIL)


@scenario('bad_uid', uid=42)
def bad_uid(conn):
    say(f"after uid=42 -> {conn.replies()}")


@scenario('cmd_self_unknown')
def cmd_self_unknown(conn):
    cid = str(uuid.uuid4())
    send_and_report(conn, "self.no_such_method",
                    pack({'cmd': ['self', 'no_such_method', {}, UID, cid]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    args = ap.parse_args()
    fn, uid = SCENARIOS[args.scenario]
    converse(args.host, args.port, uid, fn)


if __name__ == '__main__':
    main()
