# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of fuzz/engine-build-check's checks of $OUT, on a made-up fuzz/ and
$OUT: each thing an engine would miss or misread is reported, naming the
target, and a complete $OUT passes.  The real build is `make fuzz-engine-check`."""
import importlib.machinery
import importlib.util
import os
import shutil
import stat
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.dirname(HERE)
REPO = os.path.dirname(FUZZ)
REF = os.path.join(REPO, "build", "scwire-ref")

loader = importlib.machinery.SourceFileLoader("engine_build_check",
                                              os.path.join(FUZZ, "engine-build-check"))
spec = importlib.util.spec_from_loader("engine_build_check", loader)
ebc = importlib.util.module_from_spec(spec)
loader.exec_module(ebc)

TARGETS = ("fuzz_a", "fuzz_b")
FAKE_TARGET = "#!/bin/sh\n# a stand-in fuzz target\necho 'Done 7 runs in 0 second(s)' >&2\n"


def executable(path, text=FAKE_TARGET):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


@pytest.fixture
def tree(tmp_path):
    """A fuzz/ with two targets, a dict each, a regression input for fuzz_a, and an
    $OUT as the engine wants it."""
    fuzz, out = tmp_path / "fuzz", tmp_path / "out"
    (fuzz / "regressions" / "fuzz_a").mkdir(parents=True)
    out.mkdir()
    (fuzz / "helper.c").write_text("int helper(void) { return 0; }\n")
    for t in TARGETS:
        (fuzz / f"{t}.c").write_text("int LLVMFuzzerTestOneInput(const char *d, long n);\n")
        (fuzz / f"{t}.dict").write_text(f'"{t}"\n')
        shutil.copy(fuzz / f"{t}.dict", out / f"{t}.dict")
        executable(str(out / t))
        with zipfile.ZipFile(out / f"{t}_seed_corpus.zip", "w") as z:
            z.writestr("seed1", b"\x90")
    (fuzz / "regressions" / "fuzz_a" / "README.md").write_text("about the inputs\n")
    (fuzz / "regressions" / "fuzz_a" / "crash-1").write_bytes(b"\xc1\xc1")
    with zipfile.ZipFile(out / "fuzz_a_seed_corpus.zip", "a") as z:
        z.writestr("regression-crash-1", b"\xc1\xc1")
    return str(fuzz), str(out)


def test_targets_are_the_sources_with_an_entry_point(tree):
    fuzz, _ = tree
    assert ebc.targets(fuzz) == list(TARGETS)


def test_a_complete_out_passes(tree):
    fuzz, out = tree
    assert ebc.check_out(out, fuzz) == []


@pytest.mark.parametrize("breakage, words", [
    (lambda f, o: os.remove(os.path.join(o, "fuzz_b")), "fuzz_b: no executable $OUT/fuzz_b"),
    (lambda f, o: os.remove(os.path.join(o, "fuzz_a.dict")), "fuzz_a: no $OUT/fuzz_a.dict"),
    (lambda f, o: open(os.path.join(o, "fuzz_a.dict"), "a").write("x\n"),
     "$OUT/fuzz_a.dict differs from fuzz/fuzz_a.dict"),
    (lambda f, o: os.remove(os.path.join(o, "fuzz_b_seed_corpus.zip")),
     "fuzz_b: no $OUT/fuzz_b_seed_corpus.zip"),
    (lambda f, o: open(os.path.join(o, "fuzz_b_seed_corpus.zip"), "wb").write(b"not a zip"),
     "is not a zip file"),
    (lambda f, o: zipfile.ZipFile(os.path.join(o, "fuzz_a_seed_corpus.zip"), "w").writestr(
        "dir/seed", b"x"), "has directories (dir/seed"),
    (lambda f, o: open(os.path.join(f, "regressions", "fuzz_a", "crash-2"), "wb").write(b"new"),
     "regression input regressions/fuzz_a/crash-2 is not in $OUT/fuzz_a_seed_corpus.zip"),
    (lambda f, o: executable(os.path.join(o, "fuzz_c")),
     "$OUT/fuzz_c is an executable the engine would take for a target"),
    (lambda f, o: open(os.path.join(f, "fuzz_a.options"), "w").write("[libfuzzer]\n"),
     "no $OUT/fuzz_a.options though fuzz/fuzz_a.options exists"),
    (lambda f, o: [open(os.path.join(d, "fuzz_b.options"), "w").write("max_len = 1\n")
                   for d in (f, o)], "does not parse"),
    (lambda f, o: [open(os.path.join(d, "fuzz_b.options"), "w").write("[afl]\nx = 1\n")
                   for d in (f, o)], "has no [libfuzzer] section"),
    (lambda f, o: open(os.path.join(o, "fuzz_b.options"), "w").write("[libfuzzer]\n"),
     "$OUT/fuzz_b.options without fuzz/fuzz_b.options"),
])
def test_each_flaw_is_named(tree, breakage, words):
    fuzz, out = tree
    breakage(fuzz, out)
    bad = ebc.check_out(out, fuzz)
    assert any(words in line for line in bad), bad


def test_a_shared_msgpack_c_is_a_flaw(tree):
    if not os.access(REF, os.X_OK) or ebc.needed_libs(REF) is None:
        pytest.skip("needs build/scwire-ref and readelf (binutils)")
    if not any("msgpack" in lib for lib in ebc.needed_libs(REF)):
        pytest.skip("build/scwire-ref links msgpack-c statically here")
    fuzz, out = tree
    shutil.copy(REF, os.path.join(out, "fuzz_a"))
    assert any("fuzz_a: needs libmsgpackc" in line for line in ebc.check_out(out, fuzz))


def test_options_become_flags(tree):
    _, out = tree
    with open(os.path.join(out, "fuzz_a.options"), "w") as fh:
        fh.write("[libfuzzer]\nmax_len = 4096\n")
    assert ebc.options_flags(out, "fuzz_a") == ["-max_len=4096"]
    assert ebc.options_flags(out, "fuzz_b") == []


def test_runs_pass_and_fail_on_the_targets_exit(tree, tmp_path):
    fuzz, out = tree
    work = str(tmp_path / "work")
    assert ebc.run_targets(out, work, 5, fuzz) == []
    executable(os.path.join(out, "fuzz_b"), "#!/bin/sh\necho 'ERROR: boom' >&2\nexit 1\n")
    bad = ebc.run_targets(out, work, 5, fuzz)
    assert len(bad) == 1 and bad[0].startswith("fuzz_b: exit status 1") and "boom" in bad[0]
