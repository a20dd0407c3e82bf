# SPDX-License-Identifier: AGPL-3.0-or-later
"""The pytest plugin that turns pytest runs into conformance verdicts.

It checks what cases claim (spec ids that exist, names that carry an id),
selects by --section, runs the IUT and the probe, keeps one record per case
(wire log, IUT log, observations), maps each outcome to a verdict
(verdict.py), and at the end writes the reports (JSON, JUnit, HTML), prints
the summary table and sets the exit status: 0 no FAIL (with --strict no
NON-STRICT either; no XPASS, no FLAKY), 1 failures, 2 inconclusive (IUT
unreachable or probe failed), 3 suite errors (a case that errs, no case
collected, collection errors, an --expect entry that matches no case).

--repeat K runs each case K times in a row (its own fixtures are set up and
torn down each time, the session's IUT stays); --expect FILE maps the verdicts
of listed cases to XFAIL/XPASS; --catalogue writes the case list as JSON.
"""
import datetime
import inspect
import json
import os
import re
import shutil
import socket
import sys
import time
import traceback

import pytest

from . import __version__, caps, catalogue, expect, htmlreport, link, profiles, report, spec
from . import spectext
from . import verdict as V
from .iut import IUT, IUTError
from .settings import Settings
from .wire import SERVICE, Closed, Conn, Timeout
from .wirelog import WireLog

NAME = "scwire"
# (category, letter, word) for pytest's progress output; plain words because
# pytest 7's short summary cannot show a word with markup.
_STATUS = {
    V.PASS: ("passed", ".", "PASS"),
    V.FAIL: ("failed", "F", "FAIL"),
    V.NON_STRICT: ("non-strict", "N", "NON-STRICT"),
    V.INFO: ("info", "I", "INFO"),
    V.SKIP: ("skipped", "s", "SKIP"),
    V.ERROR: ("error", "E", "ERROR"),
    V.XFAIL: ("xfailed", "x", "XFAIL"),
    V.XPASS: ("xpassed", "X", "XPASS"),
    V.FLAKY: ("flaky", "K", "FLAKY"),
}
ROLE_MARKER = ("role(name): who connects: 'server' (the suite connects to the IUT; the "
               "default) or 'client' (the IUT connects to the suite, which plays its "
               "registry or parent)")
_AREA_RE = re.compile(r"^test_([a-z0-9_-]+)\.py$")


def area_of(path):
    m = _AREA_RE.match(os.path.basename(str(path)))
    return m.group(1).replace("_", "-") if m else "misc"


