# SPDX-License-Identifier: AGPL-3.0-or-later
"""The fuzzing loop: cases against one or two targets, the oracle after each.

For every case and every target: play it, check liveness, count the outcome,
and on a finding minimize it (started targets only: each attempt may need a
restart), record the minimized case once more for its trace file, and
restart the target.  A target we only attach to cannot be restarted: when it
is down the run stops there.  Memory is sampled every K cases on started
targets.  With two targets, cases whose outcomes differ are divergences.
"""
import collections
import time

from . import diff, generate, minimize, oracle, runner
from .findings import Finding, entries_of
from .target import TargetError


class Stop(Exception):
    """The run cannot go on (a target is down for good); the message says why."""


class Side:
    """One target and what the run saw of it."""

    def __init__(self, target, watch):
        self.target = target
        self.watch = watch
        self.outcomes = collections.Counter({o: 0 for o in runner.OUTCOMES})
        self.findings = []
        self.recent = []          # cases since the last memory sample

    @property
    def label(self):
        return self.target.label


class Campaign:
    def __init__(self, sides, *, codec, seed, cases=None, seconds=None, families=None,
                 timeout=5.0, settle=0.1, out_dir=".", attempts=40, minimize_on=True,
                 log=None):
        self.sides = sides
        self.codec = codec
        self.seed = seed
        self.cases = cases
        self.seconds = seconds
        self.families = families
        self.timeout = timeout
        self.settle = settle
        self.out_dir = out_dir
        self.attempts = attempts
        self.minimize_on = minimize_on
        self.log = log or (lambda text: None)
        self.divergences = []
        self.families_run = collections.Counter()
        self.done = 0
        self.elapsed = 0.0
        self.stopped = None

    # -- the loop -------------------------------------------------------------------------

    def start(self):
        """Start every target and check it serves; TargetError when one does not."""
        for side in self.sides:
            side.target.start()
            v = oracle.check(side.target, self.codec, self.timeout)
            if not v.ok:
                side.target.stop()
                raise TargetError(f"{side.label} ({side.target.describe()}) does not serve: "
                                  f"{v.detail}")

    def run(self):
        t0 = time.monotonic()
        deadline = t0 + self.seconds if self.seconds else None
        previous = None
        try:
            for case in generate.cases(self.seed, self.cases, self.codec, self.families):
                if deadline and time.monotonic() >= deadline:
                    break
                results = [(side.label, *self.one(side, case, previous)) for side in self.sides]
                self.done += 1
                self.families_run[case.family] += 1
                self.log(f"{case.name} " + " ".join(f"{label}:{outcome}" for label, outcome, _
                                                    in results) + f"  {case.label}")
                if len(results) == 2:
                    d = diff.compare(case, results)
                    if d:
                        d.save(self.out_dir)
                        self.divergences.append(d)
                previous = case
        except Stop as e:
            self.stopped = str(e)
        finally:
            self.elapsed = time.monotonic() - t0
        return self

    def one(self, side, case, previous):
        """(outcome, Play) of one case against one side, findings handled."""
        t = side.target
        if previous is not None and t.exit_status() is not None:
            # It died after the previous case's liveness check had passed.
            late = oracle.check(t, self.codec, self.timeout)
            late.signature = oracle.crash_signature(t.log_since(t.log_start()))
            self.finding(side, previous, late, None)
        play, verdict = self.attempt(side, case.actions)
        outcome = play.outcome if verdict.ok else "down"
        side.outcomes[outcome] += 1
        if not verdict.ok:
            self.finding(side, case, verdict, play)
        self.watch_memory(side, case)
        return outcome, play

    # -- findings -------------------------------------------------------------------------

    def finding(self, side, case, verdict, play):
        f = Finding(side.label, case, verdict, self.codec)
        side.findings.append(f)
        self.log(f"finding: {f.kind} on {side.label} after case {case.name}: {f.detail}")
        if not side.target.managed:
            f.save(self.out_dir, play.entries if play else entries_of(case.actions, self.codec))
            f.note = "attached target: not minimized, run stopped"
            raise Stop(f"{side.label} is down after case {case.name} and cannot be restarted")
        self.restart(side)
        if self.minimize_on:
            f.reproduced = self.reproduces(side, case.actions, verdict)
            if f.reproduced:
                f.actions, used = minimize.minimize(
                    case.actions, lambda acts: self.reproduces(side, acts, verdict),
                    self.attempts)
                f.attempts = used + 1
                f.minimized = True
            else:
                f.attempts = 1
                f.note = "did not reproduce on a fresh target"
        final, again = self.attempt(side, f.actions)
        if not again.ok:
            self.restart(side)
        f.save(self.out_dir, final.entries)
        side.watch.reset()
        side.recent = []

    def attempt(self, side, actions):
        """Play actions, then check liveness; the verdict carries the crash line if any."""
        mark = side.target.mark()
        play = runner.play(actions, side.target.addr, self.codec, self.settle, self.timeout)
        verdict = oracle.check(side.target, self.codec, self.timeout)
        if not verdict.ok:
            verdict.signature = oracle.crash_signature(side.target.log_since(mark))
        return play, verdict

    def reproduces(self, side, actions, first):
        """Whether actions bring the same failure as `first`; the target is left serving."""
        play, verdict = self.attempt(side, actions)
        if verdict.ok:
            return False
        self.restart(side)
        return play.refused is None and oracle.same_failure(first, verdict)

    def restart(self, side):
        try:
            side.target.restart()
        except TargetError as e:
            raise Stop(f"cannot restart {side.label}: {e}") from None
        v = oracle.check(side.target, self.codec, self.timeout)
        if not v.ok:
            raise Stop(f"{side.label} does not serve after a restart: {v.detail}")

    def watch_memory(self, side, case):
        side.recent.append(case)
        if not side.watch.due(self.done + 1):
            return
        v = side.watch.sample(side.target)
        recent, side.recent = side.recent, []
        if v.ok:
            return
        f = Finding(side.label, case, v, self.codec)
        f.actions = [a for c in recent for a in c.actions]
        f.note = f"the {len(recent)} cases since the previous sample; not minimized"
        entries = [e for c in recent for e in entries_of(c.actions, self.codec, f"k{c.index}-")]
        f.save(self.out_dir, entries)
        side.findings.append(f)
        self.log(f"finding: memory on {side.label}: {v.detail}")
        self.restart(side)

    # -- figures --------------------------------------------------------------------------

    def findings(self):
        return [f for side in self.sides for f in side.findings]

    def summary(self):
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        return {
            "seed": self.seed, "codec": self.codec, "cases": self.done,
            "seconds": round(self.elapsed, 2), "cases_per_second": round(rate, 2),
            "families": dict(self.families_run),
            "targets": [{"label": s.label, "target": s.target.describe(),
                         "outcomes": dict(s.outcomes), "restarts": s.target.restarts,
                         "rss_kb_first_last": s.watch.seen,
                         "findings": len(s.findings), "logs": s.target.log_paths()}
                        for s in self.sides],
            "findings": [f.to_json() for f in self.findings()],
            "distinct_findings": len({(f.side, f.kind, f.signature) for f in self.findings()}),
            "divergences": [d.to_json() for d in self.divergences],
            "stopped": self.stopped,
        }

