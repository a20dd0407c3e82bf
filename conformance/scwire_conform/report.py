# SPDX-License-Identifier: AGPL-3.0-or-later
"""Reports of a run: the JSON report, JUnit XML, and the summary table.

(The HTML report is htmlreport.py; it is built from the same dict.)  Every
report names the suite version and the spec revision it checked.

JUnit has no place for NON-STRICT, so the verdict travels as a property of
each testcase and in its system-out; with --strict a NON-STRICT case is a
<failure type="NON-STRICT"> so that CI tools count it.  XPASS and FLAKY are
failures of their own type, XFAIL is <skipped type="XFAIL">.
"""
import json
import os
import xml.etree.ElementTree as ET

from . import caps
from . import verdict as V
from .wirelog import short

_KEYS = {V.PASS: "pass", V.FAIL: "fail", V.NON_STRICT: "non_strict", V.INFO: "info",
         V.SKIP: "skip", V.ERROR: "error", V.XFAIL: "xfail", V.XPASS: "xpass",
         V.FLAKY: "flaky"}
COLUMNS = [(V.PASS, "pass"), (V.FAIL, "fail"), (V.NON_STRICT, "non-strict"),
           (V.INFO, "info"), (V.SKIP, "skip"), (V.ERROR, "error")]
# Shown (in the terminal table) only when a run has them.
EXTRA_COLUMNS = [(V.XFAIL, "xfail"), (V.XPASS, "xpass"), (V.FLAKY, "flaky")]
ALL_COLUMNS = COLUMNS + EXTRA_COLUMNS
KEY = _KEYS
WIRE_LOG_LIMIT = 400   # entries kept per case in the JSON report (head and tail)
# Above this share of SKIPs among the cases run, a run says loudly that its
# verdict covers little of the suite.
MOSTLY_SKIPPED = 0.5


def _clip_log(entries, limit=WIRE_LOG_LIMIT):
    if len(entries) <= limit:
        return list(entries)
    half = limit // 2
    gap = {"event": "omitted", "entries": len(entries) - 2 * half}
    return list(entries[:half]) + [gap] + list(entries[-half:])


WIRE_TAIL = 6          # last wire log entries quoted in the observation of a failure


def ids_at(rec, level):
    """The ids a case claims at a level (all it claims when none is at that level):
    the requirements a failed check of that level is about."""
    ids = [rid for rid in rec.spec_ids if rec.levels.get(rid) == level]
    return ids or list(rec.spec_ids)


def violation_ids(rec, x):
    """The requirement ids a failed check is about: its own, else the case's."""
    return [x.rid] if getattr(x, "rid", None) else ids_at(rec, x.level)


def violation_lines(rec):
    """One line per failed check, naming the level and the requirement ids; a
    failure of robustness says so first."""
    return [f"[{x.level} {' '.join(violation_ids(rec, x))}] "
            f"{'robustness: ' if getattr(x, 'robustness', False) else ''}{x.msg}"
            for x in rec.violations]


def _wire_tail(rec):
    """The last entries of a case's wire log, one short line each."""
    entries = rec.wire_log.entries[-WIRE_TAIL:] if rec.wire_log else []
    out = []
    for e in entries:
        arrow = {"c2s": "->", "s2c": "<-"}.get(e.get("dir"), "")
        what = short(e["msg"], 160) if "msg" in e else e.get("event", "?")
        out.append(f"{e.get('conn', '')} {arrow} {what}".replace("  ", " "))
    return out


def _observation(rec):
    v = rec.verdict()
    if v in (V.FAIL, V.NON_STRICT) and rec.violations:
        lines = violation_lines(rec) + [f"expected: {rec.expectation}"]
        tail = _wire_tail(rec)
        if tail:
            lines.append("last on the wire: " + " | ".join(tail))
        return "\n".join(lines)
    if v == V.SKIP:
        return f"skipped: {rec.skip_reason}"
    if v == V.ERROR:
        return f"suite error: {rec.error or 'skip without a reason'}"
    if rec.infos:
        # What a case chose to record says more than the last message it saw.
        return "\n".join(rec.infos)
    return rec.observation


