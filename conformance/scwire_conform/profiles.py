# SPDX-License-Identifier: AGPL-3.0-or-later
"""Expectation profiles: judge by the spec (`strict`) or by tractor 0.1.0a4 (`tractor`).

Where the spec deliberately differs from what tractor 0.1.0a4 does (hostile
input that makes tractor exit, `stop` sent twice, `find_actor` matching a
uuid, handshake garbage accepted as a uid), a case can be judged either way.
`strict` (the default) judges by the spec.  `tractor` judges by the recorded
tractor behaviour, so that running the suite against tractor itself checks
that the suite's picture of tractor is right.  Either way the observation
names both outcomes.
"""
from .verdict import info, must

STRICT, TRACTOR = "strict", "tractor"
PROFILES = (STRICT, TRACTOR)


def outcome(profile, observed, *, spec, tractor, spec_ok, tractor_ok, what=""):
    """Judge one outcome: `spec_ok`/`tractor_ok` say whether the observed
    outcome is what the spec / tractor 0.1.0a4 gives; `spec` and `tractor`
    describe those outcomes for the observation."""
    lead = f"{what}: " if what else ""
    text = (f"{lead}observed {observed}; the spec expects {spec}; "
            f"tractor 0.1.0a4 {tractor}")
    if profile == TRACTOR:
        must(tractor_ok, f"judged by tractor 0.1.0a4 (--expect-profile tractor): {text}")
    else:
        must(spec_ok, text)
    info(text)
    return text
