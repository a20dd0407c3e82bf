# SPDX-License-Identifier: AGPL-3.0-or-later
"""Where the tools' tests find the tools, the repository and the recorded traces.

Importing it also puts tools/ on sys.path, so that tests can import
scwire_tools as the tools themselves do.
"""
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(TESTS)
REPO = os.path.dirname(TOOLS)
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


def _vectors():
    """The recorded tractor traces: $SCWIRE_VECTORS, or shared/ next to the repository."""
    for d in (os.environ.get("SCWIRE_VECTORS"),
              os.path.join(os.path.dirname(REPO), "shared", "vectors", "tractor-0.1.0a4")):
        if d and os.path.isfile(os.path.join(d, "e_asyncgen.jsonl")):
            return d
    return None


VECTORS = _vectors()
needs_vectors = pytest.mark.skipif(
    VECTORS is None, reason="recorded tractor traces (vectors/tractor-0.1.0a4) not found; "
                            "set SCWIRE_VECTORS to their directory")
