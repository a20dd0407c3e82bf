# SPDX-License-Identifier: AGPL-3.0-or-later
"""The suite's options (pytest command line) and what follows from them.

One place declares every option, so that the conftest, the plugin and the
`scwire-conform` CLI agree on names and defaults.
"""
import os
import re
import shutil

import pytest

from . import PROFILES, caps

CONFORMANCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(CONFORMANCE_DIR)
# In the source tree the suite uses what `make` built; installed (make install),
# the scwire-ref on PATH and a directory of the caller's.
if os.path.exists(os.path.join(REPO_DIR, "Makefile")):
    DEFAULT_REF = os.path.join(REPO_DIR, "build", "scwire-ref")
    DEFAULT_OUT = os.path.join(REPO_DIR, "build", "conformance")
else:
    DEFAULT_REF = shutil.which("scwire-ref") or "scwire-ref"
    DEFAULT_OUT = os.path.abspath("scwire-conformance")
DEFAULT_IUT_CMD = DEFAULT_REF + " --listen {host}:{port} --codec {codec}"
DEFAULT_CHILD_CMD = DEFAULT_REF + " --codec {codec}"
# tractor's child command line (test-service.md section 5.1), added to a child
# template that does not place these itself.
CHILD_ARGS = " --uid {uid} --parent_addr {parent_addr}"
DEFAULT_TIMEOUT = 5.0
# protocol.md: "promptly" is 2 s; it scales with --timeout on slow hosts.
PROMPT_PER_TIMEOUT = 2.0 / DEFAULT_TIMEOUT
# test-service.md section 1.1: every window the suite gives the IUT is widened
# by this many round trips of the link to it (the longest one measured).
RTT_FACTOR = 4
LINK_TRIES = 3
# REG-12: the wait an actor should keep for its unregistration at exit.
UNREGISTER_WAIT = 0.5
_NETNS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def add_options(parser):
    g = parser.getgroup("scwire", "scwire conformance suite")
    g.addoption("--iut-cmd", default=None,
                help="command template of the IUT with {host}, {port}, {codec} "
                     f"(default: {DEFAULT_IUT_CMD})")
    g.addoption("--iut-addr", default=None, metavar="HOST:PORT",
                help="attach to an IUT that is already running there")
    g.addoption("--iut-host", default="127.0.0.1", help="{host} of the template")
    g.addoption("--iut-netns", default=None, metavar="NAME",
                help="start every IUT (and child command) in the network namespace NAME, "
                     "as `ip netns exec NAME ...` (needs root)")
    g.addoption("--suite-host", default=None, metavar="ADDR",
                help="the address the suite's own listeners (registry, callee, parent) bind "
                     "to and give the IUT (default: --iut-host)")
    g.addoption("--link-rtt", default="auto", metavar="S",
                help="round-trip time to the IUT in seconds; every time window is widened "
                     f"by {RTT_FACTOR} times it (auto, the default: measured before the "
                     "first case)")
    g.addoption("--iut-port", type=int, default=0,
                help="{port} of the template; 0 = any free port, read from the IUT's stdout")
    g.addoption("--iut-cap", action="append", default=[], metavar="NAME",
                help="declare a capability of the IUT (repeatable): "
                     + ", ".join(sorted(caps.CAPS)) + "; cases needing an undeclared one SKIP")
    g.addoption("--iut-caps", default=None, metavar="FILE",
                help="a file of capability names, one a line (# comments)")
    g.addoption("--iut-child-cmd", default=None, metavar="T",
                help="command template of the IUT as a child actor, with {codec} and "
                     "optionally {uid} {parent_addr} (else added as --uid {uid} "
                     "--parent_addr {parent_addr}); needed by the capability child")
    g.addoption("--iut-ref-flags", action="store_true", default=None,
                help="the IUT has every capability of scwire-ref (implied for the default "
                     "command): shorthand for --iut-cap for each")
    g.addoption("--iut-registry", action="store_true", default=False,
                help="the IUT runs in the registry role (serves self.register_actor, ...)")
    g.addoption("--codec", default="msgpack", choices=["msgpack", "lenprefix"])
    g.addoption("--profile", default=PROFILES[0], choices=list(PROFILES))
    g.addoption("--timeout", type=float, default=DEFAULT_TIMEOUT,
                help="seconds any single wait lasts before it fails (default 5)")
    g.addoption("--chop", type=int, default=0, metavar="N",
                help="send everything in N-byte TCP segments (default off)")
    g.addoption("--out", default=DEFAULT_OUT,
                help=f"directory for logs and reports (default {DEFAULT_OUT})")
    g.addoption("--json", default=None, metavar="PATH",
                help="JSON report (default OUT/report.json)")
    g.addoption("--junit", default=None, metavar="PATH", help="JUnit XML (default OUT/junit.xml)")
    g.addoption("--html", default=None, metavar="PATH",
                help="HTML report (default OUT/report.html)")
    g.addoption("--catalogue", default=None, metavar="PATH",
                help="write the case catalogue as JSON ('-': stdout) and run nothing")
    g.addoption("--expect", default=None, metavar="FILE",
                help="known deviations of this IUT: one case id a line, optionally TAB "
                     "reason; a listed failure is XFAIL, a listed pass XPASS (a failure)")
    g.addoption("--repeat", type=int, default=1, metavar="K",
                help="run every selected case K times; disagreeing runs make it FLAKY")
    g.addoption("--section", action="append", default=[], metavar="PREFIX",
                help="run only cases claiming a spec id with this prefix (HS, HS-1, ...)")
    g.addoption("--list", action="store_true", default=False,
                help="list case ids and titles, run nothing")
    g.addoption("--shard", default=None, metavar="K/N",
                help="run only the selected cases whose index is K modulo N, for a run split "
                     "over N processes (scwire-conform --jobs); the report of the shard "
                     "holds them alone and the HTML page is left to the run that merges")
    # pytest < 8 has a (deprecated) --strict of its own; the suite reads that one.
    if int(pytest.__version__.split(".")[0]) >= 8:
        g.addoption("--strict", action="store_true", default=False,
                    help="NON-STRICT verdicts count as failures")


