# SPDX-License-Identifier: AGPL-3.0-or-later
"""Differential replay: the recorded tractor client against two implementations.

For each recording of conformance/vectors/tractor-0.1.0a4/*.jsonl, the suite's
replay machinery (scwire_conform/replay.py: `svc` mapped to `scwire_service`,
the recorded daemon's identity to the live one's) plays the client side
against a fresh scwire-ref and a fresh tractor (both in the registry role, as
the recorded daemon was), and the two implementations' replies are compared
with each other, per connection and cid, modulo uuids, cids and tracebacks
(`replay.compare`, profile strict: a repeated `stop` is one).  Recordings the
suite cannot play the client of, or whose exchange depends on timing, are
SKIP with the replay cases' own reasons (cases/test_replay.py), and so are
those the machinery cannot reproduce as recorded (classify.unreplayable).  The
recordings include the evidence of spec/profiles.md's rows (profile/*.jsonl).

Every difference is classified (classify.py): a row of spec/profiles.md, a
robustness finding (an implementation died or stopped serving), or
unexplained.
"""
import os

import conform_client
from classify import classify, unreplayable
from impls import CONFORMANCE, case_module
from procs import IUTError
from scwire_conform import replay
from scwire_conform.verdict import Violation
from scwire_conform.wire import SERVICE, Closed, Timeout
from scwire_conform.wirelog import WireLog

# The replay cases' tables: which recordings cannot be replayed, and why.
test_replay = case_module("test_replay")

DEFAULT_VECTORS = os.path.join(CONFORMANCE, "vectors", "tractor-0.1.0a4")
PROFILE_DIR = "profile"      # the evidence recordings of spec/profiles.md's rows
PROMPT = 2.0
EXIT_WAIT = 5.0             # an actor cancelled by the recording has that long to exit


def skip_reason(rec):
    if rec.name in test_replay.NOT_A_CLIENT:
        return ("a parent/child recording: its client side is a child actor, which the "
                "replay cannot play (cases/test_replay.py)")
    return test_replay.SKIP.get(rec.name) or unreplayable(rec)


class Side:
    """One implementation's replay of one recording."""

    def __init__(self, impl):
        self.impl = impl
        self.results = []
        self.error = None           # the replay could not finish: why
        self.down = None            # the implementation died or stopped serving: how
        self.files = []


def factory_for(codec, log, timeout):
    def make(*, target, handshake=True, name="scwire-replay", uuid=None, **_):
        c = conform_client.Conn.connect(target.host, target.port, codec, log=log,
                                        timeout=timeout)
        if handshake:
            c.handshake(name, uuid)
        return c
    return make


def play(impl, rec, args, procs, out_dir):
    side = Side(impl)
    log = WireLog()
    try:
        iut = start_clear_of(rec, impl, procs, out_dir)
    except (IUTError, ValueError) as e:
        side.error = f"{impl.name} could not be started: {e}"
        return side
    side.files += iut.stderr_paths
    r = replay.Replayer(rec, factory_for(args.codec, log, args.timeout), target=iut,
                        registry=True, prompt=PROMPT, timeout=args.timeout)
    try:
        r.run()
    except Exception as e:      # noqa: BLE001  one recording's trouble ends only its replay
        side.error = f"the replay against {impl.name} stopped: {type(e).__name__}: {e}"
    finally:
        try:
            r.cleanup()
        except (Violation, Closed, Timeout, OSError):
            pass
    side.results = r.results
    side.down = down(iut, args, rec.cancels_actor())
    procs.stop(iut)
    path = os.path.join(out_dir, f"{impl.name}.wire.jsonl")
    log.dump(path)
    side.files.append(path)
    return side


def start_clear_of(rec, impl, procs, out_dir, tries=5):
    """The implementation listening on a port the recording does not mention: the
    replay maps the live address back to the recorded daemon's, so a live port
    equal to a recorded one (another actor's) would be mistaken for it."""
    taken = recorded_ints(rec)
    for _ in range(tries - 1):
        iut = procs.start(impl.command(impl.server), impl.name, log_dir=out_dir)
        if iut.port not in taken:
            return iut
        procs.stop(iut)
    return procs.start(impl.command(impl.server), impl.name, log_dir=out_dir)


