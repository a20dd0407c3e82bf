# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the JSON report, the JUnit XML and the summary table."""
import json
import xml.etree.ElementTree as ET

from scwire_conform import report
from scwire_conform import verdict as V
from scwire_conform.wirelog import WireLog

META = {"suite_version": "0.1.0", "spec_revision": "1", "profile": "0.1.0a4",
        "codec": "msgpack", "iut": {"cmd": "x"}, "strict": False}


def records():
    out = []
    for area, name, levels, level in [("handshake", "test_hs_1_a", {"HS-1": "MUST"}, None),
                                      ("handshake", "test_hs_4_b", {"HS-4": "SHOULD"}, V.SHOULD),
                                      ("rpc", "test_rpc_6_c", {"RPC-6": "MUST"}, V.MUST)]:
        rec = V.CaseRecord(f"{area}/{name}", area, name, list(levels), levels, "It works.")
        rec.wire_log = WireLog()
        rec.wire_log.event("c1", "open")
        if level:
            rec.violate(V.Violation(f"expected a; observed b ({name})", level))
        else:
            rec.observe("c1 received x")
        out.append(rec)
    skipped = V.CaseRecord("rpc/test_rpc_7_d", "rpc", "test_rpc_7_d", ["RPC-7"], {"RPC-7": "MUST"})
    skipped.skip_reason = "needs lenprefix"
    out.append(skipped)
    return out


def test_json_report_shape(tmp_path):
    rep = report.build(META, records())
    path = tmp_path / "r.json"
    report.write_json(str(path), rep)
    data = json.loads(path.read_text())
    assert {"suite_version", "spec_revision", "profile", "codec", "iut", "cases",
            "summary"} <= set(data)
    case = data["cases"][0]
    assert {"id", "spec_ids", "area", "verdict", "expectation", "observation", "wire_log",
            "duration_s"} <= set(case)
    assert case["id"] == "handshake/test_hs_1_a" and case["verdict"] == "PASS"
    assert case["observation"] == "c1 received x" and case["wire_log"][0]["event"] == "open"
    assert [c["verdict"] for c in data["cases"]] == ["PASS", "NON-STRICT", "FAIL", "SKIP"]
    assert "observed b" in data["cases"][2]["observation"]
    s = data["summary"]
    assert (s["total"], s["pass"], s["fail"], s["non_strict"], s["skip"]) == (4, 1, 1, 1, 1)
    assert s["by_area"]["handshake"]["non_strict"] == 1


def test_exit_codes():
    s = report.summarize([{"area": "a", "verdict": V.NON_STRICT}])
    assert report.exit_code(s, strict=False) == 0
    assert report.exit_code(s, strict=True) == 1
    assert report.exit_code(report.summarize([{"area": "a", "verdict": V.FAIL}]), False) == 1
    assert report.exit_code(report.summarize([{"area": "a", "verdict": V.ERROR}]), False) == 3
    assert report.exit_code(report.summarize([{"area": "a", "verdict": V.SKIP}]), True) == 0


def junit(tmp_path, strict):
    rep = report.build(dict(META, strict=strict), records())
    path = tmp_path / "j.xml"
    report.write_junit(str(path), rep)
    return ET.parse(path).getroot()


def test_junit_shows_non_strict(tmp_path):
    root = junit(tmp_path, strict=False)
    cases = {tc.get("name"): tc for tc in root.iter("testcase")}
    ns = cases["test_hs_4_b"]
    assert ns.find("properties/property[@name='verdict']").get("value") == "NON-STRICT"
    assert ns.find("failure") is None and "NON-STRICT" in ns.find("system-out").text
    assert cases["test_rpc_6_c"].find("failure") is not None
    assert cases["test_rpc_7_d"].find("skipped") is not None
    assert root.get("failures") == "1" and root.get("skipped") == "1"
    strict = {tc.get("name"): tc for tc in junit(tmp_path, strict=True).iter("testcase")}
    assert strict["test_hs_4_b"].find("failure").get("type") == "NON-STRICT"


def test_table_has_areas_and_totals():
    text = report.table(report.build(META, records())["summary"])
    lines = text.splitlines()
    assert lines[0].split() == ["area", "pass", "fail", "non-strict", "info", "skip", "error",
                                "total"]
    assert lines[2].split() == ["handshake", "1", "0", "1", "0", "0", "0", "2"]
    assert lines[-1].split() == ["TOTAL", "1", "1", "1", "0", "1", "0", "4"]


def test_long_wire_logs_are_clipped():
    entries = [{"n": i} for i in range(1000)]
    clipped = report._clip_log(entries, 10)
    assert len(clipped) == 11 and clipped[5] == {"event": "omitted", "entries": 990}
