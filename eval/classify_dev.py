"""Dev-only diagnostics for the ticket filter: in-scope recall, routing and the confusion by department.

``kb eval classify`` always prints test beside dev; tuning must not look at test, so this module reads only
the dev split (``eval/data/tickets_dev*.csv``) and is what thresholds and training data are judged by.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from eval.classify import _batched, load_classifier
from kb.classify.training import load_split
from kb.settings import Settings


def _kind(ticket_id: str) -> str:
    """Short tickets, the letters written with the training letters, and a second author's message-board
    letters (tickets_dev_letters2.csv, written without seeing any training data)."""
    if ticket_id.startswith("lt-d2-"):
        return "letters_second_author"
    return "letters" if ticket_id.startswith("lt-") else "tickets"


def run_dev_diagnostics(settings: Settings, kb: str = "minzheng") -> dict[str, Any]:
    """Dev figures per source file kind (short tickets vs letters) and the department confusion."""
    clf = load_classifier(settings)
    tickets = load_split(settings, "dev")
    decisions = _batched(clf, [t.text for t in tickets], kb)
    rows: dict[str, Counter] = {}
    confusion: Counter = Counter()
    for t, d in zip(tickets, decisions):
        kind = _kind(t.id)
        c = rows.setdefault(kind, Counter())
        if t.industry == kb:
            c["in"] += 1
            c["in_kept"] += int(d.in_scope)
            c["in_review"] += int(d.needs_review)
        else:
            c["out"] += 1
            c["out_filtered"] += int(not d.in_scope)
        if t.industry == "none":
            c["routed"] += 1
            c["routed_ok"] += int(d.department == t.department)
            if d.department != t.department:
                confusion[(t.department, d.department or d.industry)] += 1
    return {
        "model": clf.model.version,
        "kinds": {k: {"in_scope_recall": round(c["in_kept"] / max(1, c["in"]), 4), "in": c["in"],
                      "out_filtered": round(c["out_filtered"] / max(1, c["out"]), 4), "out": c["out"],
                      "routing": round(c["routed_ok"] / max(1, c["routed"]), 4), "routed": c["routed"]}
                  for k, c in sorted(rows.items())},
        "confusion": [{"gold": g, "pred": p, "n": n} for (g, p), n in confusion.most_common()],
        "lost": [{"id": t.id, "gold": t.label, "pred": f"{d.industry}:{d.subtopic or d.department}",
                  "text": t.text[:50]} for t, d in zip(tickets, decisions) if t.industry == kb and not d.in_scope],
        "kept_wrongly": [{"id": t.id, "gold": t.label, "pred": f"{d.industry}:{d.subtopic or d.department}",
                          "text": t.text[:50]} for t, d in zip(tickets, decisions) if t.industry != kb and d.in_scope],
    }


def main() -> None:
    """``python -m eval.classify_dev``: the dev diagnostics as JSON on stdout (test is never read)."""
    import json
    import sys

    sys.stdout.write(json.dumps(run_dev_diagnostics(Settings()), ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
