"""A policy's lifecycle at a glance: what comes into force or expires in the next days, and who cites it.

A manager preparing for a new rule needs to know, before the day, which standard
answers quote the policy (they may need a revision timed with it). The dates are the
policies' own ``effective`` / ``expires`` (Beijing dates, as in ``kb/lifecycle.py``);
the citing answers are the active answers whose ``policy_refs`` name the policy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from kb.lifecycle import status_on
from kb.store import RecordStore


@dataclass(frozen=True)
class Citation:
    id: str
    title: str
    articles: list[str]


@dataclass(frozen=True)
class PolicyEvent:
    id: str
    title: str
    doc_no: str
    event: str  # 生效 | 失效
    date: str
    days_left: int
    status_today: str
    cited_by: list[Citation] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _citations(store: RecordStore, kb: str) -> dict[str, list[Citation]]:
    """policy id → the active answers citing it (with the articles they cite), in answer id order."""
    out: dict[str, list[Citation]] = {}
    for state in store.all_active(kb):
        if state.library != "answer":
            continue
        articles: dict[str, list[str]] = {}
        for ref in state.content.get("policy_refs") or []:
            if isinstance(ref, dict) and ref.get("doc"):
                articles.setdefault(str(ref["doc"]), []).append(str(ref.get("article") or ""))
        for doc, arts in articles.items():
            out.setdefault(doc, []).append(Citation(state.id, state.title, [a for a in arts if a]))
    return out


def upcoming(store: RecordStore, kb: str, today: dt.date, days: int) -> list[PolicyEvent]:
    """Policies whose effective or expiry date falls in [today, today + days], soonest first."""
    last = today + dt.timedelta(days=days)
    cited = _citations(store, kb)
    events: list[PolicyEvent] = []
    for state in store.all_active(kb):
        if state.library != "policy":
            continue
        meta = state.content
        effective, expires = str(meta.get("effective") or "")[:10], str(meta.get("expires") or "")[:10]
        now = status_on(str(meta.get("status") or "有效"), effective, expires, today)
        for event, day in (("生效", effective), ("失效", expires)):
            if day and today.isoformat() <= day <= last.isoformat():
                events.append(PolicyEvent(state.id, state.title, str(meta.get("doc_no") or ""), event, day,
                                          (dt.date.fromisoformat(day) - today).days, now, cited.get(state.id, [])))
    return sorted(events, key=lambda e: (e.date, e.id, e.event))