def safe_name(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def expectation_of(func):
    """The first paragraph of a case's docstring, on one line."""
    doc = inspect.getdoc(func) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def claimed_ids(item):
    ids = []
    for m in item.iter_markers("spec"):
        ids.extend(m.args)
    return ids


def transport_observation(exc):
    """What a transport exception that ended a case says about the IUT."""
    if isinstance(exc, Closed):
        return (f"{exc}, while the case still needed the connection (it waited for or "
                f"sent the next message of the exchange)")
    if isinstance(exc, Timeout):
        return f"{exc}: the IUT did not send what the case waited for"
    return f"the connection failed while the case still needed it: {exc}"


# An IUT that crashes closes its listener a moment after the connection that
# brought it down: two looks this far apart.
DOWN_LOOK_GAP = 0.3


def stopped_serving(iut):
    """How a case's own listening IUT is down (exited, or refusing connections),
    or None when it still runs and accepts."""
    if not iut.port:
        return None
    for look in range(2):
        if not iut.alive():
            return f"exited (status {iut.proc.returncode})"
        try:
            socket.create_connection((iut.host, iut.port), timeout=1.0).close()
        except ConnectionRefusedError:
            return "refuses connections"
        except OSError:
            pass
        if look == 0:
            time.sleep(DOWN_LOOK_GAP)
    return None


class ShardPicker:
    """Calls Plugin.take_my_shard after every other selection.  It is a plugin
    of its own because pytest registers only hook implementations named
    pytest_*, and the Plugin's own pytest_collection_modifyitems runs first."""

    def __init__(self, plugin):
        self.plugin = plugin

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        self.plugin.take_my_shard(config, items)


class _Parents:
    """Stands for `nextitem` between the runs of one item (--repeat): pytest then
    tears down the item's own fixtures but keeps its module's and the session's."""

    def __init__(self, item):
        self._chain = item.listchain()[:-1]

    def listchain(self):
        return list(self._chain)


# Linux's IP_FREEBIND and IPV6_FREEBIND: bind to an address this host does not
# have, such as the IUT's in another network namespace (--iut-netns).
_FREEBIND = {socket.AF_INET: (socket.SOL_IP, getattr(socket, "IP_FREEBIND", 15)),
             socket.AF_INET6: (socket.IPPROTO_IPV6, 78)}


def free_port(host):
    """A port that was free a moment ago (for IUTs that need a concrete port); for
    an address of another namespace, one free here, which is very likely free
    there too."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam) as s:
        try:
            s.setsockopt(*_FREEBIND[fam], 1)
        except OSError:
            pass
        s.bind((host, 0))
        return s.getsockname()[1]


class Plugin:
    def __init__(self, config, cases_dir):
        self.config = config
        # Only test files under cases_dir are conformance cases; anything else in
        # the same run (the self-tests, say) is left to pytest as it is.
        self.cases_dir = os.path.abspath(cases_dir)
        self.foreign_failed = False
        self.foreign_ran = False
        try:
            self.settings = Settings(config)
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        self.levels = spec.load_levels()
        self.revision = spec.revision()
        self.requirements = spectext.load_requirements()
        self.profile_table = profiles.load_table()
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.records = {}        # nodeid -> CaseRecord (of the latest run), in run order
        self.runs = {}           # nodeid -> [CaseRecord of each run]
        self.entries = {}        # nodeid -> the case's report entry, once its last run ended
        self.renderer = None     # renders the HTML rows of finished cases meanwhile
        self.all_case_ids = []   # every collected case, before any selection
        self.expectations = expect.Expectations()
        self.suite_error = None  # why the run stopped before any case, if the suite knows
        self.iut = None
        self.link_samples = 0    # round trips behind settings.link_rtt (0: given)
        self.link_lossy = False  # a retransmission showed in them
        self.private = []        # IUTs started by single cases
        self.inconclusive = None
        self.probe_failed = None     # why the probe's handshake broke the spec, if it did
        self._setting_up = None      # nodeid of the case whose setup runs
        self._last_case = None       # (nodeid, whether it ended the IUT on purpose)
        self.collect_errors = 0
        self.incidents = []
        self.exit_code = None
        self._marks = {}
        self._case_private = []
        self._attached_check = False
        s = self.settings
        config.addinivalue_line("markers", ROLE_MARKER)
        if s.expect_file:
            try:
                self.expectations = expect.Expectations(expect.load(s.expect_file))
            except expect.ExpectError as e:
                raise pytest.UsageError(str(e)) from None
        if s.list_only or s.catalogue:
            config.option.collectonly = True
        else:
            for sub in ("cases", "iut"):
                shutil.rmtree(os.path.join(s.out, sub), ignore_errors=True)
                os.makedirs(os.path.join(s.out, sub), exist_ok=True)

    # --- collection --------------------------------------------------------

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors += 1

    def is_case(self, item):
        return os.path.abspath(str(item.fspath)).startswith(self.cases_dir + os.sep)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items):
        # First of all hooks, so that every collected case is known (for
        # --expect) before -k and --section deselect some.
        problems, keep, drop = [], [], []
        for item in items:
            if not self.is_case(item):
                keep.append(item)
                continue
            self.all_case_ids.append(self.case_id(item))
            ids = claimed_ids(item)
            fname = getattr(item, "originalname", item.name)
            if not ids:
                problems.append(f"{item.nodeid}: no @pytest.mark.spec(...) ids")
            for rid in ids:
                if rid not in self.levels:
                    problems.append(f"{item.nodeid}: claims {rid}, which is not in the spec")
            stems = {"test_" + rid.lower().replace("-", "_") for rid in ids}
            if ids and not any(fname == s or fname.startswith(s + "_") for s in stems):
                problems.append(f"{item.nodeid}: the name must start with test_<id> of a "
                                f"claimed id ({', '.join(sorted(stems))})")
            if self.settings.sections and not any(
                    spec.id_matches(rid, p) for rid in ids for p in self.settings.sections):
                drop.append(item)
            else:
                keep.append(item)
        if problems:
            raise pytest.UsageError("cases that break the suite's rules:\n  "
                                    + "\n  ".join(problems))
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def take_my_shard(self, config, items):
        """--shard K/N: every N-th of the cases left once every selection (-k,
        --section) is made, so that the shards' cases interleave back into the
        order of the whole run."""
        if not self.settings.shard:
            return
        k, n = self.settings.shard
        cases = [it for it in items if self.is_case(it)]
        mine = {id(it) for it in cases[k::n]}
        drop = [it for it in cases if id(it) not in mine]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = [it for it in items if not self.is_case(it) or id(it) in mine]

    def pytest_collection_finish(self, session):
        if self.expectations:
            bad = self.expectations.unmatched(self.all_case_ids)
            if bad:
                where = self.settings.expect_file
                text = "; ".join(f"{where}:{line}: {cid}" for cid, line in bad)
                why = f"--expect lists ids that match no case: {text}"
                self.suite_error = why
                print(f"scwire-conform: error: {why}", file=sys.stderr, flush=True)
                pytest.exit(f"scwire-conform: error: {why}", returncode=3)
        if self.settings.catalogue:
            self.write_catalogue(session)
        if not self.settings.list_only:
            return
        rows = []
        for item in filter(self.is_case, session.items):
            title = expectation_of(item.function).split(". ")[0].rstrip(".")
            rows.append((self.case_id(item), ",".join(claimed_ids(item)), title))
        w0 = max((len(r[0]) for r in rows), default=0)
        w1 = max((len(r[1]) for r in rows), default=0)
        try:
            for r in rows:
                print(f"{r[0].ljust(w0)}  {r[1].ljust(w1)}  {r[2]}")
            print(f"{len(rows)} cases", flush=True)
        except BrokenPipeError:
            # The reader (say, `| head`) went away; the list is not needed.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if not rows:
            print("scwire-conform: error: no case matches the selection", file=sys.stderr)

    def case_id(self, item):
        return f"{area_of(item.fspath)}/{item.name}"

    def write_catalogue(self, session):
        s = self.settings
        cases_dir = os.path.dirname(self.cases_dir)
        modules = catalogue._Modules()
        rows = []
        try:
            for item in filter(self.is_case, session.items):
                ids = claimed_ids(item)
                rows.append(catalogue.entry(item, self.case_id(item), area_of(item.fspath), ids,
                                            self.levels, expectation_of(item.function),
                                            cases_dir, modules))
        except catalogue.CatalogueError as e:
            raise pytest.UsageError(str(e)) from None
        meta = {"suite_version": __version__, "spec_revision": self.revision,
                "profile": s.profile}
        data = catalogue.build(meta, rows, self.requirements)
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        if s.catalogue == "-":
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except BrokenPipeError:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        else:
            os.makedirs(os.path.dirname(s.catalogue) or ".", exist_ok=True)
            with open(s.catalogue, "w", encoding="utf-8") as fh:
                fh.write(text)
            print(f"scwire-conform: catalogue of {len(rows)} cases written to {s.catalogue}",
                  file=sys.stderr)
        if not rows:
            print("scwire-conform: error: no case matches the selection", file=sys.stderr)

    # --- the IUT -----------------------------------------------------------

    def start_iut(self):
        """Start (or attach to) the session's IUT and probe it; stop the run when
        that fails, as inconclusive."""
        s = self.settings
        if s.iut_addr:
            self.iut = IUT(addr=s.iut_addr, codec=s.codec)
        else:
            self.iut = IUT(s.iut_cmd, host=s.host, port=s.port, codec=s.codec,
                           log_dir=os.path.join(s.out, "iut"), label="iut", netns=s.iut_netns)
        try:
            self.iut.start()
        except (IUTError, ValueError) as e:
            self._stop_inconclusive(f"the IUT could not be started or reached: {e}")
        self._probe()
        if s.measure_link:
            self._measure_link()
        return self.iut

    def _measure_link(self):
        """The round-trip time to the IUT, which widens every time window."""
        s, log = self.settings, WireLog()
        try:
            m = link.measure(self.iut.host, self.iut.port, s.codec, timeout=s.timeout, log=log)
        except link.LinkError as e:
            log.dump(os.path.join(s.out, "link.wire.jsonl"))
            self._stop_inconclusive(f"the round trips that measure the link to the IUT "
                                    f"failed after the probe: {e}")
        s.set_link_rtt(m.rtt)
        s.link_rate = Conn.link_rate = m.rate
        self.link_samples = len(m.samples)
        self.link_lossy = m.lossy

    def _serving(self, log, unknown_function=False):
        """None when the IUT answers a handshake and an echo (and, with
        unknown_function, an unknown function with an error), else why not."""
        return self._try_serving(log, unknown_function)[0]

    def _try_serving(self, log, unknown_function=False):
        """(why not serving or None, the spec ids it broke on the wire or None)."""
        s, iut = self.settings, self.iut
        try:
            with Conn.connect(iut.host, iut.port, s.codec, timeout=s.timeout, log=log) as c:
                try:
                    c.handshake()
                except (V.Violation, Timeout, Closed) as e:
                    return str(e), self._handshake_breaks(c)
                return self._serves(c, unknown_function)
        except (V.Violation, Timeout, Closed, OSError) as e:
            return str(e), None

    def _serves(self, c, unknown_function):
        """Past a handshake that went right, the IUT is reached and speaks the codec:
        an echo or refusal that does not come, or comes malformed, is its failure
        (the ids it broke); only an IUT that does not expose the test service at
        all is inconclusive."""
        calls = [("echo", {"value": "scwire-probe"}, ["RPC-1", "RPC-6", "SVC-8"])]
        if unknown_function:
            calls.append(("no_such_function", {}, ["RPC-1", "RPC-3", "ERR-1"]))
        for func, kwargs, ids in calls:
            try:
                r = c.call(SERVICE, func, kwargs)
            except (V.Violation, Timeout, Closed) as e:
                return f"{SERVICE}.{func}: {e}", self._codec_ids(c) or ids
            if func == "echo" and r.kind == "error" \
                    and r.type_str in ("AttributeError", "ModuleNotExposed"):
                return f"{SERVICE}.echo answered {r.final!r}", None
            ok = r.kind == "return" and r.value == "scwire-probe" if func == "echo" \
                else r.kind == "error" and r.type_str == "AttributeError"
            if not ok:
                return f"{SERVICE}.{func} answered {r.final!r}", ids
        return None, None

    def _codec_ids(self, c):
        if c.codec_error is None:
            return None
        return ["SVC-5", "FRAME-4" if c.codec.prefixed else "FRAME-3"]

    def _handshake_breaks(self, c):
        """The ids an IUT broke when its first bytes do not give a uid: bytes that do
        not decode in the codec, or a message that is no uid.  None when nothing
        came (an IUT not reached, or silent: inconclusive)."""
        if c.codec_error is not None:
            return self._codec_ids(c)
        if any(e.get("dir") == "s2c" and "msg" in e for e in c.log.entries):
            return ["HS-3"]
        return None

    def _probe(self):
        """Handshake, echo, and an unknown function answered with an error."""
        s, iut = self.settings, self.iut
        log = WireLog()
        try:
            why, broken = self._try_serving(log, unknown_function=True)
        finally:
            log.dump(os.path.join(s.out, "probe.wire.jsonl"))
        where = f"Wire log: {os.path.join(s.out, 'probe.wire.jsonl')}"
        if why and broken:
            self._stop_failed_probe(why, broken, log)
        if why:
            self._stop_inconclusive(
                f"the probe of {iut.describe()} failed: {why}. Is it the right codec "
                f"({s.codec}) and does it serve {SERVICE}? {where}")

    def _stop_failed_probe(self, why, ids, log):
        """The IUT answered the probe in a way that breaks the spec: that is a FAIL
        of those requirements (a case of its own, `probe/first-contact`), not an
        unreachable IUT; no further case can be judged on that wire."""
        rec = V.CaseRecord("probe/first-contact", "probe", "first-contact", ids,
                           {rid: self.levels.get(rid) for rid in ids},
                           f"The IUT answers a connection with its uid, encoded in the "
                           f"configured codec ({self.settings.codec}), an echo with its "
                           f"value and an unknown function with AttributeError.")
        rec.wire_log = log
        rec.violate(V.Violation(f"the probe failed: {why}"))
        self._forget_unjudged()
        self.records["probe"] = rec
        self.probe_failed = why
        if self.iut:
            self.iut.stop()
        pytest.exit(f"scwire-conform: FAIL: the IUT's first bytes break {', '.join(ids)}: "
                    f"{why}", returncode=1)

    def _forget_unjudged(self):
        """The run stops while a case is being set up: that case never ran, and no
        verdict may be reported for it."""
        nodeid = self._setting_up
        if nodeid is not None:
            self.records.pop(nodeid, None)
            self.runs.pop(nodeid, None)

    def _stop_inconclusive(self, why):
        self.inconclusive = why
        self._forget_unjudged()
        if self.iut:
            self.iut.stop()
        pytest.exit(f"scwire-conform: INCONCLUSIVE: {why}", returncode=2)

    def before_case(self, item):
        """Called by the autouse guard fixture: an IUT that is up, or a skip."""
        for m in item.iter_markers("needs"):
            caps.require(self.settings.caps, *m.args)
        iut = self.iut
        mk = item.get_closest_marker("may_kill")
        if not iut.managed and mk and mk.kwargs.get("expected"):
            pytest.skip("this case ends the IUT on purpose and an attached IUT cannot be "
                        "restarted; start it with --iut-cmd to run it")
        if iut.managed:
            if self._session_iut_is_well(f"before {self.case_id(item)}", "; restarted"):
                return
            try:
                iut.restart()
            except IUTError as e:
                self._stop_inconclusive(f"the IUT could not be restarted: {e}")
            self._probe()
        elif self._attached_check:
            self._attached_check = False
            if not iut.alive():
                self.incidents.append(f"the attached IUT went down before {self.case_id(item)}")
                pytest.skip(f"the attached IUT at {iut.addr} is down and cannot be restarted")

    def _session_iut_is_well(self, when, then=""):
        """True when the session IUT runs and serves; else the incident is noted and
        the case before is blamed for it."""
        iut = self.iut
        if iut.alive():
            why = self._serving(WireLog())
            if why is None:
                return True
            # An IUT that a case brought down may still run for a while,
            # tearing down (tractor does); the next case must not be
            # judged by it.
            if iut.wait_exit(self.settings.timeout) is None:
                iut.stop(grace=1.0)
            self.incidents.append(f"the IUT stopped serving {when} ({why}){then}")
            self._blame_last_case(f"the IUT stopped serving right after this case ({why})")
        else:
            self.incidents.append(f"the IUT was found dead (exit status "
                                  f"{iut.proc.returncode}) {when}{then}")
            self._blame_last_case(f"the IUT exited (status {iut.proc.returncode}) right "
                                  f"after this case")
        return False

    def _blame_last_case(self, what):
        """The case before this one left the session IUT dead or not serving, some
        time after its last check (tractor takes a while to go down): that is its
        failure, of robustness, unless it ended the IUT on purpose."""
        last = self._last_case
        if last is None or last[1]:
            return
        nodeid, _ = last
        rec = self.records.get(nodeid)
        if rec is None or any(getattr(x, "robustness", False) for x in rec.violations):
            return
        rec.violate(V.Violation(f"{what}; no input may bring it down (SEC-1)", rid="SEC-1",
                                robustness=True))
        if nodeid in self.entries:
            self._case_done(nodeid, rec)

    def start_private_iut(self, item, extra_args, port=None):
        """A second IUT with extra flags, for one case; skips when impossible."""
        s = self.settings
        flags = " ".join(extra_args)
        if not s.iut_cmd:
            with_flags = f" with {flags}" if flags else ""
            pytest.skip(f"needs an IUT of its own started by the suite{with_flags}; "
                        f"this run attaches to a running IUT")
        caps.require(s.caps, *sorted(caps.needed_for_flags(extra_args)),
                     what=f"an IUT of the case's own started with {flags}")
        if port is None:
            port = s.port if s.port == 0 else free_port(s.host)
        iut = IUT(s.iut_cmd, host=s.host, port=port, codec=s.codec, extra_args=extra_args,
                  log_dir=os.path.join(s.out, "iut"), label=safe_name(self.case_id(item)),
                  netns=s.iut_netns)
        self.private.append(iut)
        self._case_private.append(iut)
        try:
            return iut.start()
        except IUTError as e:
            raise V.Violation(f"the IUT did not start with {flags}: {e}") from None

    # --- running cases -----------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        if not self.is_case(item):
            return
        ids = claimed_ids(item)
        rec = V.CaseRecord(self.case_id(item), area_of(item.fspath), item.name, ids,
                           {rid: self.levels.get(rid) for rid in ids},
                           expectation_of(item.function),
                           info_only=item.get_closest_marker("info_only") is not None)
        rec.wire_log = WireLog()
        runs = self.runs.setdefault(item.nodeid, [])
        runs.append(rec)
        rec.run = len(runs)
        self.records[item.nodeid] = rec
        self._setting_up = item.nodeid
        # Before the first case the IUT is not started yet: its log starts at 0.
        self._marks[item.nodeid] = self.iut.mark() if self.iut else (0, 0)
        self._case_private = []
        V.begin(rec)

    def record(self, item):
        return self.records[item.nodeid]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        self._setting_up = None
        outcome = yield
        exc = outcome.excinfo[0] if outcome.excinfo else None
        failed = exc is not None and not issubclass(exc, (pytest.skip.Exception,
                                                          pytest.xfail.Exception))
        rec, iut = self.records.get(item.nodeid), self.iut
        if rec is None or iut is None:
            return
        mk = item.get_closest_marker("may_kill")
        if mk and not iut.managed:
            self._attached_check = True
        expected_death = mk is not None and mk.kwargs.get("expected")
        self._last_case = (item.nodeid, bool(expected_death))
        if iut.managed and not iut.alive() and not expected_death:
            rec.violate(V.Violation(
                f"the IUT process exited (status {iut.proc.returncode}) during this case; "
                f"no input may bring it down (SEC-1)", rid="SEC-1", robustness=True))
        for own in self._case_private:
            # A case that waited for its IUT's exit judged that exit itself.
            if own.proc is None or expected_death or own.exit_judged:
                continue
            if not own.alive():
                rec.violate(V.Violation(
                    f"the case's own IUT (pid {own.pid}) exited (status {own.proc.returncode}) "
                    f"during this case; no input may bring it down (SEC-1)", rid="SEC-1",
                    robustness=True))
            elif (rec.violations or failed) and not any(v.robustness for v in rec.violations):
                # A failure may be the first sign of an IUT going down.
                why = stopped_serving(own)
                if why:
                    rec.violate(V.Violation(
                        f"the case's own IUT (pid {own.pid}) {why} right after this case's "
                        f"failure; no input may bring it down (SEC-1)", rid="SEC-1",
                        robustness=True))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        """--repeat K: run a case K times, then log the reports of its last run
        with the verdict of all runs.  Without --repeat pytest runs it as usual."""
        if self.settings.repeat == 1 or not self.is_case(item):
            return None
        from _pytest.runner import runtestprotocol
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        k = self.settings.repeat
        for i in range(k):
            last = i == k - 1
            reports = runtestprotocol(item, log=False,
                                      nextitem=nextitem if last else _Parents(item))
        v = self.case_verdict(item.nodeid)
        rec = self.records[item.nodeid]
        for rep in reports:
            if getattr(rep, "scwire_judged", False):
                self._set_outcome(rep, v, rec, None)
            item.ihook.pytest_runtest_logreport(report=rep)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def case_verdict(self, nodeid):
        """The verdict of a case over its runs, with its --expect listing applied."""
        runs = self.runs.get(nodeid) or []
        if not runs:
            return None
        v = V.combine(r.verdict() for r in runs)
        if self.expectations.reason(runs[0].id) is not None:
            v = V.expected(v)
        return v

    def _set_outcome(self, rep, v, rec, excinfo):
        """Make pytest's report of a case say what its verdict means for the gate."""
        rep.scwire_verdict = v
        rep.scwire_judged = True
        if v == V.SKIP:
            return
        if V.fails_gate(v, self.settings.strict):
            rep.outcome = "failed"
            if v == V.ERROR and rec.error is None:
                rep.longrepr = "suite error: pytest.skip() without a reason"
            elif v == V.FLAKY:
                runs = self.runs.get(rep.nodeid) or [rec]
                rep.longrepr = ("FLAKY: the verdicts of the runs differ: "
                                + ", ".join(f"run {r.run} {r.verdict()}" for r in runs))
            elif v == V.XPASS:
                why = self.expectations.reason(rec.id)
                rep.longrepr = (f"XPASS: listed as a known deviation"
                                f"{f' ({why})' if why else ''} in {self.settings.expect_file}, "
                                f"but the case did not fail ({rec.verdict()})")
            elif rec.violations and (rep.longrepr is None or excinfo is None
                                     or excinfo.errisinstance(V.Violation)):
                # The expected-vs-observed text says it all; the Python
                # traceback into the suite's helpers would only bury it.
                rep.longrepr = "\n".join(report.violation_lines(rec))
            elif rep.longrepr is None or isinstance(rep.longrepr, tuple):
                rep.longrepr = f"{v}"
        elif rep.when == "setup" and excinfo is not None:
            # A setup that raised must not read as passed: pytest would then run
            # the body without its fixtures.  The verdict stays the record's.
            rep.outcome = "skipped"
            path, line = rep.location[0], (rep.location[1] or 0) + 1
            rep.longrepr = (path, line, f"{v}: " + "; ".join(x.msg for x in rec.violations))
        else:
            rep.outcome = "passed"
            rep.longrepr = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        rec = self.records.get(item.nodeid)
        if rec is None:
            self.foreign_ran = True
            self.foreign_failed |= rep.failed
            return
        if call.excinfo is not None:
            self._classify(rec, call.excinfo)
        if call.when == "teardown":
            self._finish(item, rec)
            if rec.run >= self.settings.repeat:
                self._case_done(item.nodeid, rec)
        if call.when == "call" or rep.outcome != "passed":
            # With --repeat, the verdict of all runs is applied once they ran.
            v = self.case_verdict(item.nodeid) if self.settings.repeat == 1 else rec.verdict()
            self._set_outcome(rep, v, rec, call.excinfo)

    def _classify(self, rec, excinfo):
        exc = excinfo.value
        if isinstance(exc, V.Violation):
            rec.violate(exc)
        elif isinstance(exc, pytest.skip.Exception):
            rec.skip_reason = str(exc.msg or "")
        elif isinstance(exc, AssertionError):
            rec.violate(V.Violation(f"assertion failed: {exc}"))
        elif isinstance(exc, (Timeout, Closed, ConnectionError)):
            rec.violate(V.Violation(transport_observation(exc)))
        else:
            rec.error = "".join(traceback.format_exception(exc))[-4000:]

    def _case_done(self, nodeid, rec):
        """The case's last run ended: its report entry is final; its HTML row is
        rendered in a thread while the next case runs."""
        entry = report.case_entry(self.runs.get(nodeid) or [rec],
                                  self.expectations.reason(rec.id))
        self.entries[nodeid] = entry
        if self.renderer is None:
            self.renderer = htmlreport.CaseRenderer(self.requirements, self.settings.html_path)
        self.renderer.submit(entry)

    def _finish(self, item, rec):
        V.end()
        profiles.apply(rec, self.config.getoption("--expect-profile", profiles.STRICT),
                       self.profile_table)
        rec.duration = max(0.0, time.monotonic() - rec.started)
        base = os.path.join(self.settings.out, "cases", rec.area, safe_name(rec.name))
        if self.settings.repeat > 1:
            base += f".run{rec.run}"
        os.makedirs(os.path.dirname(base), exist_ok=True)
        rec.wire_log.dump(base + ".wire.jsonl")
        rec.wire_path = base + ".wire.jsonl"
        mark = self._marks.pop(item.nodeid, None)
        text = self.iut.log_since(mark) if mark is not None and self.iut is not None else ""
        for p in self._case_private:
            p.stop()
            own = p.log_since((0, 0))
            if own:
                text += f"--- the case's own IUT (pid {p.pid}: {' '.join(p.argv or [])}) ---\n"
                text += own
        self._case_private = []
        if text:
            with open(base + ".iut.log", "w", encoding="utf-8") as fh:
                fh.write(text)
            rec.iut_log = base + ".iut.log"

    def pytest_report_teststatus(self, report, config):
        v = getattr(report, "scwire_verdict", None)
        return _STATUS[v] if v else None

    # --- the end -----------------------------------------------------------

    def pytest_sessionfinish(self, session, exitstatus):
        s = self.settings
        if s.list_only or s.catalogue:
            if exitstatus == 5 or (exitstatus == 0 and not any(
                    self.is_case(i) for i in getattr(session, "items", []))):
                exitstatus = 3
            self.exit_code = exitstatus if exitstatus in (0, 3) or exitstatus > 3 else 3
            session.exitstatus = self.exit_code
            return
        if self.iut is not None and self.iut.managed and self.iut.proc is not None \
                and self._last_case is not None:
            self._session_iut_is_well("after the last case")
        for iut in [self.iut] + self.private:
            if iut is None:
                continue
            iut.stop()
            leaked = iut.leaked()
            if leaked:
                self.incidents.append(f"processes left behind by the IUT (process groups "
                                      f"{leaked}); killed")
                iut.kill_leaked()
        records = [self.entries.get(nid) or self.runs.get(nid) or [rec]
                   for nid, rec in self.records.items()]
        started = datetime.datetime.fromtimestamp(self.started_wall).astimezone()
        meta = {"suite_version": __version__, "spec_revision": self.revision,
                "profile": s.profile, "codec": s.codec, "strict": s.strict,
                "iut": self._iut_meta(), "inconclusive": self.inconclusive,
                "started": started.isoformat(timespec="seconds"),
                "duration_s": round(time.monotonic() - self.started, 3),
                "repeat": s.repeat, "expect_file": s.expect_file, "capabilities": s.caps}
        expected = {}
        for rec in self.records.values():
            why = self.expectations.reason(rec.id)
            if why is not None:
                expected[rec.id] = why
        self.report = report.build(meta, records, expected)
        if self.incidents:
            self.report["incidents"] = list(self.incidents)
        if self.inconclusive:
            code = 2
        elif self.collect_errors or exitstatus in (3, 4):
            code = 3
        elif exitstatus == 5 or not (records or self.foreign_ran):
            code = 3
        elif exitstatus == 2:
            code = 2
        else:
            code = report.exit_code(self.report["summary"], s.strict)
        if code == 0 and self.foreign_failed:
            code = 1
        self.exit_code = code
        session.exitstatus = code
        self.report["exit_status"] = code
        if s.shard:
            self._end_shard(session, code, records)
            return
        if records or self.inconclusive:
            report.write_json(s.json_path, self.report)
            report.write_junit(s.junit_path, self.report)
            try:
                frags = self.renderer.fragments() if self.renderer is not None else None
                htmlreport.write_html(s.html_path, self.report, self.requirements, code, frags)
            except Exception as e:  # noqa: BLE001 - the verdicts stand without the page
                self.incidents.append(f"the HTML report could not be written: "
                                      f"{type(e).__name__}: {e}")

    def _end_shard(self, session, code, records):
        """A shard writes its JSON report and the HTML rows it rendered; the run that
        merges the shards writes the rest.  A shard the split left without a
        case is no error."""
        if not records and not self.inconclusive and not self.collect_errors:
            code = 0
            self.report["exit_status"] = self.exit_code = session.exitstatus = 0
        report.write_json(self.settings.json_path, self.report)
        frags = self.renderer.fragments() if self.renderer is not None else {}
        with open(os.path.join(self.settings.out, "fragments.json"), "w",
                  encoding="utf-8") as fh:
            json.dump(frags, fh)
        return code

    def _iut_meta(self):
        s = self.settings
        meta = {"cmd": s.iut_cmd, "addr": s.iut_addr, "netns": s.iut_netns,
                "suite_host": s.suite_host}
        if s.link_rate:
            meta["link_rate_bps"] = round(s.link_rate)
        if s.link_rtt is not None:
            meta["link_rtt_s"] = round(s.link_rtt, 6)
            meta["window_slack_s"] = round(s.slack, 6)
            meta["link_samples"] = self.link_samples
            meta["link_lossy"] = self.link_lossy
        if self.iut is not None:
            meta["listen"] = f"{self.iut.host}:{self.iut.port}" if self.iut.port else None
            meta["pids"] = list(self.iut.pids)
            meta["stderr"] = list(self.iut.stderr_paths)
        return meta

    def pytest_terminal_summary(self, terminalreporter):
        tr, s = terminalreporter, self.settings
        if s.list_only or s.catalogue:
            if self.exit_code == 3:
                tr.write_line("scwire-conform: ERROR: no case matches the selection", red=True)
            return
        tr.section("scwire conformance summary")
        rep = getattr(self, "report", None)
        paths = (s.json_path, s.junit_path, s.html_path, s.out)
        nothing_run = self.exit_code == 3 and not self.records
        for text, markup in report.summary_lines(
                rep, exit_code=self.exit_code, settings=s, paths=paths, version=__version__,
                revision=self.revision,
                incidents=self.incidents, inconclusive=self.inconclusive,
                suite_error=self.suite_error, nothing_run=nothing_run):
            tr.write_line(text, **markup)
