#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""tractor_client.py - tractor 0.1.0a4 as the client of one interop scenario.

    tractor_client.py --server HOST:PORT --scenario NAME [--codec msgpack] [--name NAME]

Runs one scenario of the interop matrix (scenarios.py) against a server that
serves `scwire_service` (spec/test-service.md), with tractor's own caller
APIs: `open_root_actor`, `get_arbiter`, `find_actor`, `wait_for_actor`,
`Portal.run`/`run_from_ns`, `open_stream_from`, `open_context`,
`Context.open_stream`, `Context.cancel` and `Portal.cancel_actor`, and prints
one JSON line on stdout: {"scenario", "result": PASS|FAIL, "reason",
"steps": [...], "name"}.  tractor's log goes to stderr.

The root actor is standalone (its own registry, on a free port) so that a
scenario's traffic is only its own, and it reaches the server on a channel it
opens itself; in the scenario `registry` it registers with the server instead
(`arbiter_addr` is the server), as a tractor program using that registry does.
It needs tractor and its dependencies on PYTHONPATH; nothing here installs them.
"""
import argparse
import json
import os
import socket
import sys
import threading
import uuid

# The tractor adapter's own helpers: its HOST:PORT parser and its codec choice.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "iut", "tractor"))
import run as adapter  # noqa: E402

REPLY_TIMEOUT = 15.0      # bound of one whole scenario inside tractor
TEARDOWN = 5.0            # then tractor's shielded teardown gets this long
QUIET = 0.5               # how long "nothing more arrives" is watched
SIBLING_WAIT = 8.0        # a failed child's sibling cancelled and reaped (within REPLY_TIMEOUT)
SERVICE = "scwire_service"
ECHO_VALUE = {"a": [1, 2.5, "x", None, True], "b": b"\x00\xff", "n": -(2 ** 40)}


class Mismatch(Exception):
    """A scenario's check failed: the message is the reason."""


def check(cond, text):
    if not cond:
        raise Mismatch(text)


def plain(v):
    """tractor decodes msgpack arrays as tuples; compare as lists."""
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def remote(func, kind="asyncfunc"):
    """A local stand-in that names scwire_service.<func> for the Portal APIs:
    they read only its module path and name (func_deats), and check its kind,
    so the server's module need not exist here."""
    if kind == "asyncgen":
        async def stand_in():
            yield None
    else:
        async def stand_in():
            raise RuntimeError("a stand-in for a remote function is never run")
    stand_in.__module__, stand_in.__name__, stand_in.__qualname__ = SERVICE, func, func
    return stand_in


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_type(err):
    """The remote type_str of a RemoteActorError (tractor keeps it in the text)."""
    t = getattr(err, "type", None)
    msgdata = getattr(err, "msgdata", {}) or {}
    return msgdata.get("type_str") or (t.__name__ if t is not None else None)


def leaves(exc):
    """The exceptions inside (nested) MultiErrors, or exc itself."""
    inner = getattr(exc, "exceptions", None)
    if not inner:
        return [exc]
    return [leaf for e in inner for leaf in leaves(e)]


class Run:
    """One scenario's state: arguments, steps for the report, tractor modules."""

    def __init__(self, args, trio, tractor):
        self.args, self.trio, self.tractor = args, trio, tractor
        self.steps = []

    def say(self, text):
        self.steps.append(text)
        print(f"tractor-client: {text}", file=sys.stderr, flush=True)

    def portal(self):
        """A portal on a channel of our own to the server (tractor connects,
        handshakes, and ends it with nil on the way out)."""
        from tractor._portal import open_portal
        return open_portal(self.tractor.Channel(self.args.server))

    async def expect_remote_error(self, coro, want_type, text=None):
        try:
            got = await coro
        except (self.tractor.RemoteActorError, self.trio.MultiError) as e:
            return self.judge_remote_error(e, want_type, text)
        raise Mismatch(f"expected a remote {want_type}; the call returned {got!r}")

    def judge_remote_error(self, exc, want_type, text):
        """The remote error raised, once or (a caller-side race of tractor: the
        context's scope and Context.result() both raise it) as a MultiError of
        copies, which a tractor program sees too and is still the same error."""
        errs = leaves(exc)
        if not all(isinstance(e, self.tractor.RemoteActorError) for e in errs):
            raise exc
        types = sorted({error_type(e) for e in errs})
        self.say(f"RemoteActorError {'/'.join(map(str, types))}"
                 + (f" (raised {len(errs)} times, as a MultiError)" if len(errs) > 1 else ""))
        check(types == [want_type], f"expected a remote {want_type}; got {types}: "
                                    f"{str(errs[0])[-300:]}")
        check(text is None or all(text in str(e) for e in errs),
              f"the error's text lacks {text!r}: {str(errs[0])[-300:]}")
        return errs[0]


