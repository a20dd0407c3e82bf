# SPDX-License-Identifier: AGPL-3.0-or-later
"""Reports of a run: the JSON report, JUnit XML, and the summary table.

JUnit has no place for NON-STRICT, so the verdict travels as a property of
each testcase and in its system-out; with --strict a NON-STRICT case is a
<failure type="NON-STRICT"> so that CI tools count it.
"""
import json
import os
import xml.etree.ElementTree as ET

from . import verdict as V

_KEYS = {V.PASS: "pass", V.FAIL: "fail", V.NON_STRICT: "non_strict", V.INFO: "info",
         V.SKIP: "skip", V.ERROR: "error"}
COLUMNS = [(V.PASS, "pass"), (V.FAIL, "fail"), (V.NON_STRICT, "non-strict"),
           (V.INFO, "info"), (V.SKIP, "skip"), (V.ERROR, "error")]
WIRE_LOG_LIMIT = 400   # entries kept per case in the JSON report (head and tail)


def _clip_log(entries, limit=WIRE_LOG_LIMIT):
    if len(entries) <= limit:
        return list(entries)
    half = limit // 2
    gap = {"event": "omitted", "entries": len(entries) - 2 * half}
    return list(entries[:half]) + [gap] + list(entries[-half:])


def case_entry(rec):
    """The JSON report's view of one case record."""
    v = rec.verdict()
    observation = rec.observation
    if v in (V.FAIL, V.NON_STRICT) and rec.violations:
        observation = "\n".join(f"[{x.level}] {x.msg}" for x in rec.violations)
    elif v == V.SKIP:
        observation = f"skipped: {rec.skip_reason}"
    elif v == V.ERROR:
        observation = f"suite error: {rec.error or 'skip without a reason'}"
    elif rec.infos:
        # What a case chose to record says more than the last message it saw.
        observation = "\n".join(rec.infos)
    return {
        "id": rec.id,
        "spec_ids": list(rec.spec_ids),
        "area": rec.area,
        "verdict": v,
        "expectation": rec.expectation,
        "observation": observation,
        "wire_log": _clip_log(rec.wire_log.entries if rec.wire_log else []),
        "duration_s": round(rec.duration, 3),
        "iut_log": rec.iut_log,
    }


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
    """0: no FAIL (and with strict no NON-STRICT); 1: failures; 3: suite errors."""
    if summary["error"]:
        return 3
    if summary["fail"] or (strict and summary["non_strict"]):
        return 1
    return 0


def build(meta, records):
    cases = [case_entry(r) for r in records]
    report = {
        "suite_version": meta["suite_version"],
        "spec_revision": meta["spec_revision"],
        "profile": meta["profile"],
        "codec": meta["codec"],
        "iut": meta["iut"],
        "strict": meta["strict"],
        "cases": cases,
        "summary": summarize(cases),
    }
    if meta.get("inconclusive"):
        report["inconclusive"] = meta["inconclusive"]
    return report


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
    for area in sorted(s["by_area"]):
        cases = [c for c in report["cases"] if c["area"] == area]
        suite = ET.SubElement(root, "testsuite", name=f"scwire.{area}", tests=str(len(cases)),
                              time=f"{sum(c['duration_s'] for c in cases):.3f}")
        sf = se = ss = 0
        for c in cases:
            name = c["id"].split("/", 1)[1]
            tc = ET.SubElement(suite, "testcase", classname=f"scwire.{area}", name=name,
                               time=f"{c['duration_s']:.3f}")
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="verdict", value=c["verdict"])
            ET.SubElement(props, "property", name="spec_ids", value=",".join(c["spec_ids"]))
            text = f"expected: {c['expectation']}\nobserved: {c['observation']}"
            v = c["verdict"]
            if v == V.FAIL or (v == V.NON_STRICT and strict):
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
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def table(summary):
    """The plain summary table: one row per area, then the totals."""
    head = ["area"] + [label for _, label in COLUMNS] + ["total"]
    rows = []
    for area in sorted(summary["by_area"]):
        b = summary["by_area"][area]
        rows.append([area] + [str(b[_KEYS[v]]) for v, _ in COLUMNS] + [str(b["total"])])
    rows.append(["TOTAL"] + [str(summary[_KEYS[v]]) for v, _ in COLUMNS] + [str(summary["total"])])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def fmt(r):
        return "  ".join(r[0].ljust(widths[0]) if i == 0 else r[i].rjust(widths[i])
                         for i in range(len(r)))
    rule = "-" * len(fmt(head))
    return "\n".join([fmt(head), rule] + [fmt(r) for r in rows[:-1]] + [rule, fmt(rows[-1])])
