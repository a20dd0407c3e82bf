# SPDX-License-Identifier: AGPL-3.0-or-later
"""The tractor client of the recordings: one root actor, one scenario.

    client.py SCENARIO --proxy HOST:PORT --registry HOST:PORT [--daemon HOST:PORT]

--proxy is the recording proxy in front of the daemon.  --registry is the
client's own `arbiter_addr`: the proxy for a client that registers with the
daemon through it, or a free port for a standalone client that becomes its
own registry (then the only connection through the proxy is the one the
scenario opens).  --daemon, the daemon's direct address, is where the actor
`late` of i_registry registers.  Every step prints a `CLIENT:` line; the
last one is `CLIENT: exit ok`.
"""
import argparse
import os
import signal
import sys

import trio
import tractor
from tractor._portal import open_portal

import svc
from common import expect_remote_error, parse_addr

HERE = os.path.dirname(os.path.abspath(__file__))
# Bounds on the waits of the scenarios; the recorder's own timeout is longer.
REPLY_TIMEOUT = 10
# How long h2 leaves its in-flight call blocked before cancelling it.
INFLIGHT_WAIT = 2

SCENARIOS = {}


def scenario(*names, root=True):
    """Register a scenario function under one or more names.

    With root=False the function starts the root actor itself (b_connect_drop
    does something before it)."""
    def register(fn):
        for name in names:
            SCENARIOS[name] = (fn, root)
        return fn
    return register


def say(text):
    print(f"CLIENT: {text}", flush=True)


def open_root(args):
    return tractor.open_root_actor(
        name='client', arbiter_addr=args.registry, start_method='trio',
        loglevel=args.loglevel)


async def connect_to_daemon(args):
    """A channel to the daemon through the proxy, opened by the scenario.

    Connected before a portal is opened on it, so that closing the portal
    does not send the `nil` that tractor sends on channels it connected."""
    chan = tractor.Channel(args.proxy)
    await chan.connect()
    return chan


# --- second set: a_handshake .. i_registry ------------------------------------

@scenario('a_handshake')
async def handshake_only(args):
    chan = await connect_to_daemon(args)
    peer = await tractor.current_actor()._do_handshake(chan)
    say(f"handshake done, peer uid = {peer}")
    await chan.aclose()
    say("channel closed (no other message sent)")


@scenario('b_connect_drop', root=False)
async def connect_drop(args):
    stream = await trio.open_tcp_stream(*args.proxy)
    await stream.aclose()
    say("raw connect then close done")
    async with open_root(args):
        say("root actor up, registered via proxy; exiting")


@scenario('c_rpc_return')
async def rpc_return(args):
    value = {'s': 'x', 'i': 1, 'neg': -5, 'big': 2**40, 'f': 2.5, 'none': None,
             'bool': True, 'list': [1, 2], 'tuple': (3, 4), 'bin': b'\x00\x01\xff'}
    async with tractor.get_arbiter(*args.proxy) as portal:
        say(f"echo -> {await portal.run(svc.echo, value=value)}")
        say(f"add -> {await portal.run(svc.add, x=40, y=2)}")


@scenario('d_rpc_error')
async def rpc_errors(args):
    # portal.run() refuses a non-async function locally, so run_from_ns()
    # names each target: the daemon is what must answer.
    calls = [('boom', 'svc', 'boom', {'text': 'kaboom'}),
             ('not_async', 'svc', 'not_async', {'x': 1}),
             ('not_exposed', 'os', 'getcwd', {}),
             ('no_such_func', 'svc', 'nope', {})]
    async with tractor.get_arbiter(*args.proxy) as portal:
        for label, ns, func, kwargs in calls:
            with expect_remote_error(say, label):
                await portal.run_from_ns(ns, func, **kwargs)


@scenario('e_asyncgen', 'asyncgen')
async def asyncgen_full(args):
    async with tractor.get_arbiter(*args.proxy) as portal:
        async with portal.open_stream_from(svc.count, n=5) as stream:
            items = [item async for item in stream]
    say(f"count(5) full read -> {items}")


