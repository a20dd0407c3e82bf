# SPDX-License-Identifier: AGPL-3.0-or-later
"""IUT capabilities: what an implementation declares it can do beyond the core.

The core of test-service.md (the `scwire_service` functions of section 3,
started from a command template) is what every IUT offers.  Everything else
is optional, and the suite must not guess it: a case that needs an optional
feature the IUT did not declare is SKIP, naming the capability, so that the
summary can say how much of the suite a run did not reach and why.  A
declared capability is a promise: a case that finds it missing fails.

Capabilities are declared with `--iut-cap NAME` (repeatable) or in a file
given to `--iut-caps` (one name a line, `#` comments); `--iut-ref-flags`
declares every one of them, as the reference runtime has them all.
"""
import re

import pytest

CAPS = {
    "limits": "takes the flags of the bounds in limits.md's table (--max-frame, "
              "--handshake-timeout, --max-contexts, ...) and of test-service.md section 5 "
              "(--max-children, --cancel-timeout, --kill-grace)",
    "registry-role": "started with --registry-role, is a registry (protocol.md section 10)",
    "registry-client": "started with --registry HOST:PORT, registers there (REG-11, REG-12); "
                       "a {registry} placeholder in --iut-cmd declares it too",
    "supervision": "offers the supervision functions of test-service.md section 5 "
                   "(run_in_child, spawn_start, spawn_info, ...)",
    "child": "runs as a child actor from the --iut-child-cmd template (test-service.md "
             "section 5.1)",
    "ctx-call": "offers scwire_service.ctx_call (test-service.md section 6)",
    "hardening": "takes the flags of limits.md's hardening bounds (--max-conn-bytes, "
                 "--max-total-bytes, --max-conns-per-addr, --idle-timeout, --message-timeout) "
                 "and --child-budget (test-service.md section 5)",
}
ALL = frozenset(CAPS)
# The flags of a private IUT and the capability that promises the IUT takes them;
# any other flag is a bound's.
_FLAG_CAPS = {"--registry-role": "registry-role", "--registry": "registry-client",
              **{f: "hardening" for f in ("--max-conn-bytes", "--max-total-bytes",
                                          "--max-conns-per-addr", "--idle-timeout",
                                          "--message-timeout", "--child-budget")}}
_SKIP_TEXT = "needs the capability '{cap}', which the IUT did not declare (--iut-cap {cap})"
_SKIP_RE = re.compile(r"needs the capability '([a-z-]+)', which the IUT did not declare")


class CapsError(ValueError):
    """A capability name or file the suite cannot take."""


def parse_names(names, where="--iut-cap"):
    """The set of capability names, or CapsError naming the unknown ones."""
    caps = set()
    for n in names:
        n = n.strip()
        if n not in CAPS:
            raise CapsError(f"{where}: unknown capability {n!r}; known: {', '.join(sorted(CAPS))}")
        caps.add(n)
    return caps


def load_file(path):
    """The names of a capabilities file: one a line, `#` starts a comment."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as e:
        raise CapsError(f"--iut-caps: cannot read {path}: {e.strerror}") from None
    caps = set()
    for i, line in enumerate(lines, 1):
        name = line.split("#", 1)[0].strip()
        if name:
            caps |= parse_names([name], f"{path}:{i}")
    return caps


def needed_for_flags(flags):
    """The capabilities that promise the IUT takes these command-line flags."""
    return {_FLAG_CAPS.get(f, "limits") for f in flags if f.startswith("--")}


def skip_text(cap, what=""):
    """The reason of a SKIP for want of cap; `what` says what the case needed it
    for, else the capability's own description is given."""
    return f"{_SKIP_TEXT.format(cap=cap)}: {what or 'the IUT ' + CAPS[cap]}"


def require(declared, *caps, what=""):
    """Skip the running case, naming the first capability it needs that is not
    declared."""
    for cap in caps:
        if cap not in declared:
            pytest.skip(skip_text(cap, what))


def missing_of(skip_reason):
    """The capability a SKIP was for, or None."""
    m = _SKIP_RE.search(skip_reason or "")
    return m.group(1) if m else None
