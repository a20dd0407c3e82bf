#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""child.py - a tractor 0.1.0a4 child actor serving scwire_service (spec/test-service.md 5.1).

    child.py [--codec msgpack] --uid "('name', 'uuid')" --parent_addr "('host', port)"
             [--loglevel L] [--asyncio]

What `python -m tractor._child` does, with tractor's own Actor and entry point
(`tractor._entry._trio_main`, internal: tractor has no public child entry),
plus three things that module cannot do: it speaks the codec it is given
(tractor picks it by whether msgspec imports), it can import the test service
by the name `scwire_service` whatever the parent's enable_modules says, and it
keeps a copy of its init map for spawn_info (tractor applies the map and keeps
none).  The arguments are checked before tractor is imported; a bad one exits
with status 2 and says which.  The exit status is tractor's: 0 after a cancel,
1 when the runtime failed (a bad init map, spawn_crash).
"""
import argparse
import ast
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the adapter's codec and import set-up)


def uid(text):
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if not (isinstance(value, tuple) and len(value) == 2
            and all(isinstance(x, str) for x in value)):
        raise argparse.ArgumentTypeError(f"not a uid ('name', 'uuid'): {text!r}")
    return value


def parent_addr(text):
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], int) and 0 < value[1] < 65536):
        raise argparse.ArgumentTypeError(f"not an address ('host', port): {text!r}")
    return value


def parse(argv):
    ap = argparse.ArgumentParser(prog="child.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--codec", choices=["msgpack", "lenprefix"], default="msgpack")
    ap.add_argument("--uid", type=uid, required=True)
    ap.add_argument("--parent_addr", type=parent_addr, required=True)
    ap.add_argument("--loglevel", default=None)
    ap.add_argument("--asyncio", action="store_true", help="run trio as a guest of asyncio")
    return ap.parse_args(argv)


def record_first_message(chan, record):
    """The next message received on chan (the init map) goes to record too, before
    tractor takes it apart."""
    recv = chan.recv

    async def first_recv():
        del chan.recv               # later reads are Channel.recv's again
        msg = await recv()
        record(copy.deepcopy(msg))
        return msg
    chan.recv = first_recv


def recording_actor(record):
    """tractor's Actor, recording the init map: its first handshake is the one on
    the parent channel (the listener does not exist yet), and the init map is the
    first message after it."""
    from tractor._actor import Actor

    class RecordingActor(Actor):
        _recording = True

        async def _do_handshake(self, chan):
            peer = await super()._do_handshake(chan)
            if RecordingActor._recording:
                RecordingActor._recording = False
                record_first_message(chan, record)
            return peer
    return RecordingActor


def main(argv=None):
    args = parse(argv)
    why = run.load_service(args.codec)
    if why:
        print(f"child.py: {why}", file=sys.stderr)
        return 2
    import scwire_service
    from tractor._entry import _trio_main
    name, uuid = args.uid
    actor = recording_actor(scwire_service.record_init)(
        name, uid=uuid, loglevel=args.loglevel, spawn_method="trio")
    _trio_main(actor, parent_addr=args.parent_addr, infect_asyncio=args.asyncio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