# --- the scenarios --------------------------------------------------------------------

SCENARIOS = {}


def scenario(name, registry=False):
    def register(fn):
        SCENARIOS[name] = (fn, registry)
        return fn
    return register


@scenario("rpc_return")
async def rpc_return(run):
    async with run.portal() as p:
        got = await p.run(remote("echo"), value=ECHO_VALUE)
        run.say(f"echo -> {got!r}")
        check(plain(got) == plain(ECHO_VALUE), f"echo returned {got!r}, not {ECHO_VALUE!r}")


@scenario("rpc_error")
async def rpc_error(run):
    async with run.portal() as p:
        await run.expect_remote_error(
            p.run(remote("raise_error"), type_str="ValueError", text="kaboom"),
            "ValueError", "kaboom")
        got = await p.run(remote("echo"), value=1)
        check(got == 1, f"echo after the error returned {got!r}")


@scenario("asyncgen")
async def asyncgen(run):
    async with run.portal() as p:
        async with p.open_stream_from(remote("count", "asyncgen"), n=5) as stream:
            items = [i async for i in stream]
        run.say(f"count(5) -> {items}")
        check(items == list(range(5)), f"count(5) streamed {items}")


@scenario("ctx_stream")
async def ctx_stream(run):
    async with run.portal() as p:
        async with p.open_context(remote("ctx_echo"), first="hi") as (ctx, first):
            check(first == "hi", f"started {first!r}, not 'hi'")
            async with ctx.open_stream() as stream:
                for i in range(10):
                    await stream.send(i)
                    got = await stream.receive()
                    check(got == i, f"sent {i}, echoed {got!r}")
            result = await ctx.result()
        run.say(f"10 echoes, result {result!r}")
        check(result == 10, f"ctx_echo returned {result!r}, not 10")


@scenario("ctx_error")
async def ctx_error(run):
    async with run.portal() as p:
        async def body():
            async with p.open_context(remote("ctx_error_after_started"),
                                      type_str="KeyError") as (ctx, first):
                check(first is None, f"started {first!r}, not nil")
                return await ctx.result()
        await run.expect_remote_error(body(), "KeyError")


@scenario("ctx_cancel")
async def ctx_cancel(run):
    async with run.portal() as p:
        async with p.open_context(remote("ctx_no_stream"), value="ready") as (ctx, first):
            check(first == "ready", f"started {first!r}, not 'ready'")
            await ctx.cancel()
        run.say("ctx.cancel() acknowledged, the context ended quietly")
        got = await p.run(remote("echo"), value=2)
        check(got == 2, f"echo after the cancel returned {got!r}")


@scenario("overrun")
async def overrun(run):
    async with run.portal() as p:
        async def body():
            async with p.open_context(remote("ctx_no_stream"), value="ready") as (ctx, first):
                async with ctx.open_stream() as stream:
                    for i in range(65):
                        await stream.send(i)
                    run.say("sent 65 yields into a context without a stream")
                    # The callee's StreamOverrun error interrupts this wait.
                    await run.trio.sleep(REPLY_TIMEOUT)
        await run.expect_remote_error(body(), "StreamOverrun", "overrun")


