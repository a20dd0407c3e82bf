# SPDX-License-Identifier: AGPL-3.0-or-later
"""The test service of spec/test-service.md written with tractor 0.1.0a4's own APIs.

`run.py` exposes this module to the wire under the name `scwire_service`
(tractor's `enable_modules` names a namespace by its module path).  Every
function keeps tractor's own behaviour: arguments are checked inside the
function, so a bad kwarg fails after `functype` (tractor cannot refuse it
before), and the streams are tractor's `Context.open_stream`.
"""
import trio
import tractor
from tractor._exceptions import unpack_error
from tractor._portal import open_portal

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
