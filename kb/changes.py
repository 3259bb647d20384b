"""What changed in a knowledge base recently (今日变更), from the loaded index.

Until the store of record keeps revisions, the only dates are a standard answer's
``updated`` and a policy's ``effective`` date and status. ``recent_changes`` is the
one function the page depends on, so it can later read the audit trail instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from kb.records import Chunk


@dataclass(frozen=True)
class Change:
    id: str
    library: str  # answer | policy
    title: str
    date: str
    change: str  # 更新 | 生效 | 即将生效 | 已废止 | 已修订
    status: str
    doc_no: str
    successor: str | None

    def to_json(self) -> dict:
        return asdict(self)


def recent_changes(chunks: list[Chunk], today: date, days: int) -> list[Change]:
    """Answers updated and policies taking effect within ``days`` before ``today`` (and policies
    taking effect within ``days`` after it, marked 即将生效), newest first, one row per document."""
    since, until = (today - timedelta(days=days)).isoformat(), (today + timedelta(days=days)).isoformat()
    now = today.isoformat()
    seen: set[str] = set()
    out: list[Change] = []
    for c in chunks:
        if c.doc_id in seen:
            continue
        if c.library == "answer":
            when = str(c.extra.get("updated") or "")
            if since <= when <= now:
                seen.add(c.doc_id)
                out.append(Change(c.doc_id, "answer", c.title, when, "更新", c.status, "", None))
        elif c.library == "policy" and c.effective and since <= c.effective <= until:
            seen.add(c.doc_id)
            if not c.in_force:
                kind = c.status
            elif c.effective > now:
                kind = "即将生效"
            else:
                kind = "生效"
            out.append(Change(c.doc_id, "policy", c.title, c.effective, kind, c.status, c.doc_no,
                              c.extra.get("successor") or None))
    return sorted(out, key=lambda x: (x.date, x.id), reverse=True)