@scenario("registry", registry=True)
async def registry(run):
    tractor, trio = run.tractor, run.trio
    me = tractor.current_actor()
    async with tractor.get_arbiter(*run.args.server) as reg:
        server_uid = reg.channel.uid
        found = await reg.run_from_ns("self", "find_actor", name=me.name)
        run.say(f"find_actor({me.name}) -> {found}")
        check(plain(found) == plain(me.accept_addr),
              f"find_actor of our own name gave {found!r}, we listen at {me.accept_addr!r}")
        check(await reg.run_from_ns("self", "find_actor", name="nobody-" + me.uid[1]) is None,
              "find_actor of a name nobody registered is not nil")
        late = ("late-" + me.uid[1][:8], str(uuid.uuid4()))

        async def register_late():
            await trio.sleep(0.3)
            await reg.run_from_ns("self", "register_actor", uid=late,
                                  sockaddr=tuple(run.args.server))
        async with trio.open_nursery() as n:
            n.start_soon(register_late)
            # Blocks until `late` registers; its address is the server's own.
            async with tractor.wait_for_actor(late[0], arbiter_sockaddr=run.args.server) as p:
                check(p.channel.uid == server_uid,
                      f"wait_for_actor({late[0]}) reached {p.channel.uid}, not {server_uid}")
        run.say(f"wait_for_actor({late[0]}) returned once it registered")
        await reg.run_from_ns("self", "unregister_actor", uid=late)
    async with tractor.find_actor(server_uid[0], arbiter_sockaddr=run.args.server) as p:
        check(p is not None, f"tractor.find_actor({server_uid[0]}) found nothing")
        check(await p.run(remote("echo"), value=3) == 3, "echo through find_actor's portal")
    run.say(f"find_actor({server_uid[0]}) portal answered echo")


@scenario("cancel_task")
async def cancel_task(run):
    async with run.portal() as p:
        # Portal.run gives no handle on its cid; start_remote_task is the call
        # Portal.run makes, so the cid can be cancelled by name.
        ctx = await p.actor.start_remote_task(p.channel, SERVICE, "sleep_forever", {})
        await run.trio.sleep(0.2)
        got = await p.run_from_ns("self", "_cancel_task", cid=ctx.cid)
        check(got is None, f"_cancel_task returned {got!r}, not nil")
        with run.trio.move_on_after(QUIET):
            msg = await ctx._recv_chan.receive()
            raise Mismatch(f"the cancelled task still sent {msg!r}")
        run.say("sleep_forever cancelled: nil, and nothing more on its cid")
        check(await p.run(remote("echo"), value=4) == 4, "echo after the cancel")


@scenario("cancel_actor")
async def cancel_actor(run):
    async with run.portal() as p:
        acked = await p.cancel_actor()
        run.say(f"cancel_actor -> {acked}")
        check(acked is True, f"Portal.cancel_actor() returned {acked!r}: not acknowledged")


@scenario("spawn")
async def spawn(run):
    async with run.portal() as p:
        got = await p.run_from_ns(SERVICE, "run_in_child", name="w", ns=SERVICE, func="echo",
                                  kwargs={"value": 3})
        run.say(f"run_in_child echo -> {got!r}")
        check(got == 3, f"run_in_child(echo 3) returned {got!r}")
        await run.expect_remote_error(
            p.run_from_ns(SERVICE, "run_in_child", name="f", ns=SERVICE, func="raise_error",
                          kwargs={"type_str": "KeyError", "text": "nope"}),
            "KeyError", "nope")
        with run.trio.move_on_after(SIBLING_WAIT) as scope:
            await run.expect_remote_error(
                p.run_from_ns(SERVICE, "run_in_children", specs=[
                    ["a", SERVICE, "sleep_forever", {}],
                    ["b", SERVICE, "raise_error", {"type_str": "KeyError", "text": "gone"}]]),
                "KeyError", "gone")
        check(not scope.cancelled_caught,
              f"robustness: a hang: Portal.run of run_in_children (one child raises KeyError, "
              f"its sibling sleeps) got no result within {SIBLING_WAIT:g} s: the failed child "
              f"did not get its sibling cancelled (SUP-8)")


