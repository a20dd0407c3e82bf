# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of tools/spec-trace: it must fail when a MUST loses its only case."""
import importlib.machinery
import importlib.util
import os
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(os.path.dirname(HERE), "spec-trace")


def load_tool():
    loader = importlib.machinery.SourceFileLoader("spec_trace", TOOL)
    spec = importlib.util.spec_from_loader("spec_trace", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


spec_trace = load_tool()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(textwrap.dedent(text))


@pytest.fixture
def tree(tmp_path):
    write(tmp_path / "spec" / "protocol.md", """\
        # Test spec
        - **HS-1** MUST: send the uid first.
        - **HS-2** SHOULD: use a uuid4.
        - **HS-3** MAY: log.
        - **FRAME-1** MUST: decode any split.
        """)
    write(tmp_path / "spec" / "pending.txt", "# pending\n")
    write(tmp_path / "cases" / "test_handshake.py", """\
        import pytest
        @pytest.mark.spec("HS-1", "HS-2")
        def test_hs_1_uid_first():
            pass
        """)
    write(tmp_path / "cases" / "test_framing.py", """\
        import pytest
        @pytest.mark.spec("FRAME-1")
        def test_frame_1_split():
            pass
        """)
    return tmp_path


def run(tree, *extra):
    return spec_trace.main(["--spec", str(tree / "spec"), "--cases", str(tree / "cases"), *extra])


def test_fully_traced_tree_passes(tree, capsys):
    assert run(tree) == 0
    assert "MUST 2/2 claimed" in capsys.readouterr().out


def test_deleting_the_only_case_of_a_must_fails(tree, capsys):
    os.remove(tree / "cases" / "test_framing.py")
    assert run(tree) == 1
    out = capsys.readouterr().out
    assert "MUST FRAME-1 has no conformance case" in out


def test_pending_entry_keeps_an_uncovered_must_green(tree):
    os.remove(tree / "cases" / "test_framing.py")
    write(tree / "spec" / "pending.txt", "FRAME-1\tframing\n")
    assert run(tree) == 0


def test_uncovered_should_is_only_a_warning(tree, capsys):
    write(tree / "cases" / "test_handshake.py", """\
        import pytest
        @pytest.mark.spec("HS-1")
        def test_hs_1_uid_first():
            pass
        """)
    assert run(tree) == 0
    assert "warning: SHOULD HS-2 has no conformance case" in capsys.readouterr().out


def test_case_claiming_an_unknown_id_fails(tree, capsys):
    write(tree / "cases" / "test_extra.py", """\
        import pytest
        @pytest.mark.spec("HS-99")
        def test_hs_99():
            pass
        """)
    assert run(tree) == 1
    assert "HS-99 is claimed by" in capsys.readouterr().out


def test_duplicate_id_is_bad_input(tree, capsys):
    write(tree / "spec" / "limits.md", "- **HS-1** MUST: again.\n")
    assert run(tree) == 2
    assert "duplicate id HS-1" in capsys.readouterr().err


def test_requirement_without_level_is_bad_input(tree, capsys):
    write(tree / "spec" / "limits.md", "- **LIM-1** must: lower case level.\n")
    assert run(tree) == 2
    assert "requirement line without a level" in capsys.readouterr().err


def test_malformed_pending_line_is_bad_input(tree, capsys):
    write(tree / "spec" / "pending.txt", "FRAME-1 framing\n")
    assert run(tree) == 2
    assert "expected 'ID<TAB>area'" in capsys.readouterr().err


def test_pending_id_missing_from_spec_fails(tree, capsys):
    write(tree / "spec" / "pending.txt", "CTX-9\tcontext\n")
    assert run(tree) == 1
    assert "CTX-9 is listed in" in capsys.readouterr().out


def test_the_repository_itself_is_traced():
    assert spec_trace.main(["-q"]) == 0
