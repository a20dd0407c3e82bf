#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""run.py - serve scwire_service (spec/test-service.md) from a real tractor 0.1.0a4 actor.

    run.py --listen HOST:PORT [--codec msgpack] [--registry HOST:PORT | --registry-role]
           [--name NAME]

The root actor is started with `tractor.open_root_actor`, exposing the module
scwire_service_tractor under the namespace `scwire_service`, and the first line
on stdout is the address it listens on.  It needs tractor 0.1.0a4 and its
dependencies on PYTHONPATH; nothing here installs them.

Like every tractor root actor, it first probes its registry address (connect
and drop) and becomes the registry itself when nothing answers there: without
--registry the registry address is its own --listen address, so it is a
registry (run the suite with --iut-registry).  With --registry it registers
there and, being tractor 0.1.0a4, listens on a free port of the registry's
host whatever --listen says.  tractor picks its codec by whether `msgspec`
imports: `lenprefix` needs msgspec, `msgpack` hides it.  SIGTERM stops the
root actor (unregistering, closing channels) and exits 0; SIGINT is trio's.
When the runtime stops serving on its own, the process exits too (status 0
after a remote `self.cancel`, else 1), unlike tractor's run_daemon, whose
process lives on without a listener; when tractor crashes (the hostile inputs
of the recordings), it exits with status 1.  The address is printed as soon as the listener is up,
before the registration (tractor serves meanwhile).

Children (the supervision functions) are started by tractor through child-shim:
child.py, a tractor child, or the command in SCWIRE_TRACTOR_CHILD_CMD.  The
children of spawn_start live in a nursery of this root, cancelled and reaped
on SIGTERM before the runtime stops.
"""
import argparse
import os
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "child-shim")


def addr(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


def parse(argv):
    ap = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=addr, default=("127.0.0.1", 0))
    ap.add_argument("--codec", choices=["msgpack", "lenprefix"], default="msgpack")
    ap.add_argument("--registry", type=addr, default=None)
    ap.add_argument("--registry-role", action="store_true",
                    help="be the registry (what it is without --registry anyway)")
    ap.add_argument("--name", default="scwire-tractor")
    ap.add_argument("--loglevel", default=None, help="tractor's log level (default: quiet)")
    args = ap.parse_args(argv)
    if args.registry_role and args.registry:
        ap.error("--registry-role and --registry exclude each other: a tractor root "
                 "registers with a registry or is one")
    return args


def use_codec(codec):
    """Make tractor speak `codec` in this process: it picks its codec by whether
    msgspec imports.  Returns why it cannot, or None."""
    import importlib.util
    try:
        has_msgspec = importlib.util.find_spec("msgspec") is not None
    except ValueError:
        has_msgspec = False
    if codec == "lenprefix" and not has_msgspec:
        return "tractor 0.1.0a4 speaks lenprefix only when msgspec can be imported"
    if codec == "msgpack" and has_msgspec:
        sys.modules["msgspec"] = None      # makes tractor fall back to its msgpack codec
    return None


def load_service(codec):
    """Import tractor and the test service for `codec`; returns why it failed, or None.
    The module is importable as `scwire_service`, the namespace it is served under."""
    why = use_codec(codec)
    if why:
        return why
    sys.path.insert(0, HERE)
    import warnings
    warnings.simplefilter("ignore")
    try:
        import trio  # noqa: F401
        import tractor  # noqa: F401
    except ImportError as e:
        return f"tractor is not importable: {e}"
    import scwire_service  # noqa: F401  (it becomes scwire_service_tractor)
    spawn_through_shim(codec)
    return None


def spawn_through_shim(codec):
    """tractor 0.1.0a4 starts a child as `sys.executable -m tractor._child --uid U
    --parent_addr A`: pointing sys.executable at child-shim makes that child.py
    (a tractor child that records its init map) under this interpreter, or the
    command in SCWIRE_TRACTOR_CHILD_CMD.  tractor reads nothing else of it."""
    os.environ["SCWIRE_TRACTOR_PYTHON"] = sys.executable
    os.environ["SCWIRE_TRACTOR_CODEC"] = codec
    sys.executable = SHIM


def own_registry_address(actor):
    """A root that is the registry at --listen HOST:0 knows its registry address as
    port 0, and hands that to its children, which then cannot register: its
    registry address is where it listens (Actor._arb_addr, internal)."""
    if actor.is_arbiter and actor._arb_addr[1] == 0:
        actor._arb_addr = tuple(actor.accept_addr)


def main(argv=None):
    args = parse(argv)
    why = load_service(args.codec)
    if why:
        print(f"run.py: {why}", file=sys.stderr)
        return 2
    import trio
    import tractor
    import scwire_service

    async def announce():
        """Print the address as soon as the listener is up: tractor binds it before
        it registers, and serves while the registration is under way."""
        while True:
            actor = tractor._state._current_actor
            listeners = getattr(actor, "_listeners", None) if actor else None
            if listeners:
                host, port = listeners[0].socket.getsockname()[:2]
                print(f"{host}:{port}", flush=True)
                return
            await trio.sleep(0.005)

    def server_down(actor):
        if actor._server_down is not None and actor._server_down.is_set():
            return True
        listeners = getattr(actor, "_listeners", None)
        return bool(listeners) and all(ln.socket.fileno() == -1 for ln in listeners)

    async def serve():
        stop = trio.Event()
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async with trio.open_nursery() as outer:
                async def on_signal():
                    async for _ in signals:
                        stop.set()
                        if not entered:         # still starting (registering): just go
                            outer.cancel_scope.cancel()
                        return

                async def watchdog():
                    """When the runtime stops serving (a remote self.cancel, or a
                    crash that leaves the process up), end the process too: 0
                    after a cancel the actor was asked for, else 1.  tractor
                    gets 2 s to tear down first."""
                    while True:
                        await trio.sleep(0.1)
                        actor = tractor._state._current_actor
                        if actor is not None and server_down(actor):
                            code = 0 if actor._cancel_called else 1
                            t = threading.Timer(2.0, os._exit, (code,))
                            t.daemon = True
                            t.start()
                            stop.set()
                            return
                entered = False
                outer.start_soon(on_signal)
                outer.start_soon(announce)
                outer.start_soon(watchdog)
                registry = args.registry or args.listen
                async with tractor.open_root_actor(
                        name=args.name, arbiter_addr=registry,
                        enable_modules=["scwire_service"], start_method="trio",
                        loglevel=args.loglevel):
                    entered = True
                    own_registry_address(tractor.current_actor())
                    # spawn_start's children live here: torn down (cancelled,
                    # reaped) before the root actor's runtime is.
                    async with trio.open_nursery() as home:
                        scwire_service.keep_children_in(home)
                        await stop.wait()   # SIGTERM, or the runtime stopped serving
                        home.cancel_scope.cancel()
                outer.cancel_scope.cancel()

    trio.run(serve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
