# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the HTML report and of the report fields added for
--repeat and --expect (no IUT needed)."""
import functools
import html
import html.parser
import json
import os
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
        expectation="It works.", out=None):
    """A case record; with `out` its wire log and IUT stderr are written
    under out/cases as the plugin writes them."""
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
    r.wire_path = f"{out or '/tmp/out'}/cases/{area}/{name}.wire.jsonl"
    if out:
        os.makedirs(os.path.dirname(r.wire_path), exist_ok=True)
        r.wire_log.dump(r.wire_path)
        r.iut_log = r.wire_path.replace(".wire.jsonl", ".iut.log")
        with open(r.iut_log, "w", encoding="utf-8") as fh:
            fh.write("stderr\n")
    if violation:
        r.violate(V.Violation(violation[1], violation[0]))
    if info:
        r.info_only = True
        r.infos.append(info)
    r.skip_reason = skip
    r.error = error
    r.duration = 0.25
    return r


def sample(out=None):
    must = {"HS-1": "MUST"}
    case = functools.partial(rec, out=out)
    flaky = [case("rpc", "test_rpc_6_flaky", {"RPC-6": "MUST"}, run=1),
             case("rpc", "test_rpc_6_flaky", {"RPC-6": "MUST"}, ("MUST", "c1: expected a; "
                                                                  "observed b"), run=2)]
    records = [
        case("handshake", "test_hs_1_pass", must),
        case("handshake", "test_hs_1_fail[p]", must,
             ("MUST", f"c1: expected the uid {EVIL}; observed nothing within 2 s")),
        case("handshake", "test_hs_4_should", {"HS-4": "SHOULD"}, ("SHOULD", "not canonical")),
        case("framing", "test_frame_11_info", {"FRAME-11": "MAY"}, info="ext refused"),
        case("framing", "test_frame_8_skip", {"FRAME-8": "MUST"}, skip="needs lenprefix"),
        case("framing", "test_frame_9_error", {"FRAME-9": "MUST"}, error="Traceback: boom"),
        case("rpc", "test_rpc_7_xfail", {"RPC-7": "MUST"}, ("MUST", "c2: expected x; observed y")),
        case("rpc", "test_rpc_8_xpass", {"RPC-8": "MUST"}),
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


def test_long_wire_logs_give_a_clipped_diagram(tmp_path):
    def long_case(**kw):
        r = rec("rpc", "test_rpc_6_long", {"RPC-6": "MUST"}, **kw)
        for i in range(300):
            r.wire_log.message("c1", "c2s", b"\x01", i)
        return report.build(META, [r])
    text = htmlreport.render(long_case(violation=("MUST", "late")), {}, None, 1)
    assert "the diagram shows entries 1&ndash;60" in text
    assert text.count('<tr class="c2s') == 303      # the table has them all
    # A passing case shows the same on its own page.
    htmlreport.write_html(str(tmp_path / "report.html"), long_case(out=str(tmp_path)), {}, 0)
    assert "PASSED" in (tmp_path / "report.html").read_text(encoding="utf-8")
    page = (tmp_path / "cases" / "rpc" / "test_rpc_6_long.html").read_text(encoding="utf-8")
    assert "the diagram shows entries 1&ndash;60" in page
    assert page.count('<tr class="c2s') == 303


def test_write_html(tmp_path):
    path = tmp_path / "sub" / "r.html"
    htmlreport.write_html(str(path), sample(str(tmp_path / "out")), {}, 1)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    json.dumps(sample())   # the report dict stays JSON


def test_rows_rendered_meanwhile_give_the_same_page(tmp_path):
    rep = sample(str(tmp_path))
    reqs = spectext.load_requirements()
    html_path = str(tmp_path / "report.html")
    r = htmlreport.CaseRenderer(reqs, html_path)
    for c in rep["cases"]:
        r.submit(c)
    frags = r.fragments()
    assert set(frags) == {c["id"] for c in rep["cases"]}
    assert (tmp_path / "cases" / "handshake" / "test_hs_1_pass.html").exists()
    page = htmlreport.render(rep, reqs, html_path, 1, frags)
    again = htmlreport.render(rep, reqs, html_path, 1)
    strip = re.compile(r"Written [^<]* by scwire-conform")
    assert strip.sub("", page) == strip.sub("", again)
    # A row rendered before but whose anchor is taken is rendered again.
    twin = dict(rep["cases"][0], id=rep["cases"][0]["id"] + "_")
    twin2 = dict(rep["cases"][0], id=rep["cases"][0]["id"] + "?")
    two = dict(rep, cases=[twin, twin2])
    frags = {twin2["id"]: "<p>stale</p>"}
    page = htmlreport.render(two, reqs, None, 0, frags)
    assert "stale" not in page and page.count("<details") == 2


def row(text, case_id):
    """The <details> block of a case in a page."""
    start = text.index(f' id="{htmlreport.anchor("case-", case_id)}"')
    return text[start:text.index("</details>", start)]


def resolved_links(path):
    """(file, fragment) of every link of the page at path that leaves it;
    each must be relative, and its file must exist."""
    text = path.read_text(encoding="utf-8")
    links = []
    for href in re.findall(r'href="([^"#][^"]*)"', text):
        target, _, frag = html.unescape(href).partition("#")
        assert not os.path.isabs(target) and "://" not in target, href
        resolved = (path.parent / target).resolve()
        assert resolved.is_file(), href
        links.append((resolved, frag))
    return links


def ids_of(path):
    p = Checker()
    p.feed(path.read_text(encoding="utf-8"))
    return p.ids


def write(tmp_path, html_path=None):
    """A sample run written under tmp_path/out: that directory and the page."""
    out = tmp_path / "out"
    html_path = html_path or out / "report.html"
    htmlreport.write_html(str(html_path), sample(str(out)), spectext.load_requirements(), 1)
    return out, html_path


def test_passing_case_has_no_inline_wire_log_and_links_existing_files(tmp_path):
    out, html_path = write(tmp_path)
    text = html_path.read_text(encoding="utf-8")
    for cid, v in VERDICTS.items():
        if v in htmlreport.OPEN:
            continue
        r = row(text, cid)
        assert "<svg" not in r and '<table class="wire"' not in r, cid
        hrefs = re.findall(r'href="([^"#][^"]*)"', r)
        assert sorted(hrefs) == sorted(f"cases/{cid}{ext}"
                                       for ext in (".html", ".wire.jsonl", ".iut.log")), cid
    targets = {f for f, _ in resolved_links(html_path)}
    assert out / "cases" / "handshake" / "test_hs_1_pass.html" in targets


def test_failing_case_keeps_its_diagram_inline(tmp_path):
    out, html_path = write(tmp_path)
    text = html_path.read_text(encoding="utf-8")
    for cid, v in VERDICTS.items():
        if v not in htmlreport.OPEN:
            continue
        r = row(text, cid)
        assert "<svg" in r and '<table class="wire"' in r, cid
        assert "<dt>Requirements</dt>" in r and ".html" not in r, cid
        assert not (out / "cases" / f"{cid}.html").exists()
    fail = row(text, "handshake/test_hs_1_fail[p]")
    assert "each side MUST send its own uid as its first message" in fail


def test_case_page_shows_the_case_whole(tmp_path):
    out, html_path = write(tmp_path)
    path = out / "cases" / "handshake" / "test_hs_1_pass.html"
    text = path.read_text(encoding="utf-8")
    p = Checker()
    p.feed(text)
    p.close()
    assert not p.errors and p.stack == [] and "<script" not in text
    assert not re.search(r"\bsrc\s*=|<link\b|@import|url\(", text)
    assert p.open_details == {"case-handshake_test_hs_1_pass": True}
    assert "<svg" in text and '<table class="wire"' in text and EVIL not in text
    assert "each side MUST send its own uid as its first message" in text
    report_ids = ids_of(html_path)
    links = resolved_links(path)
    assert {f for f, _ in links} == {html_path.resolve(), path.with_suffix(".iut.log"),
                                     out / "cases" / "handshake" / "test_hs_1_pass.wire.jsonl"}
    assert {frag for f, frag in links if f == html_path.resolve()} \
        == {"case-handshake_test_hs_1_pass", "req-HS-1"}
    assert all(frag in report_ids for f, frag in links if f == html_path.resolve())


def test_links_are_relative_and_resolve_with_html_outside_out(tmp_path):
    html_path = tmp_path / "elsewhere" / "deep" / "report.html"
    out, _ = write(tmp_path, html_path)
    links = resolved_links(html_path)
    assert {f.parent for f, _ in links} == {out / "cases" / area
                                            for area in ("handshake", "framing", "rpc")}
    pages = [f for f, _ in links if f.suffix == ".html"]
    assert len(pages) == 4      # PASS, INFO, SKIP, XFAIL
    report_ids = ids_of(html_path)
    for page in pages:
        back = [frag for f, frag in resolved_links(page) if f == html_path.resolve()]
        assert back and all(frag in report_ids for frag in back), page


def test_page_of_800_long_passing_cases_stays_under_2_mb():
    """The page grows with the number of cases, not with their wire logs:
    800 passing cases (a run of today's suite has 634) with the longest wire
    logs the report keeps, and texts as long as the suite's on average."""
    reqs = spectext.load_requirements()
    rids = sorted(reqs)
    long = rec("rpc", "test_long", {"RPC-6": "MUST"})
    for i in range(report.WIRE_LOG_LIMIT):
        long.wire_log.message("c1", "s2c", b"\x92\xa5yield" + bytes(40), ["yield", i])
    entry = report.build(META, [long])["cases"][0]
    cases = []
    for i in range(800):
        area = f"area{i % 18}"
        name = f"test_case_{i:03}_the_behaviour_it_checks_in_a_few_words[p{i % 7}]"
        spec_ids = [rids[(3 * i + k) % len(rids)] for k in range(3)]
        files = f"/tmp/out/cases/{area}/{name}"
        cases.append(dict(entry, id=f"{area}/{name}", area=area, spec_ids=spec_ids,
                          levels={r: reqs[r]["level"] for r in spec_ids},
                          expectation="The callee does what the requirement says. " * 5,
                          observation='c1 received {"return": 1, "cid": "ca18f1a4"} ' * 4,
                          wire_log_file=files + ".wire.jsonl", iut_log=files + ".iut.log"))
    rep = dict(report.build(META, []), cases=cases, summary=report.summarize(cases))
    text = htmlreport.render(rep, reqs, "/tmp/out/report.html", 0)
    assert "<svg" not in text
    assert len(text.encode("utf-8")) < 2 * 1024 * 1024
