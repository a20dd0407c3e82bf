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
    async with ctx.open_stream() as stream:
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
