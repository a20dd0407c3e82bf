# SPDX-License-Identifier: AGPL-3.0-or-later
"""Options, markers and fixtures of the conformance cases.

Fixtures:
- `iut` (session): the implementation under test, started (or attached to)
  and probed before the first case; restarted when a case leaves it dead.
- `fresh_conn_factory`: makes connections to the IUT that log into the case's
  wire log and are closed after the case (`source=` the local address to
  connect from); `conn` is one handshaken
  connection, `raw_conn` one without handshake.
- `private_iut`: starts a second IUT with extra flags for one case.
- `registry_server`: starts a registry run by the suite, for IUTs to register with;
  `scripted_registry` one that misbehaves on demand (scripted_registry.py).
- `client_iut(registry)`: an IUT of the case's own that registers with a
  registry of the suite (the IUT as a client); skipped when impossible.
- `hostile(allowed=..., tractor=...)`: the frame of a hostile case: sanity
  echoes, a streaming bystander, the blast-radius grade (bystander.py).
- `chop`: None, or 1 in the second run of every conversation case (the areas
  of CHOP_AREAS), whose writes then leave in 1-byte TCP segments.
- `expect_profile`, `vectors_dir`, `settings`, `case`.

Options added here (beside those of settings.py): --expect-profile,
--vectors, --dump-sent, --chop-variants, --chop-pause, --chop-pause-share.
"""
import os
import shlex
import socket
import subprocess
import sys

import pytest

from scwire_conform.bystander import Hostile
from scwire_conform.iut import IUT, IUTError
from scwire_conform.plugin import NAME, Plugin, ShardPicker, area_of, free_port, safe_name
from scwire_conform.profiles import PROFILES, STRICT
from scwire_conform.registry import RegistryServer
from scwire_conform.scripted_registry import ScriptedRegistry
from scwire_conform.settings import add_options
from scwire_conform.tapsock import DEFAULT_CHOP_PAUSE, DEFAULT_PAUSE_SHARE, SentDump, TapSocket
from scwire_conform.verdict import Violation
from scwire_conform.wire import Conn

MARKERS = [
    "spec(*ids): the requirement ids (spec/*.md) that the case checks",
    "info_only: the case records behaviour (INFO) rather than judging it",
    "may_kill(expected=False): the case may leave the IUT dead; expected=True when "
    "it ends the IUT on purpose (then it is skipped with an attached IUT)",
    "no_chop(reason): the case is about timing or bulk; it does not get the 1-byte "
    "segment variant of its area",
    "role(name): the role the IUT plays in the case: server (default) or client",
    "tractor_kills: tractor 0.1.0a4 exits on this input, a failure of robustness in "
    "every profile (the mark documents it; the IUT is restarted after the case)",
    "needs(*caps): IUT capabilities (caps.py) the case needs; it SKIPs when one is not "
    "declared",
]
# The areas whose cases are conversations: each of their cases runs twice,
# the second time with every write in 1-byte TCP segments (FRAME-8).
CHOP_AREAS = {"rpc", "streaming", "context", "registry", "cancel", "unknown-context"}
CONFORMANCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VECTORS = os.path.join(CONFORMANCE_DIR, "vectors", "tractor-0.1.0a4")
TRACTOR_ADAPTER = os.path.join(CONFORMANCE_DIR, "iut", "tractor", "run.py")


def pytest_addoption(parser):
    add_options(parser)
    g = parser.getgroup("scwire")
    g.addoption("--expect-profile", default=STRICT, choices=list(PROFILES),
                help="judge cases where tractor 0.1.0a4 deliberately differs from the spec by "
                     "the spec (strict, default) or by what tractor does (tractor)")
    g.addoption("--vectors", default=DEFAULT_VECTORS, metavar="DIR",
                help="the recorded tractor 0.1.0a4 traces for the replay cases "
                     f"(default {DEFAULT_VECTORS})")
    g.addoption("--dump-sent", default=None, metavar="DIR",
                help="write the raw bytes the suite sends on each connection to "
                     "DIR/<codec>/<area>/<case>.<conn>.bin (fuzzing seeds)")
    g.addoption("--chop-variants", default="on", choices=["on", "off"],
                help="run the conversation cases a second time in 1-byte segments (default on)")
    g.addoption("--chop-pause", type=float, default=DEFAULT_CHOP_PAUSE, metavar="S",
                help="seconds of a pause between two 1-byte segments in the chopped variants "
                     f"(default {DEFAULT_CHOP_PAUSE})")
    g.addoption("--chop-pause-share", type=float, default=DEFAULT_PAUSE_SHARE, metavar="P",
                help="the share of segments followed by that pause, at random points "
                     f"(default {DEFAULT_PAUSE_SHARE}; 1 pauses after every byte)")


