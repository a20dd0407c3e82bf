# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the spec reader and of --section matching."""
import pytest

from scwire_conform import spec


def test_levels_and_revision_of_the_repository_spec():
    levels = spec.load_levels()
    assert levels["HS-1"] == "MUST" and levels["HS-4"] == "SHOULD"
    assert levels["FRAME-11"] == "MAY" and levels["LIM-14"] == "MUST"
    assert spec.revision() == "3"


def test_levels_from_a_small_spec(tmp_path):
    (tmp_path / "a.md").write_text("- **AB-1** MUST: x\n  - **AB-2** SHOULD: y\n"
                                   "- **AB-3** is no requirement\n")
    assert spec.load_levels(str(tmp_path)) == {"AB-1": "MUST", "AB-2": "SHOULD"}
    assert spec.revision(str(tmp_path)) == "unknown"
    with pytest.raises(spec.SpecError):
        spec.load_levels(str(tmp_path / "missing"))


@pytest.mark.parametrize("rid,prefix,match", [
    ("HS-1", "HS", True), ("HS-10", "HS-", True), ("HS-1", "HS-1", True),
    ("HS-10", "HS-1", False), ("FRAME-1", "HS", False), ("HSX-1", "HS", True),
])
def test_section_prefixes(rid, prefix, match):
    assert spec.id_matches(rid, prefix) is match
