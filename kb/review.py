"""The reviewer's queue and verdicts.

Two sources: what agents marked 没用 / 有误 (``feedback``), and a random sample of recent
replies and classifications (``sample``, each answer drawn once at KB_REVIEW_SAMPLE_RATE).
Item ids name their row: ``f12`` is feedback row 12, ``e34`` stored answer 34. A verdict
is final (one per item) and may carry a correction, which becomes a draft for a manager
(kb/drafts.py): nothing a reviewer writes reaches agents before approval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kb.drafts import DraftDesk
from kb.errors import Conflict, InvalidQuery, NotFound
from kb.interactions import VERDICTS, Event, FeedbackRow, InteractionStore

SOURCES = ("feedback", "sample")
VERDICT_NAMES = {"correct": "正确", "needs_fix": "需修改", "wrong": "错误"}
_ITEM = re.compile(r"^([fe])(\d{1,12})$")


@dataclass(frozen=True)
class Correction:
    library: str
    record: dict[str, Any]
    record_id: str | None = None


def _feedback_item(store: InteractionStore, row: FeedbackRow) -> dict[str, Any]:
    shown: dict[str, Any] = {"ids": row.ids}
    if row.target == "reply":
        answer = store.answer_to(row.kb, "reply", row.question, row.created)
        if answer is not None:
            shown = {**answer.shown, "ids": row.ids or answer.shown.get("ids", [])}
    return {"id": f"f{row.id}", "kb": row.kb, "kind": row.target, "question": row.question, "shown": shown,
            "kb_version": row.kb_version, "rating": row.rating, "note": row.note or None,
            "created": row.created.isoformat()}


def _event_item(event: Event) -> dict[str, Any]:
    return {"id": f"e{event.id}", "kb": event.kb, "kind": event.kind, "question": event.question,
            "shown": event.shown, "kb_version": event.kb_version, "rating": None, "note": None,
            "created": event.created.isoformat()}


def review_queue(store: InteractionStore, kb: str | None, source: str, sample_rate: float, size: int) -> list[dict]:
    """Unreviewed items, newest first, at most ``size``."""
    if source not in SOURCES:
        raise InvalidQuery(f"来源“{source[:20]}”无效，可选：feedback（坐席标记）、sample（随机抽检）")
    if source == "feedback":
        rows = store.feedback(kb, limit=size, ratings=("useless", "wrong"), unreviewed=True)
        return [_feedback_item(store, r) for r in rows]
    events = store.events(kb, kinds=("reply", "classification"), sample_below=sample_rate, limit=size, unreviewed=True)
    return [_event_item(e) for e in events]


def find_item(store: InteractionStore, item_id: str) -> dict[str, Any]:
    m = _ITEM.match(item_id)
    if m is None:
        raise NotFound(f"评审条目编号“{item_id[:40]}”无效：应为 f<数字>（坐席标记）或 e<数字>（抽检）")
    if m.group(1) == "f":
        row = store.feedback_row(int(m.group(2)))
        if row is not None:
            return _feedback_item(store, row)
    else:
        event = store.event(int(m.group(2)))
        if event is not None:
            return _event_item(event)
    raise NotFound(f"没有编号为“{item_id}”的评审条目（可能已超过保留期被清除）")


def decide(store: InteractionStore, desk: DraftDesk, item_id: str, reviewer: str, verdict: str, note: str = "",
           correction: Correction | None = None) -> dict[str, Any]:
    """Record a verdict; a correction becomes a draft first, so an invalid one stores nothing."""
    if verdict not in VERDICTS:
        raise InvalidQuery(f"评审结论“{verdict[:20]}”无效，可选：correct（正确）、needs_fix（需修改）、wrong（错误）")
    item = find_item(store, item_id)
    if store.reviewed([item_id]):
        raise Conflict(f"条目“{item_id}”已评审过，不能重复评审")
    if correction is not None and verdict == "correct":
        raise InvalidQuery("评审结论为“正确”时不应附带更正；请改选“需修改”或“错误”")
    draft_id = None
    if correction is not None:
        draft = desk.propose(item["kb"], correction.library, correction.record, reviewer, correction.record_id,
                             item_id=item_id, note=note)
        draft_id = draft.id
    review_id = store.add_review(item_id, item["kb"], reviewer, verdict, note, draft_id)
    return {"id": review_id, "item_id": item_id, "verdict": verdict, "draft_id": draft_id}
