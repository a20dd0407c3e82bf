# SPDX-License-Identifier: AGPL-3.0-or-later
"""The command line of scwire-netfuzz: options, the run, the summary, the exit status.

Exit status: 0 no finding (and, with two targets, no divergence), 1 findings
or divergences, 2 usage or a target that cannot be started or does not serve
at the start, 3 an internal error.
"""
import argparse
import os
import sys

from .campaign import Campaign, Side
from .findings import write_summary
from .mutators import FAMILIES
from .oracle import MemoryWatch
from .target import REPO, DEFAULT_CMD, Target, TargetError

PROG = "scwire-netfuzz"
DEFAULT_OUT = os.path.join(REPO, "build", "netfuzz")
DEFAULT_CASES = 200


def _number(kind, minimum):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}: {text!r}")
        return v
    return parse


def parse(argv):
    ap = argparse.ArgumentParser(
        prog=PROG, description="Attack a live implementation of the tractor 0.1.0a4 wire "
        "protocol with mutated conversations; check after every case that it still serves.",
        epilog="exit status: 0 no finding, 1 findings or divergences, 2 usage or a target "
               "unreachable at the start, 3 internal error")
    g = ap.add_argument_group("target (the conformance suite's contract)")
    t = g.add_mutually_exclusive_group()
    t.add_argument("--iut-cmd", metavar="T", help="start the target from this command; {host}, "
                   "{port} (0: it prints host:port first on stdout), {codec} are filled in "
                   f"(default: {DEFAULT_CMD})")
    t.add_argument("--iut-addr", metavar="HOST:PORT", help="attach to a running target instead "
                   "(it cannot be restarted: the run stops at its first finding)")
    g.add_argument("--iut-host", default="127.0.0.1", metavar="HOST",
                   help="{host} of the command templates (default 127.0.0.1)")
    g.add_argument("--iut-netns", metavar="NAME",
                   help="start the targets in the network namespace NAME, as `ip netns exec "
                        "NAME ...` (needs root; with conformance/netem/run-netem the link "
                        "between the namespaces has its profile's loss, rate or delay)")
    d = g.add_mutually_exclusive_group()
    d.add_argument("--diff-cmd", metavar="T", help="differential mode: a second target, started")
    d.add_argument("--diff-addr", metavar="HOST:PORT", help="differential mode: a second target, "
                   "attached")
    g.add_argument("--codec", choices=("msgpack", "lenprefix"), default="msgpack")
    g = ap.add_argument_group("cases")
    g.add_argument("--seed", type=_number(int, 0), default=1, help="seed of the case stream "
                   "(default 1); the same seed gives the same cases")
    g.add_argument("--cases", type=_number(int, 1), metavar="N",
                   help=f"cases to run (default {DEFAULT_CASES} unless --seconds is given)")
    g.add_argument("--seconds", type=_number(float, 0.1), metavar="S",
                   help="stop starting new cases after S seconds")
    g.add_argument("--family", action="append", choices=list(FAMILIES), metavar="F",
                   help=f"only this mutation family (repeatable): {', '.join(FAMILIES)}")
    g = ap.add_argument_group("oracle")
    g.add_argument("--timeout", type=_number(float, 0.1), default=5.0, metavar="S",
                   help="bound of every wait, the liveness check's included (default 5)")
    g.add_argument("--settle", type=_number(float, 0.01), default=0.1, metavar="S",
                   help="a case's connections are read until quiet this long (default 0.1)")
    g.add_argument("--rss-every", type=_number(int, 0), default=25, metavar="K",
                   help="sample a started target's VmRSS every K cases, 0: never (default 25)")
    g.add_argument("--rss-window", type=_number(int, 2), default=8, metavar="W",
                   help="samples compared (default 8)")
    g.add_argument("--rss-growth-kb", type=_number(int, 1), default=65536, metavar="KB",
                   help="growth over the window that is a finding (default 65536)")
    g = ap.add_argument_group("findings")
    g.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"trace files, summary.json, target logs (default {DEFAULT_OUT})")
    g.add_argument("--json", metavar="PATH", help="the JSON summary (default OUT/summary.json)")
    g.add_argument("--min-attempts", type=_number(int, 0), default=40, metavar="N",
                   help="re-checks allowed to minimize one finding (default 40)")
    g.add_argument("--no-minimize", action="store_true", help="save findings as they came")
    g.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    args = ap.parse_args(argv)
    if args.iut_netns and args.iut_addr and not (args.diff_cmd):
        ap.error("--iut-netns starts a target in a namespace; --iut-addr attaches to one "
                 "that runs already")
    if args.cases is None and args.seconds is None:
        args.cases = DEFAULT_CASES
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        ap.error(f"--json {args.json}: its directory does not exist")
    return args


def make_sides(args):
    logs = os.path.join(args.out, "logs")
    where = {"host": args.iut_host, "netns": args.iut_netns}
    main = Target("iut", cmd=None if args.iut_addr else (args.iut_cmd or DEFAULT_CMD),
                  addr=args.iut_addr, codec=args.codec, log_dir=logs, **where)
    targets = [main]
    if args.diff_cmd or args.diff_addr:
        targets.append(Target("diff", cmd=args.diff_cmd, addr=args.diff_addr, codec=args.codec,
                              log_dir=logs, **where))
    return [Side(t, MemoryWatch(args.rss_every, args.rss_window, args.rss_growth_kb))
            for t in targets]


def report(c, json_path):
    s = c.summary()
    print(f"{PROG}: seed {c.seed}, codec {c.codec}: {s['cases']} cases in {s['seconds']} s "
          f"({s['cases_per_second']} cases/s)")
    for side, t in zip(c.sides, s["targets"]):
        counts = "  ".join(f"{k} {v}" for k, v in t["outcomes"].items())
        rss = t["rss_kb_first_last"]
        rss = f"  VmRSS {rss[0]} -> {rss[1]} kB" if rss else ""
        print(f"  {side.label}: {counts}  restarts {t['restarts']}{rss}  ({t['target']})")
    findings = c.findings()
    distinct = {(f.side, f.kind, f.signature) for f in findings}
    print(f"findings: {len(findings)} ({len(distinct)} distinct by target, kind and crash line)")
    for f in findings:
        print("  " + f.line())
    if len(c.sides) == 2:
        print(f"divergences: {len(c.divergences)}")
        for d in c.divergences:
            print("  " + d.line())
            for label, path in d.files.items():
                print(f"    {label}: {path}")
    if c.stopped:
        print(f"stopped early: {c.stopped}")
    s["exit_status"] = 1 if findings or c.divergences else 0
    write_summary(json_path, s)
    print(f"summary: {json_path}")
    return s["exit_status"]


def main(argv):
    args = parse(argv)
    try:
        os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    except OSError as e:
        print(f"{PROG}: cannot create {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        sides = make_sides(args)
    except TargetError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    c = Campaign(sides, codec=args.codec, seed=args.seed, cases=args.cases,
                 seconds=args.seconds, families=args.family, timeout=args.timeout,
                 settle=args.settle, out_dir=args.out, attempts=args.min_attempts,
                 minimize_on=not args.no_minimize,
                 log=(lambda text: print(text, flush=True)) if args.verbose else None)
    try:
        try:
            c.start()
        except TargetError as e:
            print(f"{PROG}: {e}", file=sys.stderr)
            return 2
        c.run()
    finally:
        for side in sides:
            side.target.stop()
    return report(c, args.json or os.path.join(args.out, "summary.json"))
