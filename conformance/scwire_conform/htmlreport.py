# SPDX-License-Identifier: AGPL-3.0-or-later
"""The HTML report of a run: self-contained pages (inline CSS and SVG, no
script, nothing fetched), in the spirit of Autobahn|Testsuite's report.

It is built from the report dict of report.build (so report.json holds all
it shows) and the requirement texts of spectext:

- a header: suite version, spec revision, profile, codec, IUT command and
  address, date, duration, exit status;
- a summary table per area with coloured counts per verdict;
- per case a row (id, spec ids linking to the requirements below, verdict
  badge, duration) that opens into: the text of each requirement it claims,
  the expectation, the observation (expected vs observed), the runs
  (--repeat), the known-deviation reason (--expect), and the wire log as a
  sequence diagram (tools/scwire_tools/diagram.py) and as a compact table.
  Cases that fail the gate (and NON-STRICT ones) are open;
- the requirements the cases claim, with the cases that claim them.

Only the rows of the cases that fail the gate (OPEN) hold requirement texts
and wire logs: hundreds of passing cases would make the page one of
megabytes that a browser opens slowly or not at all.  The row of a passing
case shows its expectation and observation and links a page of its own
next to its wire log file (write_case_page): the row as a failing case's,
diagram and table included.

Everything that comes from the IUT, the cases or the spec is escaped.
"""
import datetime
import html
import os
import queue
import re
import sys
import threading

from . import report as R
from . import verdict as V

TOOLS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tools")
DIAGRAM_HEAD, DIAGRAM_TAIL = 60, 20     # rows of a case's sequence diagram
HEX_BYTES = 24                           # bytes of hex shown per wire-table row
COLORS = {
    V.PASS: ("#2e7d32", "#fff"), V.FAIL: ("#c62828", "#fff"),
    V.NON_STRICT: ("#ef6c00", "#fff"), V.INFO: ("#1565c0", "#fff"),
    V.SKIP: ("#9e9e9e", "#fff"), V.ERROR: ("#6a1b9a", "#fff"),
    V.XFAIL: ("#00897b", "#fff"), V.XPASS: ("#d81b60", "#fff"),
    V.FLAKY: ("#fbc02d", "#222"),
}
MEANING = {
    V.PASS: "every check held", V.FAIL: "a MUST check failed",
    V.NON_STRICT: "a SHOULD check failed", V.INFO: "behaviour recorded, not judged",
    V.SKIP: "not run (reason given); never a pass", V.ERROR: "the suite itself broke",
    V.XFAIL: "a known deviation (--expect) failed as expected",
    V.XPASS: "listed as a known deviation but did not fail",
    V.FLAKY: "the runs of --repeat disagreed",
}
OPEN = (V.FAIL, V.NON_STRICT, V.ERROR, V.XPASS, V.FLAKY)
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_EVENT_TEXT = {("open", ""): "connection opened", ("close", ""): "the suite closed its socket",
               ("eof", "c2s"): "end of file from the connecting side",
               ("eof", "s2c"): "end of file from the accepting side",
               ("rst", "c2s"): "reset by the connecting side",
               ("rst", "s2c"): "reset by the accepting side"}
_EXP_OBS = re.compile(r"^(?P<pre>.*?)expected (?P<exp>.*?); observed (?P<obs>.*)$", re.S)

