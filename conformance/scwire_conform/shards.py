# SPDX-License-Identifier: AGPL-3.0-or-later
"""A run split over processes: `scwire-conform --jobs N`.

Most of a case's time is spent waiting on the IUT, so N pytest processes,
each with an IUT of its own and every N-th selected case (`--shard K/N`),
finish in about 1/N of the time even on few cores.  Each shard writes its
JSON report and the HTML rows it rendered under OUT/shards/K/; this module
runs the shards and merges what they wrote into the one report of the run,
in the order the cases were collected, with the verdicts, exit status and
files of a run made in one process.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from . import __version__, htmlreport, report, spec, spectext


class ShardError(Exception):
    """A shard ended without a report to merge."""


def _start(argv, k, n, out, html_path):
    d = os.path.join(out, "shards", str(k))
    os.makedirs(d, exist_ok=True)
    log = open(os.path.join(d, "pytest.log"), "w", encoding="utf-8")
    cmd = [sys.executable, "-m", "pytest", *argv, "--shard", f"{k}/{n}", "--out", d,
           "--json", os.path.join(d, "report.json"), "--html", html_path]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log, d


def _stop_all(shards):
    for proc, _, _ in shards:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for proc, log, _ in shards:
        proc.wait()
        log.close()


def _load(d, rc):
    path = os.path.join(d, "report.json")
    try:
        with open(path, encoding="utf-8") as fh:
            rep = json.load(fh)
    except (OSError, ValueError) as e:
        raise ShardError(f"the shard in {d} exited with status {rc} and left no report "
                         f"({e}); its output: {os.path.join(d, 'pytest.log')}") from None
    try:
        with open(os.path.join(d, "fragments.json"), encoding="utf-8") as fh:
            frags = json.load(fh)
    except (OSError, ValueError):
        frags = {}
    return rep, frags


def _interleave(lists):
    """Shard k holds cases k, k+N, ...: taking one of each in turn restores the
    order of the whole selection."""
    out, i = [], 0
    while any(i < len(x) for x in lists):
        out += [x[i] for x in lists if i < len(x)]
        i += 1
    return out


def merge(reports, *, started, duration):
    """One report dict from the shards' reports."""
    first = reports[0]
    iut = dict(first.get("iut") or {})
    for key in ("pids", "stderr"):
        iut[key] = [v for r in reports for v in (r.get("iut") or {}).get(key) or []]
    meta = {k: first.get(k) for k in ("suite_version", "spec_revision", "profile", "codec",
                                      "strict", "repeat", "expect_file")}
    meta.update(iut=iut, started=started, duration_s=round(duration, 3),
                capabilities=first.get("declared_capabilities") or [],
                inconclusive="; ".join(r["inconclusive"] for r in reports
                                       if r.get("inconclusive")) or None)
    cases, seen = [], set()
    # A case of the run itself (the probe's) may stand in every shard's report.
    for c in _interleave([r.get("cases") or [] for r in reports]):
        if c["id"] not in seen:
            seen.add(c["id"])
            cases.append(c)
    merged = report.build(meta, cases)
    incidents = [i for r in reports for i in r.get("incidents") or []]
    if incidents:
        merged["incidents"] = incidents
    return merged


def exit_code(merged, shard_codes, strict):
    """The status of the whole run, by the rules of a run in one process."""
    if merged.get("inconclusive"):
        return 2
    if any(c >= 3 for c in shard_codes) or not merged["cases"]:
        return 3
    return report.exit_code(merged["summary"], strict)


def run(argv, jobs, settings):
    """Run the pytest arguments `argv` as `jobs` shards; merge, write the reports,
    print the summary; the exit status of the run."""
    s = settings
    shutil.rmtree(os.path.join(s.out, "shards"), ignore_errors=True)
    t0, wall = time.monotonic(), time.time()
    print(f"scwire-conform: running the selected cases in {jobs} processes, each with an IUT "
          f"of its own (--jobs); their output: {os.path.join(s.out, 'shards', 'K', 'pytest.log')}",
          flush=True)
    shards = [_start(argv, k, jobs, s.out, s.html_path) for k in range(jobs)]
    try:
        codes = [proc.wait() for proc, _, _ in shards]
    except KeyboardInterrupt:
        _stop_all(shards)
        raise
    _stop_all(shards)
    loaded = [_load(d, rc) for (_, _, d), rc in zip(shards, codes)]
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall))
    merged = merge([r for r, _ in loaded], started=started, duration=time.monotonic() - t0)
    code = exit_code(merged, codes, s.strict)
    merged["exit_status"] = code
    merged["shards"] = jobs
    report.write_json(s.json_path, merged)
    report.write_junit(s.junit_path, merged)
    frags = {k: v for _, f in loaded for k, v in f.items()}
    requirements = spectext.load_requirements()
    incidents = list(merged.get("incidents") or [])
    try:
        htmlreport.write_html(s.html_path, merged, requirements, code, frags)
    except Exception as e:  # noqa: BLE001 - the verdicts stand without the page
        incidents.append(f"the HTML report could not be written: {type(e).__name__}: {e}")
    for text, markup in report.summary_lines(
            merged, exit_code=code, settings=s, paths=(s.json_path, s.junit_path, s.html_path,
                                                       s.out),
            version=__version__, revision=spec.revision(), incidents=incidents,
            inconclusive=merged.get("inconclusive"), nothing_run=not merged["cases"]):
        print(text)
    return code
