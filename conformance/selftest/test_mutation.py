# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of conformance/mutation/run-mutants: the catalogue's checks, applying
a mutant, verdicts from reports, the score and the sample.  Nothing is built and
the suite never runs."""
import datetime
import os

import pytest

from scripts import load_script

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(os.path.dirname(HERE), "mutation", "run-mutants")
# The areas of the spec every catalogue must reach (conformance/mutation/README.md).
PREFIXES = {"FRAME", "HS", "MSG", "CID", "RPC", "CTX", "OVR", "ERR", "SELF", "REG", "CAN",
            "SUP", "SEC", "LIM"}


rm = load_script(RUNNER, "run_mutants")

SOURCE = "int f(int n)\n{\n    if (n > 4)\n        return 1;\n    return 0;\n}\n"


@pytest.fixture
def tree(tmp_path):
    """A repository in miniature: two requirements and one source file."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "a.md").write_text(
        "- **LIM-2** MUST: a must.\n  - **OVR-7** SHOULD: a should.\n- **FRAME-11** MAY: a may.\n")
    (tmp_path / "ref" / "src").mkdir(parents=True)
    (tmp_path / "ref" / "src" / "x.c").write_text(SOURCE)
    return tmp_path


def entry(i="M001", **kw):
    e = {"id": i, "spec": "LIM-2", "file": "ref/src/x.c", "find": "n > 4", "replace": "n >= 4",
         "what": "Off by one."}
    e.update(kw)
    return e


def toml_of(entries):
    out = []
    for e in entries:
        out.append("[[mutant]]")
        out += [f"{k} = '''{v}'''" for k, v in e.items()]
    return "\n".join(out) + "\n"


def load(tree, entries):
    path = tree / "m.toml"
    path.write_text(toml_of(entries))
    return rm.load_catalogue(str(path), rm.load_levels(str(tree / "spec")), str(tree))


def test_a_valid_catalogue_loads_with_levels(tree):
    ms = load(tree, [entry(), entry("M002", spec="OVR-7", find="return 1;",
                                    replace="return 2;", codec="lenprefix")])
    assert [(m["id"], m["level"]) for m in ms] == [("M001", "MUST"), ("M002", "SHOULD")]


@pytest.mark.parametrize("bad, words", [
    ([entry(), entry("M002"), entry("M002", find="return 0;")], ["M002", "duplicate id"]),
    ([entry("M003", find="n < 4")], ["M003", "occurs 0 times"]),
    ([entry("M004", find="return")], ["M004", "occurs 2 times"]),
    ([entry("M005", spec="NOPE-1")], ["M005", "NOPE-1"]),
    ([entry("M006", spec="FRAME-11")], ["M006", "not a MUST or SHOULD"]),
    ([{k: v for k, v in entry("M007").items() if k != "what"}], ["M007", "missing field 'what'"]),
    ([entry("M008", codec="json")], ["M008", "codec"]),
    ([entry("M009", equivalent="why", open="how")], ["M009", "cannot also be open"]),
    ([entry("M010", file="ref/src/x.h")], ["M010", "not a .c file"]),
    ([entry("M011", replace="n > 4")], ["M011", "replace changes"]),
    ([entry("X1")], ["X1", "M001"]),
])
def test_catalogue_errors_name_the_entry(tree, bad, words):
    with pytest.raises(rm.CatalogueError) as e:
        load(tree, bad)
    for w in words:
        assert w in str(e.value)


def test_a_bad_catalogue_exits_2_naming_the_entry(tmp_path, capsys):
    path = tmp_path / "m.toml"
    path.write_text(toml_of([entry("M042", spec="NOPE-9", file="ref/src/limit.c",
                                   find="void sc_limits_default(sc_limits *l)")]))
    assert rm.main(["--catalogue", str(path), "--list"]) == 2
    err = capsys.readouterr().err
    assert "M042" in err and "NOPE-9" in err


def test_applying_a_mutant_writes_a_mutated_copy(tree, tmp_path):
    dest = rm.apply_mutant(entry(), str(tree), str(tmp_path / "mut"))
    with open(dest, encoding="utf-8") as fh:
        assert fh.read() == SOURCE.replace("n > 4", "n >= 4")
    assert (tree / "ref" / "src" / "x.c").read_text() == SOURCE


def report(*cases):
    return {"cases": [{"id": i, "verdict": v, "spec_ids": ids} for i, v, ids in cases]}


def test_a_fail_kills_a_must_mutant():
    r = report(("a/one", "PASS", ["LIM-2"]), ("a/two", "FAIL", ["HS-1"]))
    assert rm.judge(1, r, "LIM-2", "MUST") == ("kill", ["a/two"], "")


def test_non_strict_kills_a_should_mutant_of_that_id_only():
    r = report(("a/one", "NON-STRICT", ["OVR-7", "OVR-8"]))
    assert rm.judge(0, r, "OVR-7", "SHOULD")[:2] == ("kill", ["a/one"])
    assert rm.judge(0, r, "LIM-12", "SHOULD")[0] == "survive"
    assert rm.judge(0, report(("a/one", "NON-STRICT", ["LIM-2"])), "LIM-2", "MUST")[0] == \
        "survive"