CSS = """
:root { --fg:#212121; --muted:#757575; --line:#e0e0e0; --bg2:#fafafa;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  --mono: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
body { font-family: var(--sans);
  color: var(--fg); margin: 0; padding: 0 24px 48px; font-size: 14px; line-height: 1.4; }
h1 { font-size: 22px; margin: 20px 0 6px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 15px; margin: 22px 0 6px; }
a { color: #1565c0; text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .mono { font-family: var(--mono); font-size: 12px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; }
.banner { display: inline-block; padding: 6px 14px; border-radius: 4px; font-weight: bold;
  font-size: 15px; margin: 6px 0 12px; }
table.meta { border-collapse: collapse; margin-bottom: 8px; }
table.meta th { text-align: left; font-weight: 600; padding: 2px 16px 2px 0; color: var(--muted);
  vertical-align: top; white-space: nowrap; }
table.meta td { padding: 2px 0; word-break: break-all; }
table.summary { border-collapse: collapse; min-width: 640px; }
table.summary th, table.summary td { border: 1px solid var(--line); padding: 4px 10px; }
table.summary th { background: var(--bg2); font-weight: 600; }
table.summary td.n { text-align: right; font-variant-numeric: tabular-nums; min-width: 56px; }
table.summary td.zero { color: #bdbdbd; }
table.summary tr.total td { font-weight: bold; border-top: 2px solid #9e9e9e; }
.badge { display: inline-block; min-width: 84px; text-align: center; padding: 1px 6px;
  border-radius: 3px; font-family: var(--sans); font-size: 12px; font-weight: bold;
  letter-spacing: .02em; background: #424242; color: #fff; }
.lvl { display: inline-block; padding: 0 5px; border-radius: 3px; font-size: 11px;
  font-weight: bold; border: 1px solid #bbb; color: #555; }
.lvl.MUST { border-color: #c62828; color: #c62828; }
.lvl.SHOULD { border-color: #ef6c00; color: #ef6c00; }
.legend { margin: 10px 0; color: var(--muted); font-size: 12px; }
.legend span.item { margin-right: 14px; white-space: nowrap; display: inline-block; }
.filter { margin: 8px 0 0; font-size: 13px; }
.filter a { margin-right: 12px; }
#problems:target ~ #cases details.case.ok { display: none; }
#problems:target ~ #cases .area-ok { display: none; }
.cols, details.case > summary { display: grid;
  grid-template-columns: minmax(320px, 3fr) minmax(140px, 1.2fr) 100px 80px;
  gap: 10px; align-items: center; padding: 4px 8px; }
.cols { font-weight: 600; color: var(--muted); border-bottom: 1px solid var(--line);
  font-size: 12px; }
details.case { border-bottom: 1px solid var(--line); }
details.case > summary { cursor: pointer; list-style: none; }
details.case > summary::-webkit-details-marker { display: none; }
details.case > summary:hover { background: #f5f5f5; }
details.case > summary .cid::before { content: "\\25b8"; color: #9e9e9e; display: inline-block;
  width: 14px; }
details.case[open] > summary .cid::before { content: "\\25be"; }
details.case[open] > summary { background: #f5f5f5; }
.cid { font-family: var(--mono); font-size: 12.5px;
  word-break: break-all; }
.sids a { margin-right: 6px; font-size: 12px; white-space: nowrap; }
.dur { text-align: right; color: var(--muted); font-variant-numeric: tabular-nums;
  font-size: 12px; }
.body { padding: 6px 12px 16px 30px; background: #fff; }
dl.kv { display: grid; grid-template-columns: 130px 1fr; gap: 6px 14px; margin: 6px 0 10px; }
dl.kv dt { font-weight: 600; color: var(--muted); }
dl.kv dd { margin: 0; min-width: 0; }
.req { margin-bottom: 6px; }
.req .src { color: var(--muted); font-size: 12px; }
.req p { margin: 2px 0 0; }
table.eo { border-collapse: collapse; width: 100%; margin: 2px 0 6px; }
table.eo th { text-align: left; width: 80px; vertical-align: top; padding: 3px 8px;
  font-weight: 600; font-size: 12px; }
table.eo td { padding: 3px 8px; }
table.eo tr.exp td, table.eo tr.exp th { background: #e8f5e9; }
table.eo tr.obs td, table.eo tr.obs th { background: #ffebee; }
.viol { margin-bottom: 8px; }
.viol .where { color: var(--muted); font-size: 12px; }
.note { color: var(--muted); font-size: 12px; margin: 4px 0; }
.scroll { max-height: 640px; overflow: auto; border: 1px solid var(--line); margin: 4px 0 10px;
  background: #fff; }
.scroll.tbl { max-height: 420px; }
table.wire { border-collapse: collapse; width: 100%; font-size: 12px; }
table.wire th { position: sticky; top: 0; background: var(--bg2); text-align: left;
  border-bottom: 1px solid #bdbdbd; padding: 2px 6px; font-weight: 600; }
table.wire td { border-bottom: 1px solid #f0f0f0; padding: 1px 6px; vertical-align: top; }
table.wire td.num { text-align: right; color: var(--muted); font-variant-numeric: tabular-nums; }
table.wire tr.s2c td.dir { color: #2e7d32; }
table.wire tr.c2s td.dir { color: #1565c0; }
table.wire tr.ev td { color: #9e9e9e; }
table.wire tr.bad td { color: #c62828; }
table.wire td.sum { word-break: break-word; }
table.wire td.hex { color: #616161; word-break: break-all; }
.runs span.run { margin-right: 10px; white-space: nowrap; }
.reqlist .reqitem { border-bottom: 1px solid var(--line); padding: 8px 0; }
.reqlist .reqitem:target { background: #fff8e1; }
.reqlist .by { font-size: 12px; margin-top: 4px; }
.reqlist .by a { margin-right: 10px; font-family: var(--mono); }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
""" + "".join(f".badge.{v} {{ background:{bg}; color:{fg}; }}\n" for v, (bg, fg) in COLORS.items())


