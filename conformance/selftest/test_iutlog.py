# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the checks on the IUT's log records (test-service.md SVC-30)."""
import pytest

from scwire_conform import iutlog
from scwire_conform import verdict as V


class FakeIUT:
    """Stands for an IUT whose stderr grows by the given lines."""

    def __init__(self, text="", managed=True):
        self.text = text
        self.managed = managed

    def log_since(self, mark):
        return self.text[mark:]


@pytest.fixture
def record():
    rec = V.begin(V.CaseRecord("demo/x", "demo", "x", ["LIM-1"], {"LIM-1": "MUST"}))
    yield rec
    V.end()


def test_a_record_naming_the_connection_and_the_value_is_found(record):
    iut = FakeIUT("old line 40123 65536\n")
    mark = len(iut.text)
    iut.text += ("12:00 INFO accepted a connection\n"
                 "12:00 WARNING closing connection 3 (127.0.0.1:40123): over the message "
                 "limit of 65536 bytes\n")
    line = iutlog.must_log(iut, mark, ["40123"], "closing c1", value=65536)
    assert "closing connection 3" in line


def test_records_before_the_mark_do_not_count(record):
    iut = FakeIUT("12:00 WARNING closing connection 3 (127.0.0.1:40123)\n")
    with pytest.raises(V.Violation, match=r"SVC-30: expected a record .* \(40123\); observed 0"):
        iutlog.must_log(iut, len(iut.text), ["40123"], "closing c1", value=None)


def test_a_record_without_the_limit_value_fails_naming_it(record):
    iut = FakeIUT()
    iut.text = "12:00 WARNING closing connection 3 (127.0.0.1:40123): too big\n"
    with pytest.raises(V.Violation, match="and the limit's value 65536; observed 1 new line"):
        iutlog.must_log(iut, 0, ["40123"], "closing c1", value=65536)


def test_a_record_may_name_the_connection_by_the_peer_uuid(record):
    iut = FakeIUT("ignoring a message from ('x', 'b3c7-uuid')\n")
    assert iutlog.must_log(iut, 0, ["40123", "b3c7-uuid"], "dropping") is not None


def test_an_attached_iut_is_not_checked_and_the_observation_says_so(record):
    assert iutlog.must_log(FakeIUT(managed=False), 0, ["1"], "closing c1") is None
    assert "cannot read the log of an IUT it attached to" in record.infos[-1]