@scenario("connect_drop")
@scenario("connect_reset")
async def connect_drop(run):
    # The runner connects and drops (or resets) other connections meanwhile.
    async with run.portal() as p:
        async with p.open_context(remote("ctx_echo"), first=None) as (ctx, _):
            async with ctx.open_stream() as stream:
                for i in range(300):
                    await stream.send(i)
                    got = await stream.receive()
                    check(got == i, f"sent {i}, echoed {got!r}")
                    await run.trio.sleep(0.005)
            result = await ctx.result()
        run.say(f"300 echoes in order, result {result!r}")
        check(result == 300, f"ctx_echo returned {result!r}, not 300")


# --- main -------------------------------------------------------------------------------

def parse(argv):
    ap = argparse.ArgumentParser(prog="tractor_client.py", description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, type=adapter.addr)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--codec", choices=["msgpack", "lenprefix"], default="msgpack")
    ap.add_argument("--name", default="interop-tractor-" + uuid.uuid4().hex[:8])
    ap.add_argument("--loglevel", default=None)
    return ap.parse_args(argv)


def import_tractor(codec):
    why = adapter.use_codec(codec)
    if why:
        raise ImportError(why)
    import warnings
    warnings.simplefilter("ignore")
    import trio
    import tractor
    return trio, tractor


async def main_async(run):
    fn, registers = SCENARIOS[run.args.scenario]
    tractor, trio = run.tractor, run.trio
    arbiter = run.args.server if registers else ("127.0.0.1", free_port())
    with trio.fail_after(REPLY_TIMEOUT):
        async with tractor.open_root_actor(name=run.args.name, arbiter_addr=arbiter,
                                           start_method="trio", loglevel=run.args.loglevel):
            await fn(run)


def outcome(run, result, reason):
    return {"scenario": run.args.scenario if run else None, "result": result, "reason": reason,
            "steps": list(run.steps) if run else [], "name": run.args.name if run else None}


_printed = threading.Lock()


def emit(res):
    """Print the one result line (first caller wins: main or the watchdog)."""
    if _printed.acquire(blocking=False):
        print(json.dumps(res), flush=True)


def watchdog(run_box):
    """A scenario whose cancellation tractor cannot finish (shielded waits in its
    teardown) still ends with a result line."""
    def fire():
        run = run_box.get("run")
        emit(outcome(run, "FAIL", f"tractor did not finish within {REPLY_TIMEOUT:g} s plus "
                                  f"{TEARDOWN:g} s of teardown (steps so far: "
                                  f"{'; '.join(run.steps) if run else 'none'})"))
        os._exit(0)
    t = threading.Timer(REPLY_TIMEOUT + TEARDOWN, fire)
    t.daemon = True
    t.start()


def main(argv=None):
    args = parse(argv)
    box = {}
    watchdog(box)
    try:
        trio, tractor = import_tractor(args.codec)
    except ImportError as e:
        emit({"scenario": args.scenario, "result": "SKIP", "reason": f"tractor: {e}",
              "steps": [], "name": args.name})
        return 0
    try:
        box["run"] = run = Run(args, trio, tractor)
        trio.run(main_async, run)
        res = outcome(run, "PASS", "; ".join(run.steps))
    except Mismatch as e:
        res = outcome(box.get("run"), "FAIL", str(e))
    except BaseException as e:      # trio.TooSlowError, MultiError, tractor's own errors
        if isinstance(e, KeyboardInterrupt):
            raise
        ours = [x for x in leaves(e) if isinstance(x, Mismatch)]
        text = str(ours[0]) if ours else f"{type(e).__name__}: {str(e)[-500:]}"
        res = outcome(box.get("run"), "FAIL", text)
    emit(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