def recorded_ints(rec):
    out = set()

    def walk(v):
        if isinstance(v, bool):
            return
        if isinstance(v, int):
            out.add(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
    for e in rec.entries:
        walk(e.get("msg"))
    return out


def down(iut, args, cancelled):
    """How the implementation went down after the replay, or None if it went as it
    should: still serving, or, when the recording cancels the actor, exited with 0."""
    rc = iut.wait_exit(EXIT_WAIT if cancelled else 0.5)
    if cancelled:
        return None if rc == 0 else (f"it still runs {EXIT_WAIT:g} s after self.cancel"
                                     if rc is None else f"it exited with status {rc} "
                                                        f"after self.cancel")
    if rc is not None:
        return f"its process exited with status {rc}"
    try:
        c = conform_client.new_conn(iut.host, iut.port, args.codec, WireLog(), PROMPT)
        try:
            r = c.call(SERVICE, "echo", {"value": "alive"}, timeout=PROMPT)
        finally:
            c.close()
    except (Violation, Closed, Timeout, OSError) as e:
        return f"a fresh connection was not served ({type(e).__name__}: {e})"
    if r.kind != "return" or r.value != "alive":
        return f"a fresh connection's echo was answered {r.final!r}"
    return None


def differences(a, b):
    """(where, text) of every difference between the two sides' replies."""
    out = []
    for ra, rb in zip(a.results, b.results):
        pair = replay.ConnResult(ra.rec_conn, ra.name)
        pair.expected, pair.got = ra.got, rb.got
        for d in replay.compare(pair, "strict"):
            where, _, text = d.partition(": ")
            out.append((where, f"{a.impl.name} vs {b.impl.name}: {text}"))
        if ra.closed != rb.closed:
            out.append((f"{ra.rec_conn}/end", f"{a.impl.name} "
                        f"{ended(ra.closed)}, {b.impl.name} {ended(rb.closed)}"))
    return out


def ended(how):
    return f"closed the connection ({how})" if how else "kept the connection open"


def replay_one(path, a_impl, b_impl, args, procs):
    rec = replay.Recording(path)
    rec.name = os.path.relpath(path, args.vectors)[:-len(".jsonl")]
    entry = {"name": rec.name, "files": []}
    why = skip_reason(rec)
    if why:
        return dict(entry, result="SKIP", reason=why, differences=[])
    out_dir = os.path.join(args.out, "replay", rec.name)
    os.makedirs(out_dir, exist_ok=True)
    a, b = play(a_impl, rec, args, procs, out_dir), play(b_impl, rec, args, procs, out_dir)
    entry["files"] = [os.path.relpath(p, args.out) for p in a.files + b.files]
    diffs = [classify(rec, where, text, a, b) for where, text in differences(a, b)]
    for side in (a, b):
        if side.error:
            diffs.append(classify(rec, "replay", side.error, a, b))
        if side.down:
            diffs.append(classify(rec, "after the replay", f"{side.impl.name}: {side.down}",
                                  a, b))
    return dict(entry, result="DIFFERENT" if diffs else "SAME", differences=diffs,
                left_out=sorted({s for res in a.results for s in res.skipped}))


def differential_replay(a_impl, b_impl, args, procs):
    rep = {"a": a_impl.name, "b": b_impl.name, "vectors": args.vectors, "recordings": [],
           "counts": {}}
    for impl in (a_impl, b_impl):
        if not impl.available:
            return dict(rep, status="SKIP", reason=f"{impl.name} is unavailable: {impl.reason}")
    paths = replay.recordings(args.vectors) + \
        replay.recordings(os.path.join(args.vectors, PROFILE_DIR))
    if not paths:
        return dict(rep, status="SKIP", reason=f"no recordings (*.jsonl) in {args.vectors}")
    for path in paths:
        rep["recordings"].append(replay_one(path, a_impl, b_impl, args, procs))
    return dict(rep, status="DONE", **summarize(rep["recordings"]))


def summarize(recs):
    counts = {}
    for r in recs:
        for d in r["differences"]:
            counts[d["class"]] = counts.get(d["class"], 0) + 1
    by = {k: sum(1 for r in recs if r["result"] == k) for k in ("SAME", "DIFFERENT", "SKIP")}
    text = (f"{len(recs)} recordings: {by['SAME']} same, {by['DIFFERENT']} different, "
            f"{by['SKIP']} skipped; differences: "
            + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"))
    return {"counts": counts, "summary": text}