def esc(value):
    """HTML-escaped text; characters HTML and XML forbid are replaced."""
    text = str(value)
    if text.isalnum():      # the common case of ids, hex and numbers: nothing to do
        return text
    return html.escape(_BAD_CHARS.sub("\ufffd", text), quote=True)


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]*)\)")
_EMPH = re.compile(r"(?<![\w*])\*{1,2}([^*\s][^*]*?)\*{1,2}(?![\w*])")


def _prose(text):
    """Escaped spec text: `code` spans kept as code, links shown as their text,
    *emphasis* as italics (the markdown of spec/*.md that matters here)."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for p in parts:
        if len(p) > 1 and p.startswith("`") and p.endswith("`"):
            out.append(f"<code>{esc(p[1:-1])}</code>")
        else:
            p = _LINK.sub(lambda m: m.group(1), p)
            out.append(_EMPH.sub(lambda m: f"<em>{m.group(1)}</em>", esc(p)))
    return "".join(out)


def anchor(prefix, text):
    return prefix + re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def badge(verdict, explain=True):
    """A verdict in its colour; explained in a tooltip unless the legend is
    at hand or the badge repeats by the hundred (the requirement list)."""
    title = f' title="{esc(MEANING.get(verdict, ""))}"' if explain else ""
    return f'<span class="badge {esc(verdict)}"{title}>{esc(verdict)}</span>'


def _diagram_function():
    """diagram.sequence_svg and classify.annotate of the tools, or (None, None)."""
    if TOOLS_DIR not in sys.path:
        sys.path.append(TOOLS_DIR)
    try:
        from scwire_tools.classify import annotate
        from scwire_tools.diagram import sequence_svg
    except Exception:   # a missing or broken tools tree must not cost the report
        return None, None
    return sequence_svg, annotate


def _fmt_duration(seconds):
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s} s" if m < 60 else f"{m // 60} h {m % 60} min {s} s"


def case_page_path(entry):
    """Where the page of a case goes, next to its wire log file; None for a
    case the report shows whole (it fails the gate, or has no wire log file)."""
    wire = entry.get("wire_log_file")
    if not wire or entry["verdict"] in OPEN:
        return None
    return wire.removesuffix(".wire.jsonl") + ".html"


def _wire_entries(entry):
    """The entries of a case's wire log, and how many the report left out."""
    log = [e for e in entry.get("wire_log") or [] if isinstance(e, dict)]
    omitted = sum(e.get("entries", 0) for e in log
                  if e.get("event") == "omitted" and "conn" not in e)
    return [e for e in log if "conn" in e], omitted


