"""Drafts: reviewers' corrections waiting for a knowledge manager.

A draft is validated when it is proposed (the records' own validator, so a bad one is
refused with field errors at once) and published only when a manager approves it,
through :class:`kb.editing.RecordEditor` as an ordinary revision or new record whose
audit entry names the manager as ``actor`` and the reviewer as ``proposed_by``. Until
then nothing an agent sees changes. A draft remembers the revision it was written
against: if the record changed meanwhile, approval refuses (409) instead of silently
overwriting someone else's edit.

Before deciding, a manager (or the reviewer who proposed it) may revise a pending
draft. The revision passes the same validator; each one is an audit entry
(``draft_edit``: who, when, which fields) written in the same transaction as the new
content. So the audit trail is the draft's own history, and the published revision's
reason names everyone who shaped it. The count of edits is the draft's version:
saving over an edit made since the form was opened is refused (409).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from kb.editing import RecordEditor, WriteResult
from kb.errors import Conflict, Forbidden, InvalidQuery, NotFound, RecordInvalid, StaleRevision
from kb.interactions import drafts, metadata
from kb.store import RETIRED, RecordStore, append_audit, audit, field_diff

STATUSES = ("pending", "approved", "rejected")
STATUS_NAMES = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}



@dataclass(frozen=True)
class Draft:
    id: int
    created: datetime
    kb: str
    library: str
    record_id: str
    base_revision: int | None
    record: dict[str, Any]
    proposed_by: str
    item_id: str
    note: str
    status: str
    decided_by: str | None
    reason: str
    published_revision: int | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created.isoformat(), "kb": self.kb, "library": self.library,
                "record_id": self.record_id, "base_revision": self.base_revision, "record": self.record,
                "proposed_by": self.proposed_by, "item_id": self.item_id, "note": self.note, "status": self.status,
                "decided_by": self.decided_by, "reason": self.reason, "published_revision": self.published_revision}


def _draft(r: Any) -> Draft:
    created = r["created"] if r["created"].tzinfo else r["created"].replace(tzinfo=UTC)
    return Draft(r["id"], created, r["kb"], r["library"], r["record_id"], r["base_revision"], json.loads(r["record"]),
                 r["proposed_by"], r["item_id"], r["note"], r["status"], r["decided_by"], r["reason"],
                 r["published_revision"])


class DraftDesk:
    """Propose, list, approve and reject drafts; publishing goes through the editor."""

    def __init__(self, store: RecordStore, editor: RecordEditor) -> None:
        self.store = store
        self.editor = editor
        self.engine = store.engine
        metadata.create_all(self.engine)

    def propose(self, kb: str, library: str, record: dict[str, Any], proposed_by: str, record_id: str | None = None,
                item_id: str = "", note: str = "") -> Draft:
        """Validate and keep a correction; RecordInvalid (422, field errors) if it would not pass as a record."""
        base: int | None = None
        if record_id:
            current = self.store.get(kb, record_id)
            if current.library != library:
                raise RecordInvalid(f"记录“{record_id[:40]}”属于{current.library}库，更正中写的是{str(library)[:20]}库",
                                    [{"field": "library", "reason": f"应为 {current.library}"}])
            if current.status == RETIRED:
                raise Conflict(f"记录“{record_id[:40]}”已停用，不能起草修改；如需恢复请由知识管理员先恢复")
            rid, content = self.editor.validate(kb, library, record, record_id)
            base = current.revision
        else:
            rid, content = self.editor.validate(kb, library, record, None)
            if self.store.find(kb, rid) is not None:
                raise Conflict(f"知识库“{kb}”中已有编号为“{rid[:40]}”的记录：修改已有记录请在更正中给出 record_id")
        row = {"created": datetime.now(UTC), "kb": kb, "library": library, "record_id": rid, "base_revision": base,
               "record": json.dumps(content, ensure_ascii=False, default=str), "proposed_by": proposed_by,
               "item_id": item_id, "note": note or "", "status": "pending", "reason": ""}
        with self.engine.begin() as c:
            draft_id = int(c.execute(insert(drafts).values(**row)).inserted_primary_key[0])
        return self.get(kb, draft_id)

    def get(self, kb: str, draft_id: int) -> Draft:
        with self.engine.connect() as c:
            r = c.execute(select(drafts).where(drafts.c.id == draft_id, drafts.c.kb == kb)).mappings().first()
        if r is None:
            raise NotFound(f"知识库“{kb[:40]}”中没有编号为 {draft_id} 的草稿")
        return _draft(r)

    def list(self, kb: str, status: str | None = None, limit: int = 200) -> list[Draft]:
        if status is not None and status not in STATUSES:
            raise InvalidQuery(f"草稿状态“{status[:20]}”无效，可选：{'、'.join(STATUSES)}")
        q = select(drafts).where(drafts.c.kb == kb).order_by(drafts.c.id.desc()).limit(limit)
        if status:
            q = q.where(drafts.c.status == status)
        with self.engine.connect() as c:
            return [_draft(r) for r in c.execute(q).mappings()]

    @staticmethod
    def _edit_entries(conn, draft: Draft, before_seq: int | None = None) -> list[Any]:
        """The draft's ``draft_edit`` audit rows in chain order (those before ``before_seq`` when given)."""
        q = select(audit).where(audit.c.kb == draft.kb, audit.c.record_id == draft.record_id,
                                audit.c.action == "draft_edit")
        if before_seq is not None:
            q = q.where(audit.c.seq < before_seq)
        return [r for r in conn.execute(q.order_by(audit.c.seq)).mappings()
                if (r["details"] or {}).get("draft_id") == draft.id]

    def edits(self, draft: Draft) -> list[dict[str, Any]]:
        """The draft's revisions before a decision, oldest first, from the audit trail."""
        with self.engine.connect() as c:
            rows = self._edit_entries(c, draft)
        out = []
        for r in rows:
            details = r["details"] or {}
            # an edit replayed by a handover import keeps the time it was made (kb/exporting.py)
            out.append({"by": r["actor"], "time": (details.get("imported") or {}).get("time") or r["time"],
                        "fields": details.get("fields", []), "note": r["reason"]})
        return out

    def revise(self, kb: str, draft_id: int, record: dict[str, Any], editor: str, note: str = "",
               seen_edits: int | None = None, own_only: bool = False) -> Draft:
        """Replace a pending draft's content with a validated revision.

        ``own_only``: the editor may revise only a draft they proposed (a reviewer). ``seen_edits``: the number of
        edits the editor's form was built on; another edit since then is a Conflict, not a silent overwrite.
        """
        draft = self._pending(kb, draft_id)
        if own_only and draft.proposed_by != editor:
            raise Forbidden(f"草稿 #{draft.id} 由 {draft.proposed_by} 提出：评审员只能修改自己提出的草稿，"
                            "其他修改请由知识管理员完成")
        _, content = self.editor.validate(kb, draft.library, record, draft.record_id)
        changed = [d["field"] for d in field_diff(draft.record, content)]
        if not changed:
            raise InvalidQuery(f"草稿 #{draft.id} 没有改动：提交的内容与草稿相同")
        with self.store.transaction() as c:  # the audit append takes the lock; the count after it is exact
            entry = append_audit(c, actor=editor, action="draft_edit", kb=kb, record_id=draft.record_id,
                                 reason=note.strip() or f"修改草稿 #{draft.id}",
                                 details={"draft_id": draft.id, "fields": changed, "proposed_by": draft.proposed_by})
            prior = len(self._edit_entries(c, draft, before_seq=entry.seq))
            if seen_edits is not None and seen_edits != prior:
                raise Conflict(f"草稿 #{draft.id} 在您打开后已被修改（现有 {prior} 次修改，您看到的是 {seen_edits} 次）："
                               "请刷新后在最新内容上修改")
            done = c.execute(update(drafts).where(drafts.c.id == draft.id, drafts.c.status == "pending").values(
                record=json.dumps(content, ensure_ascii=False, default=str))).rowcount
            if done != 1:
                raise Conflict(f"草稿 #{draft.id} 已被他人处理")
        return self.get(kb, draft_id)

    def compare(self, draft: Draft) -> dict[str, Any]:
        """The draft beside the record it changes now: current revision, field diff, and whether approving it
        would overwrite a change made since it was drafted (only a pending draft can be stale)."""
        current = self.store.find(draft.kb, draft.record_id)
        edits = self.edits(draft)
        if current is None:  # a new record, not yet created
            return {"current_revision": None, "stale": False, "diff": field_diff({}, draft.record),
                    "title": _title(draft.record), "edits": edits}
        stale = draft.status == "pending" and (draft.base_revision is None or current.revision != draft.base_revision)
        return {"current_revision": current.revision, "stale": stale, "diff": field_diff(current.content, draft.record),
                "title": _title(draft.record), "edits": edits}

    def approve(self, kb: str, draft_id: int, manager: str) -> tuple[Draft, WriteResult]:
        draft = self._pending(kb, draft_id)
        editors = list(dict.fromkeys(e["by"] for e in self.edits(draft)))
        revised = f"，{'、'.join(editors)} 修改" if editors else ""
        reason = (f"采纳评审更正（草稿 #{draft.id}，{draft.proposed_by} 提出{revised}）"
                  + (f"：{draft.note}" if draft.note else ""))
        if draft.base_revision is None:
            if self.store.find(kb, draft.record_id) is not None:
                raise StaleRevision(f"草稿 #{draft.id} 要新建的编号“{draft.record_id[:40]}”已被其他记录占用，"
                                    "请驳回后重新起草")
            result = self.editor.create(kb, draft.library, draft.record, manager, reason, proposed_by=draft.proposed_by)
        else:
            current = self.store.get(kb, draft.record_id)
            if current.revision != draft.base_revision:
                raise StaleRevision(f"草稿 #{draft.id} 基于记录“{draft.record_id[:40]}”的第 {draft.base_revision} 版，"
                                    f"该记录现已是第 {current.revision} 版（{current.updated_by} 修改）。为免覆盖他人修改，"
                                    "不能直接批准：请驳回后按最新版本重新起草")
            result = self.editor.update(kb, draft.record_id, draft.record, manager, reason, draft.base_revision,
                                        proposed_by=draft.proposed_by)
        self._decide(draft, "approved", manager, "", result.state.revision)
        return self.get(kb, draft_id), result

    def reject(self, kb: str, draft_id: int, manager: str, reason: str) -> Draft:
        if not reason.strip():
            raise InvalidQuery("驳回草稿必须说明原因（reason）")
        draft = self._pending(kb, draft_id)
        self._decide(draft, "rejected", manager, reason, None)
        self.store.audit_event(manager, "draft_reject", kb, reason=reason, record_id=draft.record_id,
                               details={"draft_id": draft.id, "record_id": draft.record_id,
                                        "proposed_by": draft.proposed_by})
        return self.get(kb, draft_id)

    def _pending(self, kb: str, draft_id: int) -> Draft:
        draft = self.get(kb, draft_id)
        if draft.status != "pending":
            raise Conflict(f"草稿 #{draft_id} {STATUS_NAMES[draft.status]}（{draft.decided_by}），不能再次处理")
        return draft

    def _decide(self, draft: Draft, status: str, manager: str, reason: str, revision: int | None) -> None:
        with self.engine.begin() as c:
            done = c.execute(update(drafts).where(drafts.c.id == draft.id, drafts.c.status == "pending").values(
                status=status, decided_by=manager, decided=datetime.now(UTC), reason=reason,
                published_revision=revision)).rowcount
        if done != 1:
            raise Conflict(f"草稿 #{draft.id} 已被他人处理")


def _title(record: dict[str, Any]) -> str:
    return str(record.get("title") or record.get("question") or record.get("unit") or record.get("problem") or "")[:200]