def test_a_fail_kills_a_should_mutant_too():
    assert rm.judge(1, report(("a/x", "FAIL", ["HS-1"])), "OVR-7", "SHOULD")[0] == "kill"


def test_exit_2_is_inconclusive_not_a_kill():
    r = dict(report(("a/x", "FAIL", ["HS-1"])), inconclusive="the probe failed: no uid")
    assert rm.judge(2, r, "LIM-2", "MUST") == ("inconclusive", [], "the probe failed: no uid")
    assert rm.judge(2, None, "LIM-2", "MUST")[0] == "inconclusive"


def test_suite_errors_and_timeouts_are_no_kills():
    assert rm.judge(3, None, "LIM-2", "MUST")[0] == "error"
    assert rm.judge(1, report(("a/x", "PASS", [])), "LIM-2", "MUST")[0] == "error"
    assert rm.judge(-9, None, "LIM-2", "MUST", cut="timed out")[0] == "inconclusive"


def test_cases_failing_on_the_base_kill_nothing():
    r = report(("a/old", "FAIL", ["HS-1"]), ("a/new", "PASS", ["HS-1"]))
    assert rm.judge(1, r, "LIM-2", "MUST", frozenset({"a/old"}))[0] == "error"
    r = report(("a/old", "NON-STRICT", ["OVR-7"]))
    assert rm.judge(0, r, "OVR-7", "SHOULD", frozenset({"a/old"}))[0] == "survive"


def verdicts(*vs):
    return [{"id": f"M{i:03}", "spec": "LIM-2", "verdict": v} for i, v in enumerate(vs, 1)]


def test_the_score_leaves_equivalents_out():
    rs = verdicts("KILLED", "KILLED", "SURVIVED", "EQUIVALENT", "EQUIVALENT", "INCONCLUSIVE")
    assert rm.score(rs) == (2, 4, 50.0)
    assert rm.score(verdicts("EQUIVALENT")) == (0, 0, None)


def test_exit_status_follows_score_and_errors():
    rs = verdicts("KILLED", "SURVIVED")
    assert rm.exit_status(rs, 50) == 0 and rm.exit_status(rs, 60) == 1
    assert rm.exit_status(verdicts("KILLED", "ERROR"), 0) == 3
    assert rm.exit_status(verdicts("KILLED", "BUILD-ERROR"), 0) == 3


def shipped():
    return rm.load_catalogue(rm.DEFAULT_CATALOGUE, rm.load_levels(os.path.join(rm.REPO, "spec")),
                             rm.REPO)


def test_the_rotating_sample_is_deterministic_for_a_seed():
    ms = shipped()
    first = [m["id"] for m in rm.pick_sample(ms, 8, "2024-05-01")]
    assert first == [m["id"] for m in rm.pick_sample(ms, 8, "2024-05-01")]
    assert first != [m["id"] for m in rm.pick_sample(ms, 8, "2024-05-02")]
    assert len(set(first)) == 8
    assert not any("equivalent" in m for m in rm.pick_sample(ms, len(ms), "x"))


def test_the_shipped_catalogue_validates_and_covers_the_spec():
    ms = shipped()
    assert len(ms) >= 110
    assert PREFIXES <= {rm.section_of(m["spec"]) for m in ms}
    assert {"msgpack", "lenprefix"} <= {m.get("codec") for m in ms}
    files = {m["file"] for m in ms}
    # Registry role and client, supervision as parent and as child.
    assert {"ref/src/registry.c", "ref/src/selfns.c", "ref/src/nursery.c",
            "ref/src/child.c"} <= files
    assert {"REG-11", "REG-12"} <= {m["spec"] for m in ms}
    assert sum("equivalent" in m for m in ms) < len(ms) // 10


def test_a_k_expression_selects_by_the_case_name():
    assert rm.k_expr("rpc/test_x[whole-os.system]") == "test_x[whole-os.system]"
    assert rm.k_expr("sec/test_y[_cancel_task ]") == "test_y[_cancel_task and ]"
    assert rm.k_expr("sec/test_z[x or y]") == "test_z[x and y]"


def test_the_markdown_summary_counts_per_section():
    rs = [dict(r, what="w", reason="", seconds=1.0) for r in
          verdicts("KILLED", "SURVIVED", "EQUIVALENT")]
    rs[1]["open"] = "(1) boundaries | never at the limit"
    md = rm.markdown(rs, 60.0, datetime.datetime(2024, 5, 1))
    assert "50.0 %" in md and "| LIM | 3 | 1 | 1 | 1 |" in md
    assert "(1) boundaries \\| never at the limit" in md


def test_each_class_of_blind_spot_has_one_representative_that_is_not_equivalent():
    reps = [m for m in shipped() if "blind_spot" in m]
    classes = sorted(int(m["blind_spot"].split()[0]) for m in reps)
    assert classes == list(range(1, 9))
    assert not any("equivalent" in m or "open" in m for m in reps)