async def read_then_break(args, n, stall=0.0):
    """Read three items of count(n), optionally stall unread, then break."""
    items = []
    async with tractor.get_arbiter(*args.proxy) as portal:
        async with portal.open_stream_from(svc.count, n=n) as stream:
            async for item in stream:
                items.append(item)
                if len(items) == 3:
                    break
                if stall and len(items) == 2:
                    say(f"stalling {stall}s without reading")
                    await trio.sleep(stall)
    say(f"count({n}) early break after {items}")


@scenario('e2_asyncgen_early_break')
async def asyncgen_early_break(args):
    await read_then_break(args, 100)


@scenario('e3_asyncgen_early_break_overrun')
async def asyncgen_early_break_overrun(args):
    await read_then_break(args, 200, stall=0.05)


@scenario('f_context_stream', 'context_stream')
async def context_stream(args):
    async with tractor.get_arbiter(*args.proxy) as portal:
        async with portal.open_context(svc.ctx_echo, first='hi') as (ctx, first):
            say(f"started -> {first}")
            async with ctx.open_stream() as stream:
                for i in range(3):
                    await stream.send(i)
                    say(f"echo {i} -> {await stream.receive()}")
            say(f"ctx.result() -> {await ctx.result()}")


async def overrun_callee(args, count, close_stream):
    """Send `count` stream messages to ctx_no_stream, never reading, and wait
    for the callee's StreamOverrun error (it cancels the context)."""
    with expect_remote_error(say, "overrun"):
        async with tractor.get_arbiter(*args.proxy) as portal:
            async with portal.open_context(svc.ctx_no_stream) as (ctx, first):
                say(f"started -> {first}")
                async with ctx.open_stream() as stream:
                    for i in range(count):
                        await stream.send(i)
                    say(f"sent {count} msgs, waiting for the overrun error")
                    if not close_stream:
                        await trio.sleep(REPLY_TIMEOUT)
                await trio.sleep(REPLY_TIMEOUT)


@scenario('g_context_overrun')
async def context_overrun_65(args):
    await overrun_callee(args, 65, close_stream=False)


@scenario('context_overrun')
async def context_overrun_100(args):
    await overrun_callee(args, 100, close_stream=True)


async def cancel_daemon(args, inflight):
    """portal.cancel_actor() on a channel of our own, with `svc.sleep_forever`
    in flight on it when `inflight`."""
    chan = await connect_to_daemon(args)
    async with open_portal(chan) as portal:
        async with trio.open_nursery() as nursery:
            if inflight:
                nursery.start_soon(run_inflight, portal)
                # Let the call reach the daemon (its functype comes back).
                await trio.sleep(0.3)
            say(f"cancel_actor -> {await portal.cancel_actor()}")
    await chan.aclose()


async def run_inflight(portal):
    """svc.sleep_forever, given up locally after INFLIGHT_WAIT s."""
    with trio.move_on_after(INFLIGHT_WAIT):
        await portal.run(svc.sleep_forever)
        say("in-flight call returned")
        return
    say(f"in-flight call still waiting: cancelled locally after {INFLIGHT_WAIT} s")


@scenario('h_cancel_actor')
async def cancel_actor(args):
    await cancel_daemon(args, inflight=False)


@scenario('h2_cancel_actor_inflight')
async def cancel_actor_inflight(args):
    await cancel_daemon(args, inflight=True)


