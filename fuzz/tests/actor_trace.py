# SPDX-License-Identifier: AGPL-3.0-or-later
"""Running the built fuzz_actor on one input with its trace on, for the tests of
its op groups; and gen-corpus.py loaded as a module, to build those inputs.

The target is $FUZZ_ACTOR, default build/fuzz/fuzz_actor (fuzz/build.sh or
make fuzz-smoke builds it); `needs_fuzz_actor` skips a module, with the
reason, when it is not built."""
import importlib.util
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("FUZZ_ACTOR", os.path.join(ROOT, "build", "fuzz", "fuzz_actor"))

_spec = importlib.util.spec_from_file_location("gen_corpus",
                                               os.path.join(ROOT, "fuzz", "gen-corpus.py"))
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

needs_fuzz_actor = pytest.mark.skipif(
    not os.access(BIN, os.X_OK), reason=f"{BIN} is not built (fuzz/build.sh, or make fuzz-smoke)")


def trace(tmp_path, data):
    """fuzz_actor's trace (stderr) of one input; the input must not fail."""
    path = tmp_path / "input"
    path.write_bytes(data)
    run = subprocess.run([BIN, str(path)], env=dict(os.environ, FUZZ_ACTOR_TRACE="1"),
                         capture_output=True, timeout=60)
    text = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 0, text[-3000:]
    return text
