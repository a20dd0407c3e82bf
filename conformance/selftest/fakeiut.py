#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""A tiny stand-in IUT for the self-tests: enough of the protocol to pass the probe.

It handshakes, answers `scwire_service.echo` and `raise_error`, refuses every
other function with AttributeError, and ends a channel on nil.  Flags make it
misbehave in the ways the suite must cope with: print no address, exit at
once, ignore SIGTERM, leave a child process behind, send a bad uid, send
bytes that are not the codec's in place of its uid, send nothing, answer no
command, expose no scwire_service.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scwire_conform.codec import get_codec  # noqa: E402


def serve(sock, codec, args):
    dec = codec.decoder()
    uid = ["fakeiut", "5f1c1d7e-3c57-4c8e-9f7b-0d6b1c2f9a10"]
    if args.silent:
        return sock.recv(1)
    if args.misframed:
        sock.sendall(b"\xc1\xc1\xc1\xc1\xc1")
    else:
        sock.sendall(codec.encode(42 if args.bad_uid else uid))
    got_uid = False
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        dec.feed(data)
        for msg, _ in dec.messages():
            if not got_uid:
                got_uid = True
                continue
            if msg is None:
                sock.sendall(codec.encode(None))
                sock.close()
                return
            ns, func, kwargs, _uid, cid = msg["cmd"]
            if args.mute:
                continue
            if args.no_service:
                ns = "os"
            if ns == "os":
                out = [{"error": {"tb_str": "ModuleNotExposed: no\n",
                                  "type_str": "ModuleNotExposed"}, "cid": cid}]
            elif ns == "scwire_service" and func == "echo":
                out = [{"functype": "asyncfunc", "cid": cid},
                       {"return": kwargs["value"], "cid": cid}]
            elif ns == "scwire_service" and func == "raise_error":
                err = {"tb_str": f"{kwargs['type_str']}: {kwargs['text']}\n",
                       "type_str": kwargs["type_str"]}
                out = [{"functype": "asyncfunc", "cid": cid}, {"error": err, "cid": cid}]
            else:
                out = [{"error": {"tb_str": "AttributeError: no\n", "type_str": "AttributeError"},
                        "cid": cid}]
            sock.sendall(b"".join(codec.encode(m) for m in out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--codec", default="msgpack")
    ap.add_argument("--no-line", action="store_true")
    ap.add_argument("--exit-at-once", type=int)
    ap.add_argument("--ignore-term", action="store_true")
    ap.add_argument("--leave-child", action="store_true")
    ap.add_argument("--bad-uid", action="store_true")
    ap.add_argument("--misframed", action="store_true")
    ap.add_argument("--silent", action="store_true")
    ap.add_argument("--mute", action="store_true")
    ap.add_argument("--no-service", action="store_true")
    args, _ = ap.parse_known_args()
    if args.exit_at_once is not None:
        sys.exit(args.exit_at_once)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.leave_child:
        subprocess.Popen(["sleep", "30"], stdout=subprocess.DEVNULL)
    host, port = args.listen.rsplit(":", 1)
    lsock = socket.create_server((host, int(port)))
    print("fakeiut starting", file=sys.stderr, flush=True)
    if not args.no_line:
        print(f"{host}:{lsock.getsockname()[1]}", flush=True)
    codec = get_codec(args.codec)
    while True:
        s, _ = lsock.accept()
        threading.Thread(target=serve, args=(s, codec, args), daemon=True).start()


if __name__ == "__main__":
    main()
