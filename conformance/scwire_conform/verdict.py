# SPDX-License-Identifier: AGPL-3.0-or-later
"""Verdicts of conformance cases and the checks that lead to them.

A case ends with one verdict:

- PASS: every check held;
- FAIL: a MUST check failed in a case that claims at least one MUST id;
- NON-STRICT: a SHOULD check failed (recorded by `should`, the case goes on),
  or a check failed in a case that claims no MUST id;
- INFO: a case marked `info_only` recorded behaviour (`info`) and nothing failed;
- SKIP: the case called pytest.skip with a reason; never counted as a pass;
- ERROR: the suite itself broke (a bug, a skip without reason); never blamed
  on the IUT.

Three more verdicts describe a case across runs and against a baseline
(`combine`, `expected`):

- FLAKY: with --repeat, the runs of the case disagreed (each run's verdict
  is kept in the report); it fails the gate;
- XFAIL: the case is a known deviation (listed in the --expect file) and it
  failed (FAIL or NON-STRICT) as expected; it does not fail the gate;
- XPASS: the case is listed as a known deviation but did not fail (PASS or
  INFO): the baseline is out of date; it fails the gate.

Cases raise `Violation` (through `must`) to stop at the first failed MUST check.
The record of the running case is module state because cases run one at a
time and the checks are called deep inside helpers.
"""
import contextlib
import time

MUST, SHOULD = "MUST", "SHOULD"
PASS, FAIL, NON_STRICT, INFO, SKIP, ERROR = "PASS", "FAIL", "NON-STRICT", "INFO", "SKIP", "ERROR"
XFAIL, XPASS, FLAKY = "XFAIL", "XPASS", "FLAKY"
VERDICTS = (PASS, FAIL, NON_STRICT, INFO, SKIP, ERROR, XFAIL, XPASS, FLAKY)
# How bad a verdict of one run is, to pick the run a report shows for a case.
_SEVERITY = {ERROR: 5, FAIL: 4, NON_STRICT: 3, SKIP: 2, INFO: 1, PASS: 0}


class Violation(Exception):
    """A check on the IUT's behaviour failed; the text says expected vs observed.

    `rid` names the requirement the check is about when the case claims several;
    `robustness` marks the failures no profile excuses: the IUT died, hung, stopped
    serving others, or lost data (protocol.md SEC-1, SEC-2)."""

    def __init__(self, msg, level=MUST, rid=None, robustness=False):
        if level not in (MUST, SHOULD):
            raise ValueError(f"level must be MUST or SHOULD, not {level!r}")
        super().__init__(msg)
        self.msg = msg
        self.level = level
        self.rid = rid
        self.robustness = robustness

    def __str__(self):
        return self.msg


class CaseRecord:
    """Everything the suite learns about one case while it runs."""

    def __init__(self, case_id, area, name, spec_ids=(), levels=None, expectation="",
                 info_only=False):
        self.id = case_id
        self.area = area
        self.name = name
        self.spec_ids = list(spec_ids)
        self.levels = dict(levels or {})   # spec id -> MUST/SHOULD/MAY
        self.expectation = expectation
        self.info_only = info_only
        self.violations = []               # Violation objects, in order
        self.infos = []
        self.observation = ""
        self.skip_reason = None
        self.error = None                  # text of an internal error
        self.wire_log = None               # a WireLog, set by the plugin
        self.iut_log = None                # path of the IUT's stderr during the case
        self.started = time.monotonic()
        self.duration = 0.0
        self.run = 1                       # which run of the case (--repeat)
        self.wire_path = None              # where the wire log was written

    def violate(self, violation):
        self.violations.append(violation)

    def observe(self, text):
        self.observation = text

    @property
    def has_must_id(self):
        return any(level == MUST for level in self.levels.values())

    def verdict(self):
        return decide(self)


def decide(rec):
    """The verdict of a record; see the module text for the rules."""
    if rec.error is not None:
        return ERROR
    if rec.skip_reason is not None:
        return SKIP if rec.skip_reason.strip() else ERROR
    if any(v.level == MUST for v in rec.violations) and rec.has_must_id:
        return FAIL
    if rec.violations:
        return NON_STRICT
    if rec.info_only:
        return INFO
    return PASS


def combine(verdicts):
    """The verdict of a case from the verdicts of its runs: theirs when they
    agree, FLAKY when they do not."""
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("no run to combine")
    return verdicts[0] if all(v == verdicts[0] for v in verdicts) else FLAKY


def expected(verdict):
    """The verdict of a case listed as a known deviation: a failure it was
    expected to show is XFAIL, a pass it was not expected to show XPASS;
    SKIP, ERROR and FLAKY stay what they are."""
    if verdict in (FAIL, NON_STRICT):
        return XFAIL
    if verdict in (PASS, INFO):
        return XPASS
    return verdict


def fails_gate(verdict, strict=False):
    """Whether a verdict makes the run fail (exit status 1; ERROR is 3)."""
    return verdict in (FAIL, ERROR, XPASS, FLAKY) or (strict and verdict == NON_STRICT)


def representative(records):
    """The run a report shows for a case: the first of its worst runs."""
    records = list(records)
    worst = max(_SEVERITY.get(r.verdict(), 0) for r in records)
    if len({r.verdict() for r in records}) == 1:
        return records[-1]
    return next(r for r in records if _SEVERITY.get(r.verdict(), 0) == worst)


_current = None


def begin(record):
    global _current
    _current = record
    return record


def end():
    global _current
    _current = None


def current():
    """The record of the running case, or None outside a case."""
    return _current


def must(cond, msg, rid=None):
    """Check a MUST: stop the case with a Violation when cond is false."""
    if not cond:
        raise Violation(msg, MUST, rid)
    return True


@contextlib.contextmanager
def no_hang(what):
    """Inside it, a wait for the IUT that got nothing at all (a silent Violation of
    Conn.expect) is a hang: a failure of robustness, not of the awaited reply."""
    try:
        yield
    except Violation as e:
        robust(not getattr(e, "silent", False), f"{what} hangs: nothing came ({e})")
        raise


def robust(cond, msg, rid="SEC-1"):
    """Check that the IUT survived and served: a failure stays FAIL in every profile."""
    if not cond:
        raise Violation(msg, MUST, rid, robustness=True)
    return True


def should(cond, msg, rid=None):
    """Check a SHOULD: record a NON-STRICT outcome when cond is false and go on."""
    if not cond:
        v = Violation(msg, SHOULD, rid)
        if _current is None:
            raise v
        _current.violate(v)
    return bool(cond)


def info(msg):
    """Record behaviour worth reporting (the verdict of an `info_only` case)."""
    if _current is not None:
        _current.infos.append(msg)
        _current.observe(msg)


def unproven(msg):
    """What a case needs in order to judge did not come about: say why, and make the
    verdict INFO instead of PASS (a failed check still decides it)."""
    if _current is not None:
        _current.info_only = True
    info(msg)


def observe(text):
    """Set what the case observed last (shown in the report next to the expectation)."""
    if _current is not None:
        _current.observe(text)
