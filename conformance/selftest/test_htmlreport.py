# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the HTML report and of the report fields added for
--repeat and --expect (no IUT needed)."""
import html.parser
import json
import re
import xml.etree.ElementTree as ET

from scwire_conform import htmlreport, report, spectext
from scwire_conform import verdict as V
from scwire_conform.wirelog import WireLog

EVIL = '<script>alert("x")</script>&'
META = {"suite_version": "0.1.0", "spec_revision": "1", "profile": "0.1.0a4",
        "codec": "msgpack", "iut": {"cmd": f"my-actor --flag '{EVIL}'", "listen": "127.0.0.1:9"},
        "strict": False, "started": "2026-01-01T00:00:00+00:00", "duration_s": 12.5,
        "repeat": 1, "expect_file": None}


def rec(area, name, levels, violation=None, run=1, info=None, skip=None, error=None,
        expectation="It works."):
    r = V.CaseRecord(f"{area}/{name}", area, name, list(levels), levels, expectation)
    r.run = run
    r.wire_log = WireLog()
    r.wire_log.event("c1", "open")
    r.wire_log.message("c1", "c2s", b"\x92\xa1a\xa1b", ["a", "b"])
    r.wire_log.message("c1", "s2c", b"\x92\xa1c\xa1d", ["c", EVIL])
    r.wire_log.message("c1", "c2s", b"\x81\xa3cmd\x95", {"cmd": ["ns", "f", {"v": EVIL}, [], "x"]})
    r.wire_log.raw("c1", "c2s", b"\xc1", note="never-used byte")
    r.wire_log.event("c1", "eof", "s2c")
    r.wire_log.event("c1", "close")
    r.wire_path = f"/tmp/out/cases/{area}/{name}.wire.jsonl"
    if violation:
        r.violate(V.Violation(violation[1], violation[0]))
    if info:
        r.info_only = True
        r.infos.append(info)
    r.skip_reason = skip
    r.error = error
    r.duration = 0.25
    return r


def sample():
    must = {"HS-1": "MUST"}
    flaky = [rec("rpc", "test_rpc_6_flaky", {"RPC-6": "MUST"}, run=1),
             rec("rpc", "test_rpc_6_flaky", {"RPC-6": "MUST"}, ("MUST", "c1: expected a; "
                                                                 "observed b"), run=2)]
    records = [
        rec("handshake", "test_hs_1_pass", must),
        rec("handshake", "test_hs_1_fail[p]", must,
            ("MUST", f"c1: expected the uid {EVIL}; observed nothing within 2 s")),
        rec("handshake", "test_hs_4_should", {"HS-4": "SHOULD"}, ("SHOULD", "not canonical")),
        rec("framing", "test_frame_11_info", {"FRAME-11": "MAY"}, info="ext refused"),
        rec("framing", "test_frame_8_skip", {"FRAME-8": "MUST"}, skip="needs lenprefix"),
        rec("framing", "test_frame_9_error", {"FRAME-9": "MUST"}, error="Traceback: boom"),
        rec("rpc", "test_rpc_7_xfail", {"RPC-7": "MUST"}, ("MUST", "c2: expected x; observed y")),
        rec("rpc", "test_rpc_8_xpass", {"RPC-8": "MUST"}),
        flaky,
    ]
    expected = {"rpc/test_rpc_7_xfail": "known", "rpc/test_rpc_8_xpass": ""}
    return report.build(dict(META, repeat=2), records, expected)


VERDICTS = {"handshake/test_hs_1_pass": V.PASS, "handshake/test_hs_1_fail[p]": V.FAIL,
            "handshake/test_hs_4_should": V.NON_STRICT, "framing/test_frame_11_info": V.INFO,
            "framing/test_frame_8_skip": V.SKIP, "framing/test_frame_9_error": V.ERROR,
            "rpc/test_rpc_7_xfail": V.XFAIL, "rpc/test_rpc_8_xpass": V.XPASS,
            "rpc/test_rpc_6_flaky": V.FLAKY}


def test_report_entries_for_runs_and_known_deviations():
    rep = sample()
    got = {c["id"]: c for c in rep["cases"]}
    assert {k: c["verdict"] for k, c in got.items()} == VERDICTS
    fl = got["rpc/test_rpc_6_flaky"]
    assert [r["verdict"] for r in fl["runs"]] == [V.PASS, V.FAIL] and fl["shown_run"] == 2
    assert fl["observation"].startswith("the verdicts of 2 runs differ: PASS, FAIL")
    assert fl["duration_s"] == 0.5 and fl["violations"][0]["level"] == "MUST"
    assert got["rpc/test_rpc_7_xfail"]["expected_deviation"] == "known"
    assert "did not fail" in got["rpc/test_rpc_8_xpass"]["observation"]
    assert "runs" not in got["handshake/test_hs_1_pass"]
    s = rep["summary"]
    assert (s["xfail"], s["xpass"], s["flaky"], s["total"]) == (1, 1, 1, 9)
    assert rep["repeat"] == 2 and rep["started"] and rep["duration_s"] == 12.5


def test_exit_codes_of_the_new_verdicts():
    def code(v, strict=False):
        return report.exit_code(report.summarize([{"area": "a", "verdict": v}]), strict)
    assert code(V.XFAIL) == 0 and code(V.XFAIL, strict=True) == 0
    assert code(V.XPASS) == 1 and code(V.FLAKY) == 1
    assert code(V.NON_STRICT) == 0 and code(V.NON_STRICT, strict=True) == 1


def test_terminal_table_shows_extra_columns_only_when_used():
    rep = sample()
    head = report.table(rep["summary"]).splitlines()[0].split()
    assert head[-4:] == ["xfail", "xpass", "flaky", "total"]
    plain = report.summarize([{"area": "a", "verdict": V.PASS}])
    assert "xfail" not in report.table(plain)


def test_junit_names_versions_and_new_verdicts(tmp_path):
    for strict in (False, True):
        rep = sample()
        rep["strict"] = strict
        path = tmp_path / "j.xml"
        report.write_junit(str(path), rep)
        root = ET.parse(path).getroot()
        for suite in root.iter("testsuite"):
            props = {p.get("name"): p.get("value") for p in suite.find("properties")}
            assert props["suite_version"] == "0.1.0" and props["spec_revision"] == "1"
            assert props["profile"] == "0.1.0a4" and props["codec"] == "msgpack"
        cases = {tc.get("name"): tc for tc in root.iter("testcase")}
        assert cases["test_rpc_7_xfail"].find("skipped").get("type") == "XFAIL"
        assert cases["test_rpc_8_xpass"].find("failure").get("type") == "XPASS"
        fl = cases["test_rpc_6_flaky"]
        assert fl.find("failure").get("type") == "FLAKY"
        assert fl.find("properties/property[@name='runs']").get("value") == "PASS,FAIL"
        ns = cases["test_hs_4_should"]
        assert (ns.find("failure") is not None) is strict
        if strict:
            assert ns.find("failure").get("type") == "NON-STRICT"
        assert root.get("failures") == str(3 + strict)   # FAIL, XPASS, FLAKY (+NON-STRICT)


class Checker(html.parser.HTMLParser):
    """Collects ids, fragment links, tags; checks that elements nest properly."""
    VOID = {"meta", "br", "hr", "img", "input", "link", "line", "rect", "polygon", "path",
            "circle"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.tags, self.stack, self.errors = set(), [], [], [], []
        self.open_details = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            if a["id"] in self.ids:
                self.errors.append(f"duplicate id {a['id']}")
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.append(a["href"][1:])
        if tag == "details":
            self.open_details[a.get("id")] = "open" in a
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def render(rep, **kw):
    return htmlreport.render(rep, spectext.load_requirements(), "/tmp/out/report.html",
                             kw.get("exit_code", 1))


def test_html_is_self_contained_escaped_and_well_formed():
    text = render(sample())
    p = Checker()
    p.feed(text)
    p.close()
    assert not p.errors, p.errors[:5]
    assert p.stack == []
    # No script, nothing fetched: no src=, <link>, @import or url().
    assert "script" not in p.tags and "<script" not in text
    assert not re.search(r"\bsrc\s*=|<link\b|@import|url\(", text)
    assert re.findall(r'href="(https?:[^"]*)"', text) == []
    # Every fragment link has its target.
    assert set(p.links) <= p.ids, set(p.links) - p.ids
    for rid in ("HS-1", "HS-4", "FRAME-11", "RPC-6"):
        assert f"req-{rid}" in p.ids
    # What came from the IUT or the cases is escaped.
    assert EVIL not in text and "&lt;script&gt;" in text


def test_html_content():
    text = render(sample())
    p = Checker()
    p.feed(text)
    assert "<svg" in text                     # the sequence diagrams (tools/scwire_tools)
    assert "suite version" in text and "0.1.0" in text and "spec revision" in text
    assert "FAILED" in text and "exit 1" in text
    for v, (bg, _) in htmlreport.COLORS.items():
        assert f"background:{bg}" in text, v
    opened = {k: v for k, v in p.open_details.items()}
    assert opened["case-handshake_test_hs_1_fail_p_"] is True
    assert opened["case-handshake_test_hs_4_should"] is True
    assert opened["case-rpc_test_rpc_6_flaky"] is True and opened["case-rpc_test_rpc_8_xpass"]
    assert opened["case-handshake_test_hs_1_pass"] is False
    assert opened["case-rpc_test_rpc_7_xfail"] is False
    # The requirement text, expected vs observed, runs, the known deviation.
    assert "each side MUST send its own uid as its first message" in text
    assert "<th>expected</th>" in text and "<th>observed</th><td><pre>nothing within 2 s" in text
    assert "run 1" in text and "run 2" in text
    assert "listed in the expect file: known" in text
    assert "never-used byte" in text and "needs lenprefix" in text
    assert 'href="cases/handshake/test_hs_1_pass.wire.jsonl"' in text


def test_html_without_diagrams_or_cases(monkeypatch):
    monkeypatch.setattr(htmlreport, "_diagram_function", lambda: (None, None))
    text = render(sample())
    assert "<svg" not in text and "diagram.py is not available" in text
    empty = report.build(dict(META, inconclusive=f"IUT down {EVIL}"), [])
    text = htmlreport.render(empty, {}, None, 2)
    assert "INCONCLUSIVE" in text and "No case ran" in text and EVIL not in text


def test_long_wire_logs_give_a_clipped_diagram():
    r = rec("rpc", "test_rpc_6_long", {"RPC-6": "MUST"})
    for i in range(300):
        r.wire_log.message("c1", "c2s", b"\x01", i)
    rep = report.build(META, [r])
    text = htmlreport.render(rep, {}, None, 0)
    assert "the diagram shows entries 1&ndash;60" in text
    assert text.count('<tr class="c2s') == 303      # the table has them all
    assert "PASSED" in text


def test_write_html(tmp_path):
    path = tmp_path / "sub" / "r.html"
    htmlreport.write_html(str(path), sample(), {}, 1)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    json.dumps(sample())   # the report dict stays JSON


def test_rows_rendered_meanwhile_give_the_same_page():
    rep = sample()
    reqs = spectext.load_requirements()
    r = htmlreport.CaseRenderer(reqs, "/tmp/out/report.html")
    for c in rep["cases"]:
        r.submit(c)
    frags = r.fragments()
    assert set(frags) == {c["id"] for c in rep["cases"]}
    page = htmlreport.render(rep, reqs, "/tmp/out/report.html", 1, frags)
    again = htmlreport.render(rep, reqs, "/tmp/out/report.html", 1)
    strip = re.compile(r"Written [^<]* by scwire-conform")
    assert strip.sub("", page) == strip.sub("", again)
    # A row rendered before but whose anchor is taken is rendered again.
    twin = dict(rep["cases"][0], id=rep["cases"][0]["id"] + "_")
    twin2 = dict(rep["cases"][0], id=rep["cases"][0]["id"] + "?")
    two = dict(rep, cases=[twin, twin2])
    frags = {twin2["id"]: "<p>stale</p>"}
    page = htmlreport.render(two, reqs, None, 0, frags)
    assert "stale" not in page and page.count("<details") == 2