@scenario('i_registry')
async def registry_calls(args):
    async with tractor.get_arbiter(*args.proxy) as portal:
        for name in ('svcd', 'nobody'):
            found = await portal.run_from_ns('self', 'find_actor', name=name)
            say(f"find_actor({name}) -> {found}")
        found = await portal.run_from_ns('self', 'wait_for_actor', name='svcd')
        say(f"wait_for_actor(svcd) -> {found}")
        say(f"get_registry -> {await portal.run_from_ns('self', 'get_registry')}")
    async with tractor.find_actor('svcd', arbiter_sockaddr=args.proxy) as svcd:
        say(f"tractor.find_actor(svcd) portal -> {svcd.channel.uid} "
            f"echo -> {await svcd.run(svc.echo, value=7)}")
    async with tractor.find_actor('nobody', arbiter_sockaddr=args.proxy) as nobody:
        say(f"tractor.find_actor(nobody) -> {nobody}")
    await wait_for_late_actor(args)
    async with tractor.get_arbiter(*args.proxy) as portal:
        registry = await portal.run_from_ns('self', 'get_registry')
        say(f"get_registry after late exit -> {registry}")


async def wait_for_late_actor(args):
    """Start a daemon `late` and block in wait_for_actor until it registers;
    then stop it and let it unregister."""
    host, port = args.daemon
    cmd = [sys.executable, os.path.join(HERE, 'daemon.py'), '--name', 'late',
           '--registry', f'{host}:{port}', '--loglevel', 'info']
    late = await trio.lowlevel.open_process(cmd)
    try:
        with trio.fail_after(REPLY_TIMEOUT):
            async with tractor.wait_for_actor('late', arbiter_sockaddr=args.proxy) as portal:
                say(f"tractor.wait_for_actor(late) portal -> {portal.channel.uid}")
        late.send_signal(signal.SIGINT)
        with trio.fail_after(REPLY_TIMEOUT):
            await late.wait()
    finally:
        if late.returncode is None:
            late.kill()
            await late.wait()


# --- first set ------------------------------------------------------------------

@scenario('rpc_return')
async def rpc_return_small(args):
    async with tractor.get_arbiter(*args.proxy) as portal:
        value = {'a': [1, 2.5, 'x', None, True]}
        say(f"echo -> {await portal.run(svc.echo, value=value)}")


@scenario('rpc_error')
async def rpc_error(args):
    async with tractor.get_arbiter(*args.proxy) as portal:
        with expect_remote_error(say, "boom"):
            await portal.run(svc.boom, text='kaboom')


@scenario('context_error')
async def context_error(args):
    with expect_remote_error(say, "error after started"):
        async with tractor.get_arbiter(*args.proxy) as portal:
            async with portal.open_context(svc.ctx_error_after_started) as (ctx, first):
                say(f"started -> {first}")
                await trio.sleep(REPLY_TIMEOUT)


@scenario('context_cancel')
async def context_cancel(args):
    async with tractor.get_arbiter(*args.proxy) as portal:
        async with portal.open_context(svc.ctx_no_stream) as (ctx, first):
            say(f"started -> {first}")
            await ctx.cancel()
        say("context cancelled by the caller")


@scenario('registry')
async def registry_self(args):
    async with tractor.get_arbiter(*args.proxy) as portal:
        for func in ('find_actor', 'wait_for_actor'):
            found = await portal.run_from_ns('self', func, name='arbiter')
            say(f"{func}(arbiter) -> {found}")
        say(f"get_registry -> {await portal.run_from_ns('self', 'get_registry')}")


@scenario('cancel_task')
async def cancel_task(args):
    # Cancelled on our side only: tractor sends nothing for it, the channel
    # just closes when the portal goes.
    async with tractor.get_arbiter(*args.proxy) as portal:
        with trio.move_on_after(0.5):
            await portal.run(svc.sleep_forever)
    say("sleep_forever cancelled locally after 0.5 s")


# --- main -------------------------------------------------------------------------

async def run(args):
    fn, needs_root = SCENARIOS[args.scenario]
    if not needs_root:
        await fn(args)
        return
    async with open_root(args):
        await fn(args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--proxy", required=True, type=parse_addr)
    ap.add_argument("--registry", required=True, type=parse_addr)
    ap.add_argument("--daemon", type=parse_addr)
    ap.add_argument("--loglevel", default="runtime")
    args = ap.parse_args()
    trio.run(run, args)
    say("exit ok")


if __name__ == '__main__':
    main()
