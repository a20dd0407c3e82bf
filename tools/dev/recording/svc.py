# SPDX-License-Identifier: AGPL-3.0-or-later
"""The module `svc` that the recorded tractor daemons serve.

It offers one function per behaviour the recordings show: plain returns, a
failing call, an async generator, context functions with and without a
stream, a call that never ends and a function that is not async (which
tractor refuses to run).  conformance/vectors/tractor-0.1.0a4/README.md
describes each one as recorded.
"""
import trio
import tractor


async def echo(value):
    return value


async def add(x, y):
    return x + y


async def boom(text):
    raise ValueError(text)


async def count(n):
    for i in range(n):
        yield i


async def sleep_forever():
    await trio.sleep_forever()


def not_async(x):
    # Deliberately synchronous: the daemon answers a call with a TypeError.
    return x


@tractor.context
async def ctx_echo(ctx, first):
    """started(first), then echo every stream message; return how many."""
    await ctx.started(first)
    echoed = 0
    async with ctx.open_stream() as stream:
        async for msg in stream:
            await stream.send(msg)
            echoed += 1
    return echoed


@tractor.context
async def ctx_no_stream(ctx):
    """started('ready') and never open a stream: what a caller sends piles up."""
    await ctx.started('ready')
    await trio.sleep_forever()


@tractor.context
async def ctx_error_after_started(ctx):
    await ctx.started(1)
    raise KeyError('after-started')