def _rel(path, base_dir):
    if not path:
        return None
    try:
        return os.path.relpath(path, base_dir)
    except ValueError:
        return path


class _Builder:
    """Builds the report at html_path or, given home (the report's path
    relative to html_path, "" when unknown), the page of a single case."""

    def __init__(self, rep, requirements, html_path, exit_code, fragments=None, home=None):
        self.rep = rep
        self.fragments = fragments or {}
        self.reqs = requirements or {}
        self.base = os.path.dirname(os.path.abspath(html_path)) if html_path else os.getcwd()
        self.exit_code = exit_code
        self.case_page = home is not None
        self.home = esc(home or "")    # what links into the report start with
        self.svg, self.annotate = _diagram_function()
        self.out = []
        self.case_anchor = {}
        seen = set()
        for c in rep.get("cases", []):
            a = anchor("case-", c["id"])
            n, base = 2, a
            while a in seen:
                a, n = f"{base}-{n}", n + 1
            seen.add(a)
            self.case_anchor[c["id"]] = a

    def w(self, *parts):
        self.out.extend(parts)

    def head(self, title):
        self.w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
               '<meta name="viewport" content="width=device-width, initial-scale=1">',
               f"<title>{esc(title)}</title><style>{CSS}</style></head><body>")

    # --- header and summary ------------------------------------------------

    def header(self):
        rep = self.rep
        s = rep.get("summary", {})
        code = self.exit_code
        if rep.get("inconclusive"):
            word, color = "INCONCLUSIVE", COLORS[V.SKIP]
        elif code == 0:
            word, color = "PASSED", COLORS[V.PASS]
        elif code == 1:
            word, color = "FAILED", COLORS[V.FAIL]
        elif code is None:
            word, color = "RESULT", COLORS[V.SKIP]
        else:
            word, color = "SUITE ERROR", COLORS[V.ERROR]
        iut = rep.get("iut") or {}
        self.w("<h1>scwire conformance report</h1>",
               f'<div class="banner" style="background:{color[0]};color:{color[1]}">'
               f"{esc(word)}")
        if code is not None:
            self.w(f" &middot; exit {esc(code)} ({esc(R.meaning(code))})")
        self.w(f" &middot; {esc(s.get('total', 0))} cases</div>")
        rows = [("suite version", rep.get("suite_version")),
                ("spec revision", rep.get("spec_revision")),
                ("profile", rep.get("profile")), ("codec", rep.get("codec")),
                ("strict", "yes (NON-STRICT fails the run)" if rep.get("strict") else "no"),
                ("IUT command", iut.get("cmd")),
                ("IUT address", iut.get("addr") or iut.get("listen")),
                ("IUT pids", ", ".join(str(p) for p in iut.get("pids") or []) or None),
                ("date", rep.get("started")),
                ("duration", _fmt_duration(rep.get("duration_s"))),
                ("repeat", rep.get("repeat") if (rep.get("repeat") or 1) > 1 else None),
                ("expect file", rep.get("expect_file"))]
        self.w('<table class="meta">')
        for k, v in rows:
            if v is None or v == "":
                continue
            self.w(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>")
        self.w("</table>")
        if rep.get("inconclusive"):
            self.w(f'<p><strong>Inconclusive:</strong> {esc(rep["inconclusive"])}</p>')
        if rep.get("incidents"):
            self.w("<p><strong>Incidents</strong></p><ul>")
            for inc in rep["incidents"]:
                self.w(f"<li>{esc(inc)}</li>")
            self.w("</ul>")

    def summary(self):
        s = self.rep.get("summary") or {"by_area": {}, "total": 0}
        cols = R.columns({**{k: 0 for k in R.KEY.values()}, **s})
        self.w('<h2 id="summary">Summary</h2><table class="summary"><tr><th>area</th>')
        for v, _ in cols:
            self.w(f"<th>{esc(v)}</th>")
        self.w("<th>total</th></tr>")

        def row(label, bucket, cls=""):
            self.w(f'<tr class="{cls}"><td>{label}</td>')
            for v, _ in cols:
                n = bucket.get(R.KEY[v], 0)
                if n:
                    bg, fg = COLORS[v]
                    self.w(f'<td class="n" style="background:{bg};color:{fg}">{n}</td>')
                else:
                    self.w('<td class="n zero">0</td>')
            self.w(f'<td class="n">{bucket.get("total", 0)}</td></tr>')
        for area in sorted(s["by_area"]):
            row(f'<a href="#{anchor("area-", area)}">{esc(area)}</a>', s["by_area"][area])
        row("TOTAL", s, "total")
        self.w("</table>")
        self.w('<div class="legend">')
        for v in V.VERDICTS:
            self.w(f'<span class="item">{badge(v, explain=False)} {esc(MEANING[v])}</span>')
        self.w("</div>")

    # --- cases -------------------------------------------------------------

    def cases(self):
        cases = self.rep.get("cases", [])
        strict = self.rep.get("strict")
        problems = [c for c in cases if c["verdict"] in OPEN]
        self.w('<div id="problems"></div>')
        self.w('<section id="cases"><h2>Cases</h2>')
        if problems:
            self.w(f'<div class="filter">show: <a href="#problems">only the {len(problems)} '
                   f'case(s) that fail or are NON-STRICT (opened below)</a>'
                   f'<a href="#cases">all cases</a></div>')
        else:
            self.w('<div class="filter note">No case fails or is NON-STRICT; '
                   'open a case to see its requirements and wire log.</div>')
        by_area = {}
        for c in cases:
            by_area.setdefault(c["area"], []).append(c)
        for area in sorted(by_area):
            group = by_area[area]
            ok = all(c["verdict"] not in OPEN for c in group)
            self.w(f'<div class="{"area-ok" if ok else "area"}">'
                   f'<h3 id="{anchor("area-", area)}">{esc(area)} '
                   f'<span class="note">({len(group)} cases)</span></h3>')
            self.w('<div class="cols"><span>case</span><span>spec ids</span>'
                   '<span>verdict</span><span style="text-align:right">duration</span></div>')
            for c in group:
                frag = self.fragments.get(c["id"])
                if frag is not None and self.case_anchor[c["id"]] == anchor("case-", c["id"]):
                    self.w(frag)
                else:
                    self.case(c, strict)
            self.w("</div>")
        if not cases:
            self.w('<p class="note">No case ran.</p>')
        self.w("</section>")

    def case(self, c, strict):
        v = c["verdict"]
        page = None if self.case_page else case_page_path(c)
        is_open = v in OPEN or self.case_page
        cls = "case" + ("" if v in OPEN else " ok")
        self.w(f'<details class="{cls}" id="{self.case_anchor[c["id"]]}"'
               f'{" open" if is_open else ""}><summary>'
               f'<span class="cid">{esc(c["id"])}</span><span class="sids">')
        for rid in c["spec_ids"]:
            self.w(f'<a href="{self.home}#{anchor("req-", rid)}">{esc(rid)}</a>')
        self.w(f"</span><span>{badge(v)}</span>"
               f'<span class="dur">{c.get("duration_s", 0):.3f} s</span></summary>'
               '<div class="body"><dl class="kv">')
        if not page:
            self.claimed(c)
        self.w(f"<dt>Expectation</dt><dd>{esc(c.get('expectation') or '(no docstring)')}</dd>")
        self.w("<dt>Observation</dt><dd>")
        self.observation(c)
        self.w("</dd>")
        if "expected_deviation" in c:
            self.w(f"<dt>Known deviation</dt><dd>listed in the expect file"
                   f"{': ' + esc(c['expected_deviation']) if c['expected_deviation'] else ''}"
                   f"</dd>")
        if c.get("runs"):
            self.w('<dt>Runs</dt><dd class="runs">')
            for r in c["runs"]:
                self.w(f'<span class="run">run {r["run"]} {badge(r["verdict"])} '
                       f'{r["duration_s"]:.3f} s</span>')
            self.w(f'<div class="note">the details below are those of run '
                   f'{esc(c.get("shown_run"))}</div></dd>')
        self.files(c, page)
        self.w("</dl>")
        if not page:
            self.wire(c)
        self.w("</div></details>")

    def claimed(self, c):
        """The texts of the requirements a case claims."""
        self.w("<dt>Requirements</dt><dd>")
        for rid in c["spec_ids"]:
            req = self.reqs.get(rid)
            level = (req or {}).get("level") or (c.get("levels") or {}).get(rid) or ""
            self.w(f'<div class="req"><a href="{self.home}#{anchor("req-", rid)}">{esc(rid)}'
                   f'</a> <span class="lvl {esc(level)}">{esc(level)}</span>')
            if req:
                self.w(f' <span class="src">{esc(req["file"])}:{req["line"]}'
                       f'{" &middot; " + esc(req["section"]) if req.get("section") else ""}'
                       f'</span><p>{_prose(req["text"])}</p>')
            else:
                self.w(' <span class="src">(text not found in spec/)</span>')
            self.w("</div>")
        self.w("</dd>")

    def files(self, c, page):
        links = []
        if page:
            links.append(f'<a href="{esc(_rel(page, self.base))}">requirement texts, sequence '
                         f'diagram and table ({len(_wire_entries(c)[0])} entries)</a>')
        for label, key in (("wire log", "wire_log_file"), ("IUT stderr", "iut_log")):
            p = _rel(c.get(key), self.base)
            if p:
                links.append(f'<a class="mono" href="{esc(p)}">{esc(label)}: {esc(p)}</a>')
        if links:
            self.w(f"<dt>Files</dt><dd>{' &middot; '.join(links)}</dd>")

    def observation(self, c):
        viols = c.get("violations") or []
        v = c["verdict"]
        shown = viols if v in (V.FAIL, V.NON_STRICT, V.XFAIL, V.FLAKY, V.XPASS) else []
        if v in (V.FLAKY, V.XPASS):
            self.w(f"<pre>{esc(c['observation'].split(chr(10), 1)[0])}</pre>")
        if not shown:
            if v not in (V.FLAKY, V.XPASS):
                self.w(f"<pre>{esc(c.get('observation') or '(nothing recorded)')}</pre>")
            return
        for x in shown:
            m = _EXP_OBS.match(x["msg"])
            self.w(f'<div class="viol"><span class="lvl {esc(x["level"])}">'
                   f'{esc(x["level"])}</span> ')
            if m:
                pre = m.group("pre").rstrip(" :")
                if pre:
                    self.w(f'<span class="where mono">{esc(pre)}</span>')
                self.w(f'<table class="eo"><tr class="exp"><th>expected</th>'
                       f'<td><pre>{esc(m.group("exp"))}</pre></td></tr>'
                       f'<tr class="obs"><th>observed</th><td><pre>{esc(m.group("obs"))}</pre>'
                       f"</td></tr></table>")
            else:
                self.w(f"<pre>{esc(x['msg'])}</pre>")
            self.w("</div>")

    def wire(self, c):
        entries, omitted = _wire_entries(c)
        n = len(entries)
        self.w(f'<h4>Wire log <span class="note">({n} entries'
               f'{f"; {omitted} more omitted from the report" if omitted else ""})</span></h4>')
        if not entries:
            self.w('<p class="note">No traffic.</p>')
            return
        infos = None
        if self.annotate is not None:
            try:
                infos = self.annotate(entries)
            except Exception:
                infos = None
        if self.svg is not None and infos is not None:
            if n > DIAGRAM_HEAD + DIAGRAM_TAIL:
                idx = list(range(DIAGRAM_HEAD)) + list(range(n - DIAGRAM_TAIL, n))
                note = (f"the diagram shows entries 1&ndash;{DIAGRAM_HEAD} and "
                        f"{n - DIAGRAM_TAIL + 1}&ndash;{n}; the table has them all")
            else:
                idx, note = list(range(n)), None
            try:
                svg = self.svg([entries[i] for i in idx], infos=[infos[i] for i in idx])
            except Exception as e:   # a diagram bug must not cost the report
                svg, note = None, f"no diagram: {esc(type(e).__name__)}: {esc(e)}"
            if note:
                self.w(f'<p class="note">{note}</p>')
            if svg:
                svg = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)
                self.w(f'<div class="scroll">{svg}</div>')
        elif self.svg is None:
            self.w('<p class="note">no diagram: tools/scwire_tools/diagram.py is not '
                   'available</p>')
        self.w('<div class="scroll tbl"><table class="wire"><tr><th>#</th><th>t (s)</th>'
               '<th>conn</th><th>dir</th><th>kind</th><th>summary</th><th>bytes</th>'
               '<th>hex</th></tr>')
        for i, e in enumerate(entries):
            info = infos[i] if infos else {}
            d = e.get("dir") or ""
            if "event" in e:
                cls, kind = "ev", e["event"]
                summary = _EVENT_TEXT.get((e["event"], d), "")
                extra = {k: v for k, v in e.items() if k not in ("t", "conn", "event", "dir")}
                if extra:
                    summary += " " + " ".join(f"{k}={v}" for k, v in extra.items())
            else:
                kind = info.get("kind") or ("raw" if e.get("raw") else "msg")
                cls = d + (" bad" if kind in ("raw", "other") else "")
                summary = info.get("summary") or ""
                if e.get("note") and e["note"] not in summary:
                    summary += f" ({e['note']})"
            hx = e.get("hex") or ""
            size = e.get("size", len(hx) // 2) if hx else ""
            shown = hx[:HEX_BYTES * 2] + ("…" if len(hx) > HEX_BYTES * 2 else "")
            arrow = {"c2s": "c2s &rarr;", "s2c": "&larr; s2c"}.get(d, esc(d))
            t = e.get("t")
            self.w(f'<tr class="{cls}"><td class="num">{i + 1}</td>'
                   f'<td class="num">{t:.4f}</td>' if isinstance(t, (int, float))
                   else f'<tr class="{cls}"><td class="num">{i + 1}</td><td></td>')
            self.w(f'<td>{esc(e.get("conn"))}</td><td class="dir">{arrow}</td>'
                   f"<td>{esc(kind)}</td><td class=\"sum\">{esc(summary)}</td>"
                   f'<td class="num">{size}</td><td class="hex mono">{esc(shown)}</td></tr>')
        self.w("</table></div>")

    # --- requirements ------------------------------------------------------

    def requirements(self):
        claimed = {}
        for c in self.rep.get("cases", []):
            for rid in c["spec_ids"]:
                claimed.setdefault(rid, []).append(c)
        if not claimed:
            return
        self.w('<h2 id="requirements">Requirements checked</h2><div class="reqlist">')

        def key(rid):
            p, _, n = rid.partition("-")
            return (p, int(n) if n.isdigit() else 0)
        for rid in sorted(claimed, key=key):
            req = self.reqs.get(rid) or {}
            level = req.get("level", "")
            self.w(f'<div class="reqitem" id="{anchor("req-", rid)}"><strong>{esc(rid)}</strong> '
                   f'<span class="lvl {esc(level)}">{esc(level)}</span> ')
            if req:
                self.w(f'<span class="note">{esc(req["file"])}:{req["line"]} &middot; '
                       f'{esc(req.get("section", ""))}</span><div>{_prose(req["text"])}</div>')
            self.w('<div class="by">checked by: ')
            for c in claimed[rid]:
                self.w(f'<a href="#{self.case_anchor[c["id"]]}">'
                       f'{badge(c["verdict"], explain=False)} {esc(c["id"])}</a> ')
            self.w("</div></div>")
        self.w("</div>")

    def build(self):
        rep = self.rep
        title = (f"scwire conformance: {rep.get('codec')}, "
                 f"{(rep.get('iut') or {}).get('cmd') or (rep.get('iut') or {}).get('addr') or ''}")
        self.head(title)
        self.header()
        self.summary()
        self.cases()
        self.requirements()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        self.w(f"<footer>{esc(R.headline(rep))}. Written {esc(now)} by scwire-conform; "
               f"this file needs no script and fetches nothing.</footer></body></html>\n")
        return "".join(self.out)

    def build_case(self, c):
        """The page of case c alone, its row open (a builder given home)."""
        self.head(f"scwire conformance: {c['id']}")
        self.w(f'<p><a href="{self.home}#{self.case_anchor[c["id"]]}">&larr; the report</a></p>')
        self.case(c, None)
        self.w("</body></html>\n")
        return "".join(self.out)


def render(rep, requirements=None, html_path=None, exit_code=None, fragments=None):
    """The HTML report (str) of a report dict; `fragments` maps case ids to
    their rows rendered before (CaseRenderer), the others are rendered now."""
    return _Builder(rep, requirements, html_path, exit_code, fragments).build()


def write_html(path, rep, requirements=None, exit_code=None, fragments=None):
    """Write the report, and the case pages of the rows not in `fragments`."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    for c in rep.get("cases", []):
        if c["id"] not in (fragments or {}):
            write_case_page(c, requirements, path)
    text = render(rep, requirements, path, exit_code, fragments)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def write_case_page(entry, requirements=None, html_path=None):
    """Write the page of a case whose row in the report at html_path links it
    instead of showing its details (case_page_path); nothing for the others."""
    path = case_page_path(entry)
    if path is None:
        return
    home = _rel(html_path, os.path.dirname(os.path.abspath(path))) or ""
    text = _Builder({"cases": [entry]}, requirements, path, None, home=home).build_case(entry)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def case_html(entry, requirements=None, html_path=None):
    """The row of one case (its <details> block) as the report would render it."""
    b = _Builder({"cases": [entry]}, requirements, html_path, None)
    b.case(entry, None)
    return "".join(b.out)


class CaseRenderer:
    """Renders the rows and case pages of cases in a thread while the next
    cases run (they mostly wait on sockets), so that writing the report at the
    end costs little.  `submit` a finished case's report entry; `fragments`
    (at the end) gives {case id: html} of those rendered; a case whose
    rendering failed is left out and rendered again at the end."""

    def __init__(self, requirements=None, html_path=None):
        self.requirements = requirements
        self.html_path = html_path
        self._queue = queue.Queue()
        self._done = {}
        self._thread = threading.Thread(target=self._work, name="scwire-html", daemon=True)
        self._thread.start()

    def submit(self, entry):
        self._queue.put(entry)

    def _work(self):
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            try:
                write_case_page(entry, self.requirements, self.html_path)
                self._done[entry["id"]] = case_html(entry, self.requirements, self.html_path)
            except Exception:   # noqa: BLE001 - rendered again (and reported) at the end
                self._done.pop(entry["id"], None)

    def fragments(self, timeout=30.0):
        """Wait for the cases submitted so far; {case id: html}."""
        self._queue.put(None)
        self._thread.join(timeout)
        return dict(self._done) if not self._thread.is_alive() else {}
