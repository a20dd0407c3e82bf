# SPDX-License-Identifier: AGPL-3.0-or-later
"""Options, markers and fixtures of the conformance cases.

Fixtures:
- `iut` (session): the implementation under test, started (or attached to)
  and probed before the first case; restarted when a case leaves it dead.
- `fresh_conn_factory`: makes connections to the IUT that log into the case's
  wire log and are closed after the case; `conn` is one handshaken
  connection, `raw_conn` one without handshake.
- `private_iut`: starts a second IUT with extra flags for one case.
- `registry_server`: starts a registry run by the suite, for IUTs to register with.
- `settings`, `case`: the run's options and the running case's record.
"""
import os

import pytest

from scwire_conform.plugin import NAME, Plugin
from scwire_conform.registry import RegistryServer
from scwire_conform.settings import add_options
from scwire_conform.wire import Conn

MARKERS = [
    "spec(*ids): the requirement ids (spec/*.md) that the case checks",
    "info_only: the case records behaviour (INFO) rather than judging it",
    "may_kill(expected=False): the case may leave the IUT dead; expected=True when "
    "it ends the IUT on purpose (then it is skipped with an attached IUT)",
]


def pytest_addoption(parser):
    add_options(parser)


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if not config.pluginmanager.has_plugin(NAME):
        config.pluginmanager.register(Plugin(config, os.path.dirname(__file__)), NAME)


@pytest.fixture(scope="session")
def suite(pytestconfig):
    return pytestconfig.pluginmanager.get_plugin(NAME)


@pytest.fixture(scope="session")
def settings(suite):
    return suite.settings


@pytest.fixture(scope="session")
def iut(suite):
    return suite.start_iut()


@pytest.fixture(autouse=True)
def _iut_guard(request, suite, iut):
    # Every case starts with an IUT that is up (restarted if a previous case
    # killed it), or is skipped when that cannot be had.
    suite.before_case(request.node)


@pytest.fixture
def case(suite, request):
    return suite.record(request.node)


@pytest.fixture
def fresh_conn_factory(iut, settings, case):
    made = []

    def make(*, handshake=True, name="scwire-conform", uuid=None, chop=None, target=None):
        where = target or iut
        c = Conn.connect(where.host, where.port, settings.codec, timeout=settings.timeout,
                         log=case.wire_log, chop=settings.chop if chop is None else chop)
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
        r = RegistryServer(settings.codec, case.wire_log, host=settings.host, answer=answer,
                           timeout=settings.timeout)
        started.append(r)
        return r
    yield start
    for r in started:
        r.stop()
