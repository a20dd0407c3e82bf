# SPDX-License-Identifier: AGPL-3.0-or-later
"""The output's README.md: versions, what was recorded, and how it compares.

Two recordings of a scenario are compared by their message kinds per
connection (traces.kind_sequences): uuids, cids, ports and tracebacks
differ in every run, the order and kinds of messages should not.
"""
import os

from scenarios import SCENARIOS
from traces import kind_sequences, one_direction, read_lines


class Outcome:
    """What became of one scenario: `status` is recorded, failed or not recorded."""

    def __init__(self, scenario, status, seconds, reason="", notes=(), entries=()):
        self.scenario = scenario
        self.status = status
        self.seconds = seconds
        self.reason = reason
        self.notes = list(notes)
        self.entries = list(entries)

    @property
    def messages(self):
        return sum(1 for e in self.entries if "event" not in e)


def compare(committed_dir, file, entries):
    """How the kind sequences of `entries` compare with the committed `file`'s."""
    path = os.path.join(committed_dir, file)
    if not os.path.exists(path):
        return "no committed file"
    old, new = kind_sequences(read_lines(path)), kind_sequences(entries)
    if old == new:
        return "equal"
    diffs = []
    for conn in sorted(set(old) | set(new), key=lambda c: (len(c), c)):
        a, b = old.get(conn, []), new.get(conn, [])
        if a == b:
            continue
        if all(one_direction(a, d) == one_direction(b, d) for d in ("c2s", "s2c")):
            diffs.append(f"{conn}: same per direction, interleaved differently")
            continue
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        diffs.append(f"{conn}: {len(a)} vs {len(b)} messages, first difference at #{at + 1} "
                     f"({_describe(a, at)} vs {_describe(b, at)})")
    return "differ: " + "; ".join(diffs)


def _describe(seq, i):
    return "end" if i >= len(seq) else " ".join(seq[i])


INTRO = """\
# tractor 0.1.0a4 traces, recorded again

Recorded on {when} UTC by `tools/dev/record-vectors` (`make record-vectors`), for
comparison with the committed recording in `conformance/vectors/tractor-0.1.0a4/`,
whose README.md describes the format, the set-up and every scenario.  Same
set-up: per scenario a fresh daemon `arbiter` serving `svc`, `scwire-tap` in front
of it and a separately started client (`tools/dev/recording/`); the parent/child
files from a `dumpcap` capture of the parent's registry port, read by
`tools/scwire-trace --pcap` (the root's probe of that port before it listens,
refused at SYN, is left out).  Same format (no time field) and scrubbing: file
paths in messages and side logs replaced by `<tractor>/`, `<app>/`
(tools/dev/recording), `<site-packages>/` and `<stdlib>/`, each scrubbed message
re-encoded so that `hex` and `msg` agree.  uuids, cids and ports are this run's.

The profile scenarios (`profile/*.jsonl`, side logs in `logs/profile/`), one per
row of `spec/profiles.md`, are recorded otherwise: the suite's tractor adapter
(`conformance/iut/tractor/run.py --codec msgpack --loglevel runtime`, namespace
`scwire_service`, its own registry; `<app>/` is its directory there) behind
`scwire-tap`, driven by the raw client `tools/dev/recording/profileclient.py`.  In
`ctx_7_unread_error` the client is also the callee of the adapter's `ctx_call`,
reached through a second `scwire-tap`: `c1` is the client's connection to the
adapter, `c2` the adapter's to the callee, the two taps' lines merged by time.
The supervision rows (`sup_*`) have tractor as a child or a parent instead: in
`sup_5`, `sup_6` and `sup_12` the recorder starts the adapter's `child.py` and the
client plays its parent (and a stand-in registry), with a tap in front of the
client's parent listener, of its registry and of the child's listener, merged by
time; `sup_9` is recorded from `dumpcap` captures of the adapter's port and of
its child's, merged by packet time, the child's signals traced with `strace`.

## Versions

- tractor: `{root}`, version {version}, git describe: {describe}
- SCWIRE_TRACTOR_PYTHONPATH: `{pythonpath}`
- Python {python} (`{executable}`), trio {trio}, msgpack {msgpack}
- proxy: {tap}

## Scenarios recorded

{count} scenarios in {total:.0f} s.  The last column compares the direction and kind
of every message, per connection, with the committed file (the two opening uids,
which both sides send at once, taken in one order).

| file | set | client | seconds | messages | kinds per connection vs committed |
|---|---|---|---|---|---|
"""

CAUSES = """
## Known causes of differences

- e2, e3, g and context_overrun race a sender against a cancellation or an
  overrun: how many `yield` or `error` messages go out first varies run to run
  (the committed README says so of e2 and e3).
- The committed first set (rpc_return ... cancel_task) shows nothing the daemon
  sent after the client's FIN: no uid on the probe connection c1, no closing
  `nil` on the others.  The proxy used for it apparently ended both halves at the
  first FIN; scwire-tap relays half-closes, so these recordings have them, as the
  committed second set does.

Side logs in `logs/`: `<file>.server.log` (the daemon, or the adapter for
`profile/<file>`), `<file>.client.log` or `<file>.parent.log`,
`i_registry.svcd.log`; `profile/<file>.child.log` (the child of the `sup_*`
child scenarios) and `profile/sup_9_stubborn_child.child-signals.log`.
`logs/b_direct_no_proxy.*` of the committed set (a capture of two bare probes
made by hand) is not made here.
"""


def readme(info, outcomes, started, tap_version, committed_dir):
    recorded = [o for o in outcomes if o.status == "recorded"]
    text = INTRO.format(
        when=f"{started:%Y-%m-%d %H:%M:%S}", root=info["tractor_root"],
        version=info["tractor_version"] or "unknown",
        describe=info["git_describe"] or "not a git checkout",
        pythonpath=os.environ.get("SCWIRE_TRACTOR_PYTHONPATH", ""),
        python=info["python"], executable=info["python_executable"], trio=info["trio"],
        msgpack=info["msgpack"], tap=tap_version, count=len(recorded),
        total=sum(o.seconds for o in outcomes))
    for o in recorded:
        s = o.scenario
        notes = "".join(f"; note: {n}" for n in o.notes)
        text += (f"| {s.file} | {s.recording_set} | {s.kind} | {o.seconds:.1f} | "
                 f"{o.messages} | {compare(committed_dir, s.file, o.entries)}{notes} |\n")
    return text + "\n## Not re-recorded\n\n" + not_recorded(outcomes) + CAUSES


def not_recorded(outcomes):
    done = {o.scenario for o in outcomes}
    lines = [f"- {o.scenario.name}: {o.status}: {o.reason}"
             for o in outcomes if o.status != "recorded"]
    left = [s.name for s in SCENARIOS if s not in done]
    if left:
        lines.append(f"- not asked for in this run (--only): {', '.join(left)}")
    return "\n".join(lines) + "\n" if lines else \
        "None: every scenario of the committed recording was recorded again.\n"