def split_registry_template(template):
    """The IUT command without its `{registry}` words (for the session IUT, which
    registers nowhere), and the full command.  `--registry {registry}` goes as a
    pair, `--registry={registry}` as one word."""
    if not template or "{registry}" not in template:
        return template, template
    words, out = shlex.split(template), []
    for w in words:
        if "{registry}" in w:
            if w == "{registry}" and out and out[-1].startswith("-"):
                out.pop()
            continue
        out.append(w)
    return shlex.join(out), template


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    # test-service.md's optional {registry} placeholder: only the cases that
    # run the IUT as a client fill it in; the session IUT runs without it.
    stripped, full = split_registry_template(config.option.iut_cmd)
    config.option.iut_cmd = stripped
    config.scwire_registry_template = full if full and "{registry}" in full else None
    if not config.pluginmanager.has_plugin(NAME):
        plugin = Plugin(config, os.path.dirname(__file__))
        config.pluginmanager.register(plugin, NAME)
        config.pluginmanager.register(ShardPicker(plugin), NAME + "-shard")


def pytest_generate_tests(metafunc):
    if "chop" not in metafunc.fixturenames:
        return
    d = metafunc.definition
    if (metafunc.config.getoption("--chop-variants") == "on"
            and area_of(d.fspath) in CHOP_AREAS
            and d.get_closest_marker("no_chop") is None
            and getattr(d.get_closest_marker("role"), "args", ("server",))[0] != "client"):
        metafunc.parametrize("chop", [None, 1], ids=["whole", "chop1"], indirect=True)


@pytest.fixture(scope="session")
def suite(pytestconfig):
    return pytestconfig.pluginmanager.get_plugin(NAME)


@pytest.fixture(scope="session")
def settings(suite):
    return suite.settings


@pytest.fixture(scope="session")
def expect_profile(pytestconfig):
    return pytestconfig.getoption("--expect-profile")


@pytest.fixture(scope="session")
def vectors_dir(pytestconfig):
    return os.path.abspath(pytestconfig.getoption("--vectors"))


@pytest.fixture(scope="session")
def sent_dump(pytestconfig, settings):
    d = pytestconfig.getoption("--dump-sent")
    return SentDump(d, settings.codec) if d else None


@pytest.fixture(scope="session")
def iut(suite):
    return suite.start_iut()


@pytest.fixture(autouse=True)
def _iut_guard(request, suite, iut):
    # Every case starts with an IUT that serves (restarted if a previous case
    # killed it or left it not serving), or is skipped when that cannot be had.
    suite.before_case(request.node)


@pytest.fixture(autouse=True)
def chop(request):
    """None, or the segment size of the chopped variant of a conversation case."""
    return getattr(request, "param", None)


@pytest.fixture
def case(suite, request):
    return suite.record(request.node)


def case_base(settings, case):
    """OUT/cases/<area>/<case>: where the plugin keeps the case's logs."""
    return os.path.join(settings.out, "cases", case.area, safe_name(case.name))


@pytest.fixture
def fresh_conn_factory(iut, settings, case, chop, sent_dump, pytestconfig):
    made = []
    pause = pytestconfig.getoption("--chop-pause")
    share = pytestconfig.getoption("--chop-pause-share")
    variant_chop = chop

    def make(*, handshake=True, name="scwire-conform", uuid=None, chop=None, target=None,
             log=None, conn_name=None, dump=True, source=None):
        # source: the local address to connect from, a host (any port) or (host, port).
        where = target or iut
        local = (source, 0) if isinstance(source, str) else source
        sock = socket.create_connection((where.host, where.port), timeout=settings.timeout,
                                        source_address=local)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        variant = chop is None and variant_chop
        tap = TapSocket(sock, chop=variant_chop if variant else None, pause=pause,
                        pause_share=share, seed=f"{case.id}/{len(made)}")
        c = Conn(tap, settings.codec, timeout=settings.timeout,
                 log=case.wire_log if log is None else log, name=conn_name,
                 chop=(None if variant else settings.chop) if chop is None else chop)
        if sent_dump is not None and dump:
            tap.dump_path = sent_dump.path(case.area, case.name, c.name)
        made.append(c)
        if handshake:
            c.handshake(name, uuid)
        return c
    yield make
    for c in made:
        c.close()


@pytest.fixture
def conn(fresh_conn_factory):
    return fresh_conn_factory()


