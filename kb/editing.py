"""Edits of records by people: validate with the ingest validator, store a revision, re-index.

A write is committed to the store first; re-indexing follows. If re-indexing
fails the write stays (nothing is lost) and the caller is told it is not yet
searchable; the next successful re-index brings the index in step with the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kb.errors import GuardRefused, KBError, RecordInvalid
from kb.publish import Publisher, known_policies, validator_for
from kb.recordcodec import to_raw
from kb.records import LIBRARIES
from kb.settings import Settings
from kb.store import Change, RecordState, RecordStore, record_title

log = logging.getLogger("kb.editing")


@dataclass
class WriteResult:
    state: RecordState
    indexed: bool
    index_version: str = ""
    index_error: str = ""


class RecordEditor:
    def __init__(self, settings: Settings, store: RecordStore, publisher: Publisher | None = None,
                 on_indexed: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.publisher = publisher or Publisher(settings, store)
        self.on_indexed = on_indexed

    def validate(self, kb: str, library: str, record: dict[str, Any], record_id: str | None) -> tuple[str, dict[str, Any]]:
        """(id, canonical content) or RecordInvalid with every field error, in Chinese."""
        if library not in LIBRARIES:
            raise RecordInvalid(f"库“{str(library)[:20]}”无效，可选：{'、'.join(LIBRARIES)}",
                                [{"field": "library", "reason": f"可选：{'、'.join(LIBRARIES)}"}])
        if not isinstance(record, dict):
            raise RecordInvalid("record 应为“字段: 值”的对象", [{"field": "record", "reason": "应为对象"}])
        data = dict(record)
        if record_id is not None:
            if data.get("id") not in (None, "", record_id):
                raise RecordInvalid(f"记录中的编号“{str(data.get('id'))[:40]}”与地址中的编号“{record_id[:40]}”不一致",
                                    [{"field": "id", "reason": "与地址中的编号不一致"}])
            data["id"] = record_id
        rid = str(data.get("id") or "")
        raw = to_raw(library, rid, data)
        cited = {str(r.get("doc")) for r in data.get("policy_refs") or [] if isinstance(r, dict) and r.get("doc")}
        if data.get("successor"):
            cited.add(str(data["successor"]))
        outcome = validator_for(self.settings, kb).run(
            [raw], known_policies=known_policies(self.store, kb, exclude={rid}, only=cited))
        if outcome.rejections or not outcome.documents:
            errors = [{"field": r.field or "record", "reason": r.reason} for r in outcome.rejections] or [
                {"field": "record", "reason": "记录无法解析"}]
            summary = "；".join(f"{e['field']}：{e['reason']}" for e in errors[:5])
            raise RecordInvalid(f"记录未通过校验：{summary}", errors)
        doc = outcome.documents[0]
        return doc.doc_id, doc.record

    def create(self, kb: str, library: str, record: dict[str, Any], actor: str, reason: str,
               proposed_by: str | None = None) -> WriteResult:
        rid, content = self.validate(kb, library, record, None)
        state = self.store.create(kb, Change(library, rid, content, record_title(library, content), reason), actor,
                                  proposed_by=proposed_by)
        return self._publish(kb, state)

    def update(self, kb: str, record_id: str, record: dict[str, Any], actor: str, reason: str,
               expected_revision: int | None, proposed_by: str | None = None) -> WriteResult:
        current = self.store.get(kb, record_id)
        _, content = self.validate(kb, current.library, record, record_id)
        state = self.store.update(kb, Change(current.library, record_id, content, record_title(current.library, content),
                                             reason), actor, expected_revision, proposed_by=proposed_by)
        return self._publish(kb, state)

    def retire(self, kb: str, record_id: str, actor: str, reason: str, expected_revision: int | None = None) -> WriteResult:
        return self._publish(kb, self.store.retire(kb, record_id, actor, reason, expected_revision))

    def restore(self, kb: str, record_id: str, revision: int, actor: str, reason: str,
                expected_revision: int | None = None) -> WriteResult:
        old = self.store.revision(kb, record_id, revision)
        current = self.store.get(kb, record_id)
        self.validate(kb, current.library, old["content"], record_id)
        return self._publish(kb, self.store.restore(kb, record_id, revision, actor, reason, expected_revision))

    def _publish(self, kb: str, state: RecordState) -> WriteResult:
        try:
            result = self.publisher.reindex(kb)
        except GuardRefused:
            self._revert(kb, state)
            raise
        except KBError as exc:
            log.error("re-index of %s after writing %s failed: %s", kb, state.id, exc.message)
            return WriteResult(state, False, "", exc.message)
        except Exception as exc:  # noqa: BLE001 - the write is stored; the caller must learn it is not searchable yet
            log.exception("re-index of %s after writing %s failed", kb, state.id)
            return WriteResult(state, False, "", f"重建索引失败（{type(exc).__name__}），修改已保存，稍后会自动补建")
        if self.on_indexed is not None:
            self.on_indexed(kb)
        return WriteResult(state, True, result.version)

    def _revert(self, kb: str, state: RecordState) -> None:
        revert_write(self.store, kb, state)


GUARD_REASON = "自测问题 Recall@5 下降超过上限，自动撤回"


def revert_write(store: RecordStore, kb: str, state: RecordState) -> None:
    """Undo a write the gold guard refused, as a new revision, so the store matches what is live."""
    if state.revision == 1:
        store.retire(kb, state.id, "guard", GUARD_REASON + "新建")
        return
    previous = store.revision(kb, state.id, state.revision - 1)
    change = Change(state.library, state.id, previous["content"], record_title(state.library, previous["content"]),
                    GUARD_REASON)
    store.update(kb, change, "guard", state.revision, action="guard_revert", status=previous["status"])
