# SPDX-License-Identifier: AGPL-3.0-or-later
"""The test service of spec/test-service.md written with tractor 0.1.0a4's own APIs.

`run.py` exposes this module to the wire under the name `scwire_service`
(tractor's `enable_modules` names a namespace by its module path).  Every
function keeps tractor's own behaviour: arguments are checked inside the
function, so a bad kwarg fails after `functype` (tractor cannot refuse it
before), and the streams are tractor's `Context.open_stream`.  The supervision
functions (section 5) drive tractor's actor nursery; their children are tractor
actors too (child.py), or another program (SCWIRE_TRACTOR_CHILD_CMD, child-shim).
"""
import os
import signal as signals
from contextlib import asynccontextmanager

import trio
import tractor
from tractor._actor import try_ship_error_to_parent
from tractor._exceptions import unpack_error
from tractor._portal import open_portal

SERVICE_NS = "scwire_service"
_ERROR_TYPES = {}


def _check(name, value, kinds, what):
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise TypeError(f"{name} must be {what}, not {type(value).__name__}")


def _error_type(type_str):
    """An exception class named type_str, made on first use (SVC-9 takes any name)."""
    if type_str not in _ERROR_TYPES:
        _ERROR_TYPES[type_str] = type(type_str, (Exception,), {})
    return _ERROR_TYPES[type_str]


async def echo(value):
    return value


async def raise_error(type_str, text):
    _check("type_str", type_str, (str,), "a str")
    _check("text", text, (str,), "a str")
    if "\x00" in type_str:
        # Python cannot name a class so; the spec lets it be refused this way.
        raise TypeError("raise_error() argument 'type_str' must not contain NUL")
    raise _error_type(type_str)(text)


async def sleep(seconds):
    _check("seconds", seconds, (int, float), "a number")
    await trio.sleep(seconds)


async def sleep_forever():
    await trio.sleep_forever()


async def count(n):
    _check("n", n, (int,), "an int")
    for i in range(n):
        yield i


@tractor.context
async def ctx_echo(ctx, first):
    await ctx.started(first)
    echoed = 0
    async with ctx.open_stream(backpressure=True) as stream:
        async for msg in stream:
            await stream.send(msg)
            echoed += 1
    return echoed


@tractor.context
async def ctx_no_stream(ctx, value):
    await ctx.started(value)
    await trio.sleep_forever()


@tractor.context
async def ctx_error_after_started(ctx, type_str):
    _check("type_str", type_str, (str,), "a str")
    await ctx.started(None)
    raise _error_type(type_str)(f"ctx_error_after_started({type_str!r})")


@tractor.context
async def ctx_return(ctx, value):
    await ctx.started(None)
    return value


@tractor.context
async def ctx_stream_out(ctx, n):
    _check("n", n, (int,), "an int")
    await ctx.started(None)
    async with ctx.open_stream() as stream:
        for i in range(n):
            await stream.send(i)
    return n


@tractor.context
async def ctx_slow_sink(ctx, delay, backpressure):
    _check("delay", delay, (int, float), "a number")
    _check("backpressure", backpressure, (bool,), "a bool")
    await ctx.started(None)
    taken = 0
    async with ctx.open_stream(backpressure=backpressure) as stream:
        while True:
            await trio.sleep(delay)
            try:
                await stream.receive()
            except (trio.EndOfChannel, StopAsyncIteration):
                break
            taken += 1
    return taken


def _remote(ns, func):
    """What Portal.open_context takes for the callee's function: it only reads the
    module path and the name, so a local stand-in names the remote one."""
    async def stand_in():
        raise RuntimeError("a stand-in for a remote function is never run")
    stand_in.__module__, stand_in.__name__ = ns, func
    return stand_in


def _pending_return(ctx):
    """Whether the context's return already arrived: the messages queued while
    nobody read are taken without waiting (stream messages dropped, as
    Context.result does), and a return found is kept where Context.result,
    which open_context awaits on its way out, finds it.  An error found there
    (one that arrived before the context's scope existed) is raised, so that
    it is not lost with the stream messages."""
    while True:
        try:
            msg = ctx._recv_chan.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return False
        if "return" in msg:
            ctx._result = msg["return"]
            return True
        if "error" in msg:
            raise unpack_error(msg, ctx.chan)