@pytest.fixture
def raw_conn(fresh_conn_factory):
    return fresh_conn_factory(handshake=False)


@pytest.fixture
def private_iut(suite, request):
    def start(*extra_args, port=None):
        return suite.start_private_iut(request.node, list(extra_args), port=port)
    return start


@pytest.fixture
def registry_server(settings, case):
    started = []

    def start(answer=True):
        r = RegistryServer(settings.codec, case.wire_log, host=settings.suite_host, answer=answer,
                           timeout=settings.timeout)
        started.append(r)
        return r
    yield start
    for r in started:
        r.stop()


@pytest.fixture
def scripted_registry(settings, case):
    started = []

    def start(**behaviour):
        r = ScriptedRegistry(settings.codec, case.wire_log, host=settings.suite_host,
                             timeout=settings.timeout, **behaviour)
        started.append(r)
        return r
    yield start
    for r in started:
        r.stop()


def _adopt(suite, iut):
    """Let the plugin stop an IUT of our own after the case, keep its log with
    the case's, and look for processes it left behind."""
    for attr in ("private", "_case_private"):
        lst = getattr(suite, attr, None)
        if isinstance(lst, list):
            lst.append(iut)


@pytest.fixture
def own_iut(suite, settings, request):
    """Start an IUT from a template of the case's choice: own_iut(template, extra_args)."""
    started = []

    def start(template, extra_args=(), label=None, env_note=""):
        port = settings.port if settings.port == 0 else free_port(settings.host)
        it = IUT(template, host=settings.host, port=port, codec=settings.codec,
                 extra_args=list(extra_args), log_dir=os.path.join(settings.out, "iut"),
                 label=label or safe_name(suite.case_id(request.node)),
                 netns=settings.iut_netns)
        started.append(it)
        _adopt(suite, it)
        try:
            return it.start()
        except (IUTError, ValueError) as e:
            raise Violation(f"the IUT did not start ({' '.join(it.argv or [template])}"
                            f"{env_note}): {e}") from None
    yield start
    for it in started:
        it.stop()


@pytest.fixture
def client_iut(pytestconfig, settings, private_iut, own_iut):
    """client_iut(registry_addr): an IUT of the case's own that registers with the
    registry at registry_addr.  Uses the `{registry}` placeholder of the IUT
    template, or scwire-ref's --registry flag; skips when neither is possible."""
    def start(registry_addr):
        template = pytestconfig.scwire_registry_template
        if settings.iut_addr:
            pytest.skip("needs an IUT of its own that registers with the suite's registry; "
                        "this run attaches to a running IUT")
        if template:
            return own_iut(template.replace("{registry}", registry_addr))
        return private_iut("--registry", registry_addr)
    return start


@pytest.fixture
def hostile(fresh_conn_factory, settings, case, iut):
    made = []

    def make(**kw):
        h = Hostile(fresh_conn_factory, settings, case, iut=iut,
                    log_dir=case_base(settings, case), **kw)
        made.append(h)
        return h
    yield make
    for h in made:
        if h.bystander is not None:
            h.bystander.abandon()


_TRACTOR_IMPORTABLE = {}


def tractor_importable():
    """(True, "") when `import tractor` works for this interpreter and environment,
    else (False, why); asked once, in a subprocess, so the suite never imports it."""
    if "v" not in _TRACTOR_IMPORTABLE:
        try:
            p = subprocess.run([sys.executable, "-W", "ignore", "-c", "import tractor, trio"],
                               capture_output=True, text=True, timeout=60)
            why = (p.stderr.strip().splitlines() or [""])[-1]
            _TRACTOR_IMPORTABLE["v"] = (p.returncode == 0, why)
        except (OSError, subprocess.TimeoutExpired) as e:
            _TRACTOR_IMPORTABLE["v"] = (False, str(e))
    return _TRACTOR_IMPORTABLE["v"]


@pytest.fixture
def tractor_iut(own_iut, settings):
    """tractor_iut(*extra_args, registry=None): the tractor adapter as an IUT of the
    case's own; skipped when tractor is not importable."""
    ok, why = tractor_importable()
    if not ok:
        pytest.skip(f"tractor is not importable ({why})")

    def start(*extra_args, registry=None):
        template = (f"{shlex.quote(sys.executable)} {shlex.quote(TRACTOR_ADAPTER)} "
                    "--listen {host}:{port} --codec {codec}")
        args = list(extra_args) + (["--registry", registry] if registry else [])
        return own_iut(template, args, env_note="; PYTHONPATH="
                       + os.environ.get("PYTHONPATH", "(unset)"))
    return start
