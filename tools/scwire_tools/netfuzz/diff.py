# SPDX-License-Identifier: AGPL-3.0-or-later
"""The differential mode: the same case against two targets, outcomes compared.

Both targets get the same actions, hence the same bytes (uids and cids are
fixed by the seed).  A case whose outcome classes differ is a divergence; its
two recordings are saved side by side, each file named after both outcomes,
so that replaying one target's recording against the other shows the
difference (`tools/scwire-send --trace`).
"""
from .findings import replay_conn, save_trace


class Divergence:
    def __init__(self, case, results):
        self.case = case
        self.results = results        # [(label, outcome, Play)] for both targets
        self.files = {}
        self.conn = None

    @property
    def key(self):
        return "-vs-".join(f"{label}_{outcome}" for label, outcome, _ in self.results)

    def save(self, out_dir):
        for label, _, play in self.results:
            if play.entries:
                self.conn = self.conn or replay_conn(play.entries)
                self.files[label] = save_trace(out_dir, f"div-{self.case.name}-{self.key}.{label}",
                                               play.entries)

    def line(self):
        sides = "  ".join(f"{label}: {outcome} {_kinds(play)}" for label, outcome, play
                          in self.results)
        return f"case {self.case.name} \"{self.case.label}\": {sides}"

    def to_json(self):
        return {"case": self.case.name, "family": self.case.family, "label": self.case.label,
                "outcomes": {label: outcome for label, outcome, _ in self.results},
                "replies": {label: play.reply_kinds()[:20] for label, _, play in self.results},
                "files": self.files, "replay_conn": self.conn}


def _kinds(play):
    kinds = play.reply_kinds()
    if not kinds:
        return "[]"
    shown = ",".join(kinds[:6]) + (",…" if len(kinds) > 6 else "")
    return f"[{shown}]"


def compare(case, results):
    """A Divergence when the outcomes differ, else None."""
    outcomes = {outcome for _, outcome, _ in results}
    return Divergence(case, results) if len(outcomes) > 1 else None
