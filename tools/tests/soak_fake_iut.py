#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""A small IUT for the tests of scwire-soak: ctx_echo and ctx_stream_out
as spec/test-service.md describes them, with one fault injected on demand,
so that the tests can show that the driver sees each kind of fault.

  --drop-echo K    the echo of value K is not sent
  --swap-echo K    the echoes of K and K+1 are sent in the other order
  --dup-echo K     the echo of K is sent twice
  --drop-out K     ctx_stream_out skips yield K
  --ignore-stop    the caller's stop on ctx_echo is never answered
  --after-nil      one more message after the nil that ends a channel
  --close-at K     the connection that receives echo value K is closed
  --silent-echo    the echo calls of the bystander get their functype, never a return

Each fault happens once, on the first context that gets that far.  Prints
host:port on its first line; serves until SIGTERM or SIGINT.
"""
import argparse
import asyncio
import signal
import struct
import sys
import uuid

import msgpack

UID = ["soak-fake", str(uuid.uuid4())]


class Framing:
    def __init__(self, codec):
        self.codec = codec
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.pending = b""

    def encode(self, obj):
        body = msgpack.packb(obj, use_bin_type=True)
        return struct.pack("<I", len(body)) + body if self.codec == "lenprefix" else body

    def feed(self, data):
        if self.codec == "msgpack":
            self.unpacker.feed(data)
            return list(self.unpacker)
        self.pending += data
        out = []
        while len(self.pending) >= 4:
            (n,) = struct.unpack("<I", self.pending[:4])
            if len(self.pending) < 4 + n:
                break
            out.append(msgpack.unpackb(self.pending[4:4 + n], raw=False, strict_map_key=False))
            self.pending = self.pending[4 + n:]
        return out


class Faults:
    def __init__(self, a):
        self.a = a
        self.done = set()

    def once(self, name, value):
        """True the first time `name` is asked for its configured value."""
        if getattr(self.a, name) != value or name in self.done:
            return False
        self.done.add(name)
        return True


async def serve_conn(reader, writer, codec, faults):
    fr = Framing(codec)
    send = lambda obj: writer.write(fr.encode(obj))  # noqa: E731
    send(UID)
    handshaken = False
    echoes = {}   # cid -> [count, held message or None]
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), 60)
            if not data:
                break
            for msg in fr.feed(data):
                if not handshaken:
                    handshaken = True
                    continue
                if msg is None:
                    send(None)
                    if faults.a.after_nil:
                        send({"yield": 0, "cid": "after-nil"})
                    await writer.drain()
                    return
                if isinstance(msg, dict) and faults.once("close_at", msg.get("yield")):
                    return
                handle(msg, send, echoes, faults)
            await writer.drain()
    except (asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def handle(msg, send, echoes, faults):
    if "cmd" in msg:
        ns, func, kwargs, _uid, cid = msg["cmd"]
        if func == "echo":
            send({"functype": "asyncfunc", "cid": cid})
            if not faults.a.silent_echo:
                send({"return": kwargs["value"], "cid": cid})
            return
        send({"functype": "context", "cid": cid})
        if func == "ctx_echo":
            send({"started": kwargs["first"], "cid": cid})
            echoes[cid] = [0, None]
        elif func == "ctx_stream_out":
            send({"started": None, "cid": cid})
            for i in range(kwargs["n"]):
                if not faults.once("drop_out", i):
                    send({"yield": i, "cid": cid})
            send({"stop": True, "cid": cid})
            send({"return": kwargs["n"], "cid": cid})
        return
    cid = msg.get("cid")
    state = echoes.get(cid)
    if state is None:
        return
    if "yield" in msg:
        echo_one(msg["yield"], cid, state, send, faults)
    elif "stop" in msg and not faults.a.ignore_stop:
        send({"stop": True, "cid": cid})
        send({"return": state[0], "cid": cid})


def echo_one(v, cid, state, send, faults):
    state[0] += 1
    if faults.once("drop_echo", v):
        return
    if faults.once("swap_echo", v):
        state[1] = {"yield": v, "cid": cid}
        return
    send({"yield": v, "cid": cid})
    if faults.once("dup_echo", v):
        send({"yield": v, "cid": cid})
    if state[1] is not None:
        send(state[1])
        state[1] = None


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--codec", choices=("msgpack", "lenprefix"), default="msgpack")
    for name in ("--drop-echo", "--swap-echo", "--dup-echo", "--drop-out", "--close-at"):
        p.add_argument(name, type=int, default=-1)
    p.add_argument("--ignore-stop", action="store_true")
    p.add_argument("--silent-echo", action="store_true")
    p.add_argument("--after-nil", action="store_true")
    a = p.parse_args()
    faults = Faults(a)
    server = await asyncio.start_server(lambda r, w: serve_conn(r, w, a.codec, faults), "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"{host}:{port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