async def ctx_call(host, port, ns, func, kwargs, idle):
    _check("host", host, (str,), "a str")
    _check("port", port, (int,), "an int")
    _check("ns", ns, (str,), "a str")
    _check("func", func, (str,), "a str")
    _check("kwargs", kwargs, (dict,), "a map")
    _check("idle", idle, (int, float), "a number")
    # An unconnected channel: open_portal connects, handshakes, and ends it with nil.
    async with open_portal(tractor.Channel((host, port))) as portal:
        async with portal.open_context(_remote(ns, func), **kwargs) as (ctx, first):
            # Reads nothing: an error on the context interrupts this sleep.
            await trio.sleep(idle)
            if _pending_return(ctx):
                return [first, "returned", ctx._result]
            await ctx.cancel()
    return [first, "cancelled", None]


# --- supervision (test-service.md section 5) ---------------------------------
#
# The children are subactors of tractor's actor nursery (tractor.open_nursery,
# run_in_actor, start_actor, Portal.cancel_actor); run.py makes tractor start
# them through child-shim.  What tractor has no public API for comes from its
# internals, each use marked so: the processes of a nursery's children
# (ActorNursery._children), the uids still connecting back
# (Actor._peer_connected), whether a cancel was asked (Channel._cancel_called),
# whether a result arrived (Portal._result_msg), and, in a child, its parent
# channel (Actor._parent_chan) with tractor's way to report an actor-level error
# there (try_ship_error_to_parent).

# run_in_actor's own keywords: a command's kwargs of these names cannot reach it.
_RUN_IN_ACTOR_KEYWORDS = {"fn", "name", "bind_addr", "rpc_module_paths", "enable_modules",
                          "loglevel", "infect_asyncio"}
_home = None            # the trio nursery spawn_start's children live in (run.py's)
_nurseries = []         # the actor nurseries open in this actor, oldest first
_spawning = []          # names of the children being started, until they connect back
_daemons = {}           # name -> _Daemon, the children of spawn_start
_init = None            # the init map this actor received, when child.py recorded it


class _WithoutDebugger(list):
    """The modules for a child that is another program (SCWIRE_TRACTOR_CHILD_CMD):
    tractor adds `tractor._debug`, its debugger, to every child's enable_modules,
    which such a child cannot load (scwire-ref refuses the init map, SUP-6).  This
    list ignores that one name, also once run_in_actor has put the function's
    module in front of it."""

    def append(self, name):
        if name != "tractor._debug":
            super().append(name)

    def __radd__(self, other):
        return _WithoutDebugger(list(other) + list(self))


def _child_modules():
    modules = [SERVICE_NS]
    return _WithoutDebugger(modules) if os.environ.get("SCWIRE_TRACTOR_CHILD_CMD") else modules


def keep_children_in(nursery):
    """Where spawn_start's children live: a nursery of the root actor's owner, so that
    they are cancelled and reaped before its runtime goes down."""
    global _home
    _home = nursery


def record_init(msg):
    global _init
    _init = msg


@asynccontextmanager
async def _actor_nursery():
    """tractor.open_nursery(), listed for spawn_list and spawn_kill until its children
    are reaped (the end of its block)."""
    opened = []
    try:
        async with tractor.open_nursery() as an:
            opened.append(an)
            _nurseries.append(an)
            yield an
    finally:
        if opened:
            _nurseries.remove(opened[0])


@asynccontextmanager
async def _starting(name):
    """A child is listed as spawning while tractor waits for it to connect back."""
    _spawning.append(name)
    try:
        yield
    finally:
        _spawning.remove(name)


def _children():
    """(nursery, uid, process, portal) of every child process not reaped yet
    (ActorNursery._children, internal)."""
    for an in list(_nurseries):
        for uid, (_, proc, portal) in list(an._children.items()):
            if proc.poll() is None:
                yield an, uid, proc, portal


