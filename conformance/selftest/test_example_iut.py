# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the example IUT (conformance/examples/pyactor): the suite, run
against it with its capabilities file, passes every section it declares, and the
capabilities it does not declare turn their cases into SKIPs that name them.

The 1-byte chopped variants are left out (--chop-variants off) to keep this file
within CI time on two cores; the example's README runs them.
"""
import os
import sys

from demorun import CONFORMANCE, run

EXAMPLE = os.path.join(CONFORMANCE, "examples", "pyactor")
IUT = (f"{sys.executable} {os.path.join(EXAMPLE, 'pyactor.py')} "
       "--listen {host}:{port} --codec {codec}")
# Measured with --chop-variants off and the msgpack codec: 367 PASS, 5 INFO,
# 131 SKIP.  The margin leaves room for cases that change or move.
MIN_PASS = 300


def declared_sections():
    with open(os.path.join(EXAMPLE, "sections"), encoding="utf-8") as fh:
        names = [line.split("#", 1)[0].strip() for line in fh]
    return [n for n in names if n]


def run_suite(tmp_path, *args):
    return run(tmp_path, "--iut-caps", os.path.join(EXAMPLE, "caps"), "--chop-variants", "off",
               *args, iut=IUT, cases=os.path.join(CONFORMANCE, "cases"))


def test_the_example_passes_the_sections_it_declares(tmp_path):
    sections = declared_sections()
    assert {"HS", "RPC", "CTX", "CID", "MSG", "ERR", "CAN", "OVR", "SELF"} <= set(sections)
    p, rep = run_suite(tmp_path, *(a for s in sections for a in ("--section", s)))
    assert rep and rep["cases"], p.stdout[-3000:] + p.stderr
    broken = [f"{c['id']}: {c['verdict']}: {c['observation'][:300]}"
              for c in rep["cases"] if c["verdict"] in ("FAIL", "ERROR")]
    assert not broken, "\n".join(broken)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    assert rep["declared_capabilities"] == []
    passed = sum(c["verdict"] == "PASS" for c in rep["cases"])
    assert passed >= MIN_PASS, f"only {passed} cases passed"


def test_supervision_cases_skip_naming_the_capability_it_lacks(tmp_path):
    p, rep = run_suite(tmp_path, "-k", "supervision")
    assert rep and rep["cases"], p.stdout[-3000:] + p.stderr
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    assert {c["verdict"] for c in rep["cases"]} == {"SKIP"}
    assert {c["missing_capability"] for c in rep["cases"]} <= {"supervision", "child"}
