# SPDX-License-Identifier: AGPL-3.0-or-later
"""A tractor parent that spawns subactors, for the packet-captured recordings.

    parent.py SCENARIO --registry HOST:PORT

The root actor `root` is the registry at --registry; its children (start
method `trio`) connect back to it there, so a capture of that one port holds
every parent-child conversation.  Each step prints a `PARENT:` line.
"""
import argparse

import trio
import tractor

from common import expect_remote_error, parse_addr

# Bound on the whole scenario; the recorder's own timeout is longer.
SCENARIO_TIMEOUT = 30
SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def say(text):
    print(f"PARENT: {text}", flush=True)


async def add(x, y):
    return x + y


async def fail():
    raise RuntimeError('child failed')


@scenario
async def spawn_run_cancel(nursery):
    portal = await nursery.start_actor('worker', enable_modules=[__name__])
    say(f"add -> {await portal.run(add, x=1, y=2)}")
    say(f"cancel_actor -> {await portal.cancel_actor()}")


@scenario
async def run_in_actor_result(nursery):
    portal = await nursery.run_in_actor(add, x=2, y=3)
    say(f"run_in_actor({portal.channel.uid[0]}) started; result collected at nursery exit")


@scenario
async def run_in_actor_error(nursery):
    await nursery.start_actor('sleeper', enable_modules=[__name__])
    await nursery.run_in_actor(fail, name='failer')
    say("sleeper and failer started")


async def run(args):
    # A child's error comes out of the nursery's exit, after the scenario.
    with trio.fail_after(SCENARIO_TIMEOUT), expect_remote_error(say, "nursery"):
        async with tractor.open_root_actor(
                name='root', arbiter_addr=args.registry, start_method='trio',
                loglevel=args.loglevel):
            async with tractor.open_nursery() as nursery:
                await SCENARIOS[args.scenario](nursery)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--registry", required=True, type=parse_addr)
    ap.add_argument("--loglevel", default="runtime")
    args = ap.parse_args()
    trio.run(run, args)
    say("exit ok")


if __name__ == '__main__':
    main()