def _require_child(func):
    if tractor.is_root_process():
        raise RuntimeError(f"{func}() runs only in a child actor; this one is the root")
    return tractor.current_actor()


def _childs_error(err):
    """The child's error as the call's own, under the child's type_str (SVC-20): tractor
    hands it over as a RemoteActorError whose text holds the child's uid and tb_str."""
    type_str = err.msgdata.get("type_str", "RemoteActorError")
    return _error_type(type_str)(str(err))


def _childrens_errors(err):
    """Several children failed: tractor raises a trio.MultiError of RemoteActorErrors
    (whose class trio 0.22 names NonBaseMultiError); the call fails with MultiError
    naming each child's uid and type_str (SVC-21)."""
    parts = [e for e in err.exceptions if isinstance(e, tractor.RemoteActorError)]
    heads = ", ".join(f"{e.msgdata.get('type_str')} from {str(e).splitlines()[0]}"
                      for e in parts)
    bodies = "\n".join(str(e) for e in err.exceptions)
    return _error_type("MultiError")(f"{len(err.exceptions)} children failed: {heads}\n{bodies}")


def _require_result(portal):
    """A child that died before its result is not reported by tractor 0.1.0a4: its
    nursery ends as if all went well and Portal.result() waits forever.  The call
    says so instead of hanging, without making up the ActorDied of SVC-20 that
    tractor does not give (Portal._result_msg, internal: the result taken)."""
    if portal._result_msg is None:
        raise RuntimeError(
            f"tractor lost the child {portal.channel.uid}: its actor nursery ended without "
            f"its result or an error (tractor does not report a child that dies before "
            f"returning, and Portal.result() would wait forever)")


def _check_spec(spec):
    _check("spec", spec, (list, tuple), "[name, ns, func, kwargs]")
    if len(spec) != 4:
        raise TypeError(f"a spec is [name, ns, func, kwargs], not {len(spec)} items")
    name, ns, func, kwargs = spec
    _check("name", name, (str,), "a str")
    _check("ns", ns, (str,), "a str")
    _check("func", func, (str,), "a str")
    _check("kwargs", kwargs, (dict,), "a map")
    taken = _RUN_IN_ACTOR_KEYWORDS & set(kwargs)
    if taken:
        raise TypeError(f"tractor's run_in_actor keeps the kwargs {sorted(taken)} for itself")


async def run_in_child(name, ns, func, kwargs):
    return (await run_in_children([[name, ns, func, kwargs]]))[0]


async def run_in_children(specs):
    _check("specs", specs, (list, tuple), "an array")
    if not 1 <= len(specs) <= 16:
        raise ValueError(f"specs has {len(specs)} items, not 1 to 16")
    for spec in specs:
        _check_spec(spec)
    try:
        async with _actor_nursery() as an:
            portals = []
            for name, ns, func, kwargs in specs:
                async with _starting(name):
                    portals.append(await an.run_in_actor(_remote(ns, func), name=name,
                                                          enable_modules=_child_modules(),
                                                          **kwargs))
        # The nursery's block ended: every child ended and was reaped, and the
        # results wait in the portals.
        for portal in portals:
            _require_result(portal)
        return [await portal.result() for portal in portals]
    except tractor.RemoteActorError as err:
        raise _childs_error(err) from err
    except trio.MultiError as err:
        raise _childrens_errors(err) from err


class _Daemon:
    """A child of spawn_start: its portal, the scope that supervises it, and whether
    it was reaped."""

    def __init__(self):
        self.portal = None
        self.scope = trio.CancelScope()
        self.reaped = trio.Event()


async def _supervise_daemon(name, daemon, task_status=trio.TASK_STATUS_IGNORED):
    try:
        with daemon.scope:
            async with _actor_nursery() as an:
                async with _starting(name):
                    daemon.portal = await an.start_actor(name, enable_modules=_child_modules())
                task_status.started()
            # The block ends at once: tractor now waits for the process to end and
            # reaps it; cancelling the scope makes it cancel and hard-kill it.
    finally:
        if _daemons.get(name) is daemon:
            del _daemons[name]
        daemon.reaped.set()


