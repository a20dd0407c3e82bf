#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""A deliberately broken IUT, for the tests of scwire-netfuzz.

    netfuzz_fakeiut.py --listen HOST:PORT --mode exit-on-non-map|stall-after-truncated|leak

It prints its address on the first stdout line, sends its uid on every
connection, takes the first message as the peer's uid and answers
`scwire_service.echo` (msgpack codec only).  Each mode plants one defect:

- exit-on-non-map: a message after the handshake that is not a map ends the process;
- stall-after-truncated: a connection that ends inside a message makes it stop
  answering anything, on every connection, for good;
- leak: every message received keeps 512 KiB of memory.
"""
import argparse
import os
import socket
import sys
import threading
import uuid

import msgpack

LEAK = []
HELD = []
STALLED = threading.Event()


def reply(sock, value):
    sock.sendall(msgpack.packb(value, use_bin_type=True))


def handle(sock, mode):
    unpacker = msgpack.Unpacker(raw=False, use_list=True, strict_map_key=False)
    reply(sock, ["fake", str(uuid.uuid4())])
    first = True
    fed = 0
    while not STALLED.is_set():
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            if mode == "stall-after-truncated" and unpacker.tell() < fed:
                STALLED.set()
            return
        unpacker.feed(data)
        fed += len(data)
        try:
            for m in unpacker:
                if mode == "leak":
                    LEAK.append(b"x" * (512 * 1024))
                if first:
                    first = False
                    continue
                if not isinstance(m, dict):
                    if mode == "exit-on-non-map":
                        os._exit(3)
                    continue
                cmd = m.get("cmd")
                if isinstance(cmd, list) and cmd[:2] == ["scwire_service", "echo"]:
                    reply(sock, {"functype": "asyncfunc", "cid": cmd[4]})
                    reply(sock, {"return": cmd[2].get("value"), "cid": cmd[4]})
        except (ValueError, TypeError, msgpack.FormatError, msgpack.StackError,
                AttributeError, IndexError, OSError):
            return


def serve(conn, mode):
    with conn:
        conn.settimeout(30)
        handle(conn, mode)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--mode", required=True,
                    choices=("exit-on-non-map", "stall-after-truncated", "leak"))
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    srv = socket.create_server((host, int(port)))
    print("%s:%d" % srv.getsockname()[:2], flush=True)
    while True:
        conn, _ = srv.accept()
        if STALLED.is_set():
            HELD.append(conn)     # accepted, kept open, never answered: the defect
            continue
        threading.Thread(target=serve, args=(conn, args.mode), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