class Settings:
    """The options of one run, read from a pytest config."""

    def __init__(self, config):
        opt = config.getoption
        self.iut_addr = opt("--iut-addr")
        self.iut_cmd = opt("--iut-cmd") or (None if self.iut_addr else DEFAULT_IUT_CMD)
        self.host = opt("--iut-host")
        self.port = opt("--iut-port")
        self.iut_netns = opt("--iut-netns")
        if self.iut_netns is not None and not _NETNS_RE.match(self.iut_netns):
            raise ValueError(f"--iut-netns {self.iut_netns!r}: a namespace name is 1 to 64 "
                             f"letters, digits, '_', '.' or '-'")
        if self.iut_netns and self.iut_addr:
            raise ValueError("--iut-netns starts the IUT in a namespace; an IUT attached with "
                             "--iut-addr runs wherever it runs: give one or the other")
        self.suite_host = opt("--suite-host") or self.host
        default_iut = self.iut_cmd == DEFAULT_IUT_CMD
        ref = opt("--iut-ref-flags")
        ref_flags = bool(ref) if ref is not None else default_iut
        try:
            self.caps = caps.parse_names(opt("--iut-cap") or [])
            if opt("--iut-caps"):
                self.caps |= caps.load_file(opt("--iut-caps"))
        except caps.CapsError as e:
            raise ValueError(str(e)) from None
        self.child_cmd = opt("--iut-child-cmd") or (DEFAULT_CHILD_CMD if default_iut else None)
        if "child" in self.caps and not self.child_cmd:
            raise ValueError("the capability child needs --iut-child-cmd, the command "
                             "template that starts the IUT as a child actor")
        if self.child_cmd and "{uid}" not in self.child_cmd:
            self.child_cmd += CHILD_ARGS
        if self.child_cmd and "{parent_addr}" not in self.child_cmd:
            raise ValueError("--iut-child-cmd places {uid} but not {parent_addr}; give both "
                             "placeholders or neither")
        # Without a child template the child role cannot be reached, whatever
        # --iut-ref-flags promises; its cases then SKIP naming the capability.
        if ref_flags:
            self.caps |= caps.ALL if self.child_cmd else caps.ALL - {"child"}
        self.registry = opt("--iut-registry")
        self.codec = opt("--codec")
        self.profile = opt("--profile")
        self.timeout = self.base_timeout = opt("--timeout")
        self.prompt = self.base_prompt = self.timeout * PROMPT_PER_TIMEOUT
        self.link_rtt, self.slack = None, 0.0
        self.link_rate = None     # bytes/s of the link to the IUT, once measured
        self.measure_link = parse_link_rtt(opt("--link-rtt")) is None
        if not self.measure_link:
            self.set_link_rtt(parse_link_rtt(opt("--link-rtt")))
        self.chop = opt("--chop") or None
        self.out = os.path.abspath(opt("--out"))
        self.json_path = os.path.abspath(opt("--json") or os.path.join(self.out, "report.json"))
        self.junit_path = os.path.abspath(opt("--junit") or os.path.join(self.out, "junit.xml"))
        self.html_path = os.path.abspath(opt("--html") or os.path.join(self.out, "report.html"))
        cat = opt("--catalogue")
        self.catalogue = None if cat is None else (cat if cat == "-" else os.path.abspath(cat))
        self.expect_file = os.path.abspath(opt("--expect")) if opt("--expect") else None
        self.repeat = opt("--repeat")
        if self.repeat is None or self.repeat < 1:
            raise ValueError(f"--repeat must be 1 or more, not {self.repeat}")
        self.sections = list(opt("--section") or [])
        self.list_only = opt("--list")
        self.shard = parse_shard(opt("--shard"))
        self.strict = bool(getattr(config.option, "strict", False))
        if self.iut_cmd and self.iut_addr:
            raise ValueError("give --iut-cmd or --iut-addr, not both")

    def tries(self, bound):
        """How many times a case may repeat an observation that hangs on a bound the
        IUT keeps itself (REG-12's 0.5 s wait, say), which the suite cannot widen:
        once when the link's widening is short against that bound, else
        LINK_TRIES times, the case failing only when none shows the behaviour
        (test-service.md section 1.1)."""
        return 1 if self.slack < bound else LINK_TRIES

    def set_link_rtt(self, rtt):
        """The round-trip time to the IUT: every window grows by RTT_FACTOR times it
        (the wait bound, promptly, and what cases derive from them)."""
        self.link_rtt = rtt
        self.slack = RTT_FACTOR * rtt
        self.timeout = self.base_timeout + self.slack
        self.prompt = self.base_prompt + self.slack



def parse_link_rtt(text):
    """None for "auto" (measure it), else the seconds given."""
    if text is None or text == "auto":
        return None
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v <= 60:
        raise ValueError(f"--link-rtt must be auto or seconds from 0 to 60, not {text!r}")
    return v


def parse_shard(text):
    """(k, n) of a --shard K/N, or None."""
    if text is None:
        return None
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise ValueError(f"--shard must be K/N with 0 <= K < N, not {text!r}")
    return int(k), int(n)