async def spawn_start(name):
    _check("name", name, (str,), "a str")
    if _home is None:
        raise RuntimeError("spawn_start() needs the adapter's root actor (run.py)")
    if name in _daemons:
        raise ValueError(f"a child of spawn_start named {name!r} runs already")
    daemon = _daemons[name] = _Daemon()
    await _home.start(_supervise_daemon, name, daemon)
    # The child's own answer says where it listens, once it serves commands.
    info = await daemon.portal.run_from_ns(SERVICE_NS, "spawn_info")
    return info["sockaddr"]


async def spawn_cancel(name):
    _check("name", name, (str,), "a str")
    daemon = _daemons.get(name)
    if daemon is None:
        raise KeyError(f"no child of spawn_start named {name!r}")
    # tractor's cancel of one actor: self.cancel, 0.5 s for its answer.
    acknowledged = await daemon.portal.cancel_actor()
    if not acknowledged:
        # What tractor does to a child whose supervising scope is cancelled: a
        # second self.cancel, then the hard kill of its reaper.
        daemon.scope.cancel()
    await daemon.reaped.wait()
    return acknowledged


async def spawn_kill(name, signal):
    _check("name", name, (str,), "a str")
    _check("signal", signal, (int,), "an int")
    if not 1 <= signal <= 64:
        raise ValueError(f"signal {signal} is not 1 to 64")
    procs = [proc for _, uid, proc, _ in _children() if uid[0] == name]
    for proc in procs:
        proc.send_signal(signal)
    return len(procs)


def _state(an, portal):
    """tractor does not say when it terminates or kills (its reaper does it
    unseen), so a child whose cancel was asked stays `cancelling` until reaped
    (Channel._cancel_called, internal: set by Portal.cancel_actor)."""
    return "cancelling" if an.cancelled or portal.channel._cancel_called else "running"


async def spawn_list():
    rows = [[uid[0], uid[1], proc.pid, _state(an, portal)] for an, uid, proc, portal in _children()]
    # Not connected back yet: tractor knows the uid, not the process
    # (Actor._peer_connected, internal: the uids it waits for).
    rows += [[uid[0], uid[1], 0, "spawning"] for uid in tractor.current_actor()._peer_connected
             if uid[0] in _spawning]
    return rows


async def spawn_info():
    actor = tractor.current_actor()
    if tractor.is_root_process():
        init = None
    elif _init is not None:
        init = _init
    else:
        raise RuntimeError("this child has no record of its init map (tractor keeps none): "
                           "start it with child.py")
    return {"uid": list(actor.uid), "sockaddr": list(actor.accept_addr), "init": init}


async def spawn_stubborn(ignore_sigterm):
    _check("ignore_sigterm", ignore_sigterm, (bool,), "a bool")
    _require_child("spawn_stubborn")
    if ignore_sigterm:
        signals.signal(signals.SIGTERM, signals.SIG_IGN)
        signals.signal(signals.SIGINT, signals.SIG_IGN)
    # A tractor actor answers self.cancel once every RPC task has ended; a task
    # shielded from cancellation never ends, so the answer never comes.
    with trio.CancelScope(shield=True):
        await trio.sleep_forever()


async def spawn_crash(type_str, text):
    _check("type_str", type_str, (str,), "a str")
    _check("text", text, (str,), "a str")
    actor = _require_child("spawn_crash")
    try:
        raise _error_type(type_str)(text)
    except Exception as err:
        # tractor's report of an actor-level error: the error without cid, on the
        # parent channel.
        await try_ship_error_to_parent(actor._parent_chan, err)
    # Then the runtime fails as after such an error: with its parent channel closed
    # under it, the message loop raises, every task is cancelled and the process
    # exits with status 1.
    await actor._parent_chan.aclose()
    await trio.sleep_forever()
