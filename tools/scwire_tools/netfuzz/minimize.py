# SPDX-License-Identifier: AGPL-3.0-or-later
"""Delta debugging of a finding: fewer actions, then fewer bytes.

`minimize(actions, reproduces, attempts)` first removes chunks of the action
list (ddmin over complements, halving the chunk size when no removal keeps
the finding), then, in each remaining raw action, chunks of its bytes.  Every
candidate is re-checked with `reproduces`, which plays it against a fresh
or surviving target; the number of checks is bounded by `attempts`, and the
smallest list that still reproduced is returned.
"""
from .case import raw


class Budget:
    def __init__(self, attempts):
        self.left = attempts
        self.used = 0

    def take(self):
        if self.left <= 0:
            return False
        self.left -= 1
        self.used += 1
        return True


def ddmin(items, test, budget):
    """A smallest-found sub-list of items for which test holds (test(items) is assumed)."""
    n = 2
    while len(items) >= 2:
        chunk = -(-len(items) // n)
        for start in range(0, len(items), chunk):
            candidate = items[:start] + items[start + chunk:]
            if not candidate:
                continue
            if not budget.take():
                return items
            if test(candidate):
                items = candidate
                n = max(n - 1, 2)
                break
        else:
            if n >= len(items):
                return items
            n = min(n * 2, len(items))
    return items


def minimize(actions, reproduces, attempts=40):
    """(smaller actions, checks used)."""
    budget = Budget(attempts)
    actions = ddmin(list(actions), reproduces, budget)
    for i, a in enumerate(actions):
        if a[0] != "raw" or len(a[2]) < 2:
            continue

        def with_bytes(data, i=i, conn=a[1]):
            return actions[:i] + [raw(conn, bytes(data))] + actions[i + 1:]
        data = ddmin(list(a[2]), lambda d: reproduces(with_bytes(d)), budget)
        actions = with_bytes(data)
    return actions, budget.used