def case_entry(runs, expected=None):
    """The JSON report's view of one case: a record, or the list of records of
    its runs (--repeat); `expected` is the reason it is listed as a known
    deviation ("" without a reason; None when it is not listed)."""
    runs = [runs] if isinstance(runs, V.CaseRecord) else list(runs)
    rec = V.representative(runs)
    v = V.combine(r.verdict() for r in runs)
    if expected is not None:
        v = V.expected(v)
    observation = _observation(rec)
    if v == V.FLAKY:
        observation = (f"the verdicts of {len(runs)} runs differ: "
                       + ", ".join(r.verdict() for r in runs)
                       + f"; run {rec.run} shown: " + observation)
    elif v == V.XPASS:
        observation = (f"listed as a known deviation ({expected or 'no reason given'}) but "
                       f"it did not fail: {observation}")
    entry = {
        "id": rec.id,
        "spec_ids": list(rec.spec_ids),
        "levels": {k: rec.levels.get(k) for k in rec.spec_ids},
        "area": rec.area,
        "verdict": v,
        "expectation": rec.expectation,
        "observation": observation,
        "violations": [{"level": x.level, "spec_ids": violation_ids(rec, x), "msg": x.msg,
                        "robustness": bool(getattr(x, "robustness", False))}
                       for x in rec.violations],
        "wire_log": _clip_log(rec.wire_log.entries if rec.wire_log else []),
        "duration_s": round(sum(r.duration for r in runs), 3),
        "iut_log": rec.iut_log,
        "wire_log_file": rec.wire_path,
    }
    if expected is not None:
        entry["expected_deviation"] = expected
    missing = caps.missing_of(rec.skip_reason) if v == V.SKIP else None
    if missing:
        entry["missing_capability"] = missing
    if len(runs) > 1:
        entry["shown_run"] = rec.run
        entry["runs"] = [{"run": r.run, "verdict": r.verdict(),
                          "duration_s": round(r.duration, 3),
                          "observation": _observation(r).split("\n", 1)[0][:300],
                          "wire_log_file": r.wire_path} for r in runs]
    return entry


def summarize(cases):
    """Counts per verdict, overall and per area."""
    def zero():
        return {"total": 0, **{k: 0 for k in _KEYS.values()}}
    total, by_area = zero(), {}
    for c in cases:
        for bucket in (total, by_area.setdefault(c["area"], zero())):
            bucket["total"] += 1
            bucket[_KEYS[c["verdict"]]] += 1
    return {**total, "by_area": by_area}


def exit_code(summary, strict):
    """0: no FAIL (and with strict no NON-STRICT), no XPASS, no FLAKY;
    1: failures; 3: suite errors."""
    if summary["error"]:
        return 3
    if summary["fail"] or summary.get("xpass") or summary.get("flaky") \
            or (strict and summary["non_strict"]):
        return 1
    return 0


EXIT_MEANING = {0: "no failures", 1: "failures", 2: "inconclusive", 3: "suite error"}


def meaning(code):
    return EXIT_MEANING.get(code, "suite error")


def build(meta, records, expected=None):
    """The report dict: meta (suite_version, spec_revision, profile, codec, iut,
    strict; optionally started, duration_s, repeat, expect_file, inconclusive)
    and one entry per case; each of records is a CaseRecord or the list of
    the runs of one case (or an entry made by case_entry already); expected
    maps case ids to known-deviation reasons."""
    expected = expected or {}
    cases = []
    for r in records:
        if isinstance(r, dict):          # an entry made by case_entry before
            cases.append(r)
            continue
        first = r if isinstance(r, V.CaseRecord) else r[0]
        cases.append(case_entry(r, expected.get(first.id)))
    report = {
        "suite_version": meta["suite_version"],
        "spec_revision": meta["spec_revision"],
        "profile": meta["profile"],
        "codec": meta["codec"],
        "iut": meta["iut"],
        "strict": meta["strict"],
    }
    for key in ("started", "duration_s", "repeat", "expect_file"):
        if meta.get(key) is not None:
            report[key] = meta[key]
    report["cases"] = cases
    report["summary"] = summarize(cases)
    report["declared_capabilities"] = sorted(meta.get("capabilities") or ())
    report["capability_skips"] = capability_skips(cases)
    report["coverage_warning"] = coverage_warning(report["summary"], report["capability_skips"])
    if meta.get("inconclusive"):
        report["inconclusive"] = meta["inconclusive"]
    return report


def capability_skips(cases):
    """{capability: number of cases that SKIPped for want of it}, largest first."""
    counts = {}
    for c in cases:
        cap = c.get("missing_capability")
        if cap:
            counts[cap] = counts.get(cap, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def capability_line(cap_skips):
    """What the run did not reach for want of capabilities, or None."""
    if not cap_skips:
        return None
    parts = ", ".join(f"{cap} {n}" for cap, n in cap_skips.items())
    return (f"SKIP for want of a capability the IUT did not declare: {parts} "
            f"(declare with --iut-cap NAME if it has them)")


def coverage_warning(summary, cap_skips):
    """A warning when most cases run were SKIPped, else None."""
    total, skipped = summary["total"], summary["skip"]
    if not total or skipped <= total * MOSTLY_SKIPPED:
        return None
    why = f"; {capability_line(cap_skips)}" if cap_skips else ""
    return (f"{skipped} of {total} selected cases ({100 * skipped // total}%) were SKIPPED: "
            f"a pass of this run says little about the IUT{why}")


def write_json(path, report):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def write_junit(path, report):
    strict = report.get("strict", False)
    s = report["summary"]
    root = ET.Element("testsuites", name="scwire-conform", tests=str(s["total"]))
    fails = errors = skips = 0
    run_props = suite_properties(report)
    areas = sorted(s["by_area"]) or [None]
    for area in areas:
        cases = [c for c in report["cases"] if c["area"] == area]
        suite = ET.SubElement(root, "testsuite", name=f"scwire.{area or 'run'}",
                              tests=str(len(cases)),
                              time=f"{sum(c['duration_s'] for c in cases):.3f}")
        sprops = ET.SubElement(suite, "properties")
        for k, val in run_props:
            ET.SubElement(sprops, "property", name=k, value=val)
        sf = se = ss = 0
        for c in cases:
            name = c["id"].split("/", 1)[1]
            tc = ET.SubElement(suite, "testcase", classname=f"scwire.{area}", name=name,
                               time=f"{c['duration_s']:.3f}")
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="verdict", value=c["verdict"])
            ET.SubElement(props, "property", name="spec_ids", value=",".join(c["spec_ids"]))
            if "runs" in c:
                ET.SubElement(props, "property", name="runs",
                              value=",".join(r["verdict"] for r in c["runs"]))
            if "expected_deviation" in c:
                ET.SubElement(props, "property", name="expected_deviation",
                              value=c["expected_deviation"])
            text = f"expected: {c['expectation']}\nobserved: {c['observation']}"
            v = c["verdict"]
            if v == V.XFAIL:
                ET.SubElement(tc, "skipped", type=V.XFAIL,
                              message=f"known deviation: {c.get('expected_deviation') or ''}"
                              f"; {c['observation'][:400]}")
                ss += 1
            elif v in (V.FAIL, V.XPASS, V.FLAKY) or (v == V.NON_STRICT and strict):
                el = ET.SubElement(tc, "failure", type=v, message=c["observation"][:500])
                el.text = text
                sf += 1
            elif v == V.ERROR:
                el = ET.SubElement(tc, "error", type=v, message=c["observation"][:500])
                el.text = text
                se += 1
            elif v == V.SKIP:
                ET.SubElement(tc, "skipped", message=c["observation"])
                ss += 1
            if v in (V.NON_STRICT, V.INFO, V.PASS):
                ET.SubElement(tc, "system-out").text = f"{v}\n{text}"
        suite.set("failures", str(sf))
        suite.set("errors", str(se))
        suite.set("skipped", str(ss))
        fails, errors, skips = fails + sf, errors + se, skips + ss
    root.set("failures", str(fails))
    root.set("errors", str(errors))
    root.set("skipped", str(skips))
    if report.get("coverage_warning"):
        # CI front ends show a suite's system-err where they hide properties.
        for suite in root.iter("testsuite"):
            ET.SubElement(suite, "system-err").text = "WARNING: " + report["coverage_warning"]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def suite_properties(report):
    """(name, value) pairs that say what checked what, for JUnit <properties>."""
    iut = report.get("iut") or {}
    out = [("suite_version", str(report["suite_version"])),
           ("spec_revision", str(report["spec_revision"])),
           ("profile", str(report["profile"])), ("codec", str(report["codec"])),
           ("strict", "true" if report.get("strict") else "false"),
           ("iut", str(iut.get("cmd") or iut.get("addr") or "")),
           ("capabilities", ",".join(report.get("declared_capabilities") or ()))]
    for key in ("repeat", "expect_file", "started"):
        if report.get(key) is not None:
            out.append((key, str(report[key])))
    cap_skips = report.get("capability_skips")
    if cap_skips:
        out.append(("capability_skips", ",".join(f"{k}={n}" for k, n in cap_skips.items())))
    if report.get("coverage_warning"):
        out.append(("coverage_warning", report["coverage_warning"]))
    return out


def headline(report):
    """One line: what checked what (suite version, spec revision, profile, codec)."""
    return (f"scwire-conform {report['suite_version']}, spec revision "
            f"{report['spec_revision']}, profile {report['profile']}, codec {report['codec']}"
            + (", strict" if report.get("strict") else ""))


def columns(summary):
    """The verdict columns of a summary: the six always, XFAIL/XPASS/FLAKY when used."""
    return COLUMNS + [(v, label) for v, label in EXTRA_COLUMNS if summary.get(_KEYS[v])]


def table(summary):
    """The plain summary table: one row per area, then the totals."""
    cols = columns(summary)
    head = ["area"] + [label for _, label in cols] + ["total"]
    rows = []
    for area in sorted(summary["by_area"]):
        b = summary["by_area"][area]
        rows.append([area] + [str(b[_KEYS[v]]) for v, _ in cols] + [str(b["total"])])
    rows.append(["TOTAL"] + [str(summary[_KEYS[v]]) for v, _ in cols] + [str(summary["total"])])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def fmt(r):
        return "  ".join(r[0].ljust(widths[0]) if i == 0 else r[i].rjust(widths[i])
                         for i in range(len(r)))
    rule = "-" * len(fmt(head))
    return "\n".join([fmt(head), rule] + [fmt(r) for r in rows[:-1]] + [rule, fmt(rows[-1])])


def summary_lines(rep, *, exit_code, settings, paths, version, revision, incidents=(),
                  inconclusive=None, suite_error=None, nothing_run=False):
    """The end of a run on the terminal: [(line, markup)], markup being pytest's
    write_line keywords (red, yellow, bold).  `paths` are those of the JSON, the
    JUnit XML, the HTML report and the logs."""
    s = settings
    out = []

    def line(text="", **markup):
        out.append((text, markup))
    if rep:
        line(headline(rep) + (f", each case {s.repeat} times" if s.repeat > 1 else "")
             + (f", known deviations from {s.expect_file}" if s.expect_file else ""))
    if inconclusive:
        line(f"INCONCLUSIVE: {inconclusive}", red=True, bold=True)
    if suite_error:
        line(f"ERROR: {suite_error}", red=True)
    elif nothing_run:
        line("ERROR: no case was run (nothing collected or selected)", red=True)
    if rep and rep["cases"]:
        _case_lines(rep, line)
    for inc in incidents:
        line(f"incident: {inc}", yellow=True)
    if rep and (rep["cases"] or inconclusive):
        for label, path in zip(("JSON report:", "JUnit XML:  ", "HTML report:", "logs:       "),
                               paths):
            line(f"{label} {path}")
    line(f"scwire-conform {version} (spec revision {revision}): profile {s.profile}, "
         f"codec {s.codec}"
         f"{', strict' if s.strict else ''}: exit {exit_code} ({meaning(exit_code)})",
         bold=True)
    return out


def link_line(iut):
    """The round-trip time the windows were widened by, and where it came from."""
    n = iut.get("link_samples") or 0
    how = f"the longest of {n} connection set-ups and echo round trips" if n else "given"
    if iut.get("link_lossy"):
        how += ", at least TCP's initial retransmission timeout: a sample showed a lost packet"
    where = f", IUT in network namespace {iut['netns']}" if iut.get("netns") else ""
    rate = iut.get("link_rate_bps")
    rate = f"; throughput {rate / 1024:.0f} KiB/s" if rate else ""
    return (f"link to the IUT: round trip {iut['link_rtt_s'] * 1000:.1f} ms ({how}{where}); "
            f"time windows widened by {iut['window_slack_s'] * 1000:.0f} ms{rate}")


def _case_lines(rep, line):
    for c in rep["cases"]:
        if c["verdict"] in (V.FAIL, V.NON_STRICT, V.ERROR, V.XPASS):
            first = c["observation"].splitlines()[0] if c["observation"] else ""
            line(f"{c['verdict']:<10} {c['id']}: {first[:200]}")
    flaky = [c for c in rep["cases"] if c["verdict"] == V.FLAKY]
    if flaky:
        line()
        line(f"FLAKY: {len(flaky)} case(s) whose runs disagreed:", yellow=True)
        for c in flaky:
            line(f"  {c['id']}: " + ", ".join(r["verdict"] for r in c.get("runs", [])))
    xfail = sum(1 for c in rep["cases"] if c["verdict"] == V.XFAIL)
    if xfail:
        line(f"XFAIL: {xfail} known deviation(s) failed as expected")
    line()
    line(table(rep["summary"]))
    line("declared capabilities: " + (", ".join(rep["declared_capabilities"]) or "none"))
    iut = rep.get("iut") or {}
    if iut.get("link_rtt_s") is not None:
        line(link_line(iut))
    cap_line = capability_line(rep["capability_skips"])
    if cap_line:
        line(cap_line, yellow=True)
    if rep["coverage_warning"]:
        line(f"WARNING: {rep['coverage_warning']}", red=True, bold=True)
