"""What changed in a knowledge base recently (今日变更), from the store of record.

Agents need to know what is new before the caller does: a phone number edited this
morning, an amount raised, a policy repealed. Dates written inside records (an answer's
``updated``) say none of that, so the strip reads the store's revisions instead: each
record written in the window is listed once, with its latest revision compared field by
field with the one before it (``kb.store.field_diff``), its author and its time. A
policy whose effective date falls in the window counts too, because becoming law is a
change even when nobody edited the record. Re-ingesting an unchanged corpus writes no
revision, so it never makes records look changed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from kb.lifecycle import BEIJING
from kb.store import RETIRED, RecordStore, field_diff

# Chinese names of record fields, so a change reads as "电话 010-1 → 010-2" and not "phone".
FIELD_NAMES = {
    "phone": "电话", "unit": "单位", "address": "地址", "hours": "办公时间", "duties": "职责", "level": "级别",
    "district": "区", "street": "街道", "districts": "适用区", "title": "标题", "status": "状态", "doc_no": "文号",
    "issuer": "发文机关", "issued": "发文日期", "effective": "施行日期", "expires": "失效日期", "successor": "替代文件",
    "scope": "适用范围", "question": "问题", "variants": "问法", "answer": "答复", "policy_refs": "政策依据",
    "updated": "更新日期", "topics": "主题", "problem": "问题", "handling": "处理方式", "responsible": "责任单位",
    "basis": "依据", "text": "正文", "body": "正文", "articles": "条文",
}
SHORT = 40  # values up to this many characters are quoted old → new; longer ones are summarised
_AMOUNT = re.compile(r"\d+(?:\.\d+)?\s*(?:元|万元|%|％)")


@dataclass(frozen=True)
class Change:
    id: str
    library: str
    title: str
    time: str  # UTC ISO time of the revision, or Beijing midnight of the effective date
    kind: str  # 新增 | 修改 | 停用 | 恢复 | 生效
    change: str  # what changed, in words
    by: str
    status: str
    doc_no: str
    successor: str | None

    def to_json(self) -> dict:
        return asdict(self)


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "（空）"
    if isinstance(value, list):
        return "、".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}：{_text(v)}" for k, v in value.items())
    return str(value)


def describe_field(field: str, old: Any, new: Any) -> str:
    """One field's change in words: the amounts when they changed (what a caller will ask about), short values
    quoted old → new, long texts only named (quoting two paragraphs would not fit the strip)."""
    name = FIELD_NAMES.get(field, field)
    before, after = _text(old), _text(new)
    old_amounts, new_amounts = _AMOUNT.findall(before), _AMOUNT.findall(after)
    if old_amounts != new_amounts:
        gone = [a for a in old_amounts if a not in new_amounts]
        added = [a for a in new_amounts if a not in old_amounts]
        return f"{name}金额变更 {'、'.join(gone) or '（无）'} → {'、'.join(added) or '（无）'}"
    if len(before) <= SHORT and len(after) <= SHORT:
        return f"{name} {before} → {after}"
    return f"{name}已修改"


def describe_revision(row: dict[str, Any]) -> tuple[str, str]:
    """(kind, words) for one revision compared with the one before it."""
    reason = str(row.get("reason") or "").strip()
    if row["revision"] == 1 or row.get("prev_content") is None:
        return "新增", "新增"
    if row["status"] == RETIRED:
        return "停用", "停用" + (f"（{reason}）" if reason else "")
    diffs = [describe_field(d["field"], d["old"], d["new"]) for d in field_diff(row["prev_content"], row["content"])]
    kind = "恢复" if row.get("action") == "restore" else "修改"
    words = "；".join(diffs) if diffs else "内容未变（重新保存）"
    return kind, ("恢复旧版本：" if kind == "恢复" else "") + words


def _midnight_utc(day: dt.date) -> str:
    start = dt.datetime.combine(day, dt.time(), tzinfo=BEIJING).astimezone(dt.UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def recent_changes(store: RecordStore, kb: str, now: dt.datetime, today: dt.date, days: int) -> list[Change]:
    """Records written in the last ``days`` days before ``now`` and policies that came into force
    between ``today - days`` and ``today`` (Beijing dates), newest first, one item per record."""
    since = (now.astimezone(dt.UTC) - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    first, last = (today - dt.timedelta(days=days)).isoformat(), today.isoformat()
    items: dict[str, Change] = {}
    for row in store.recent_revisions(kb, since):
        content = row["content"] or {}
        kind, words = describe_revision(row)
        items[row["record_id"]] = Change(
            row["record_id"], row["library"], row["title"], row["time"], kind, words, row["author"],
            str(content.get("status") or row["status"]), str(content.get("doc_no") or ""), content.get("successor") or None)
    for state in store.all_active(kb):
        effective = str(state.content.get("effective") or "")[:10]
        if state.library != "policy" or not first <= effective <= last or state.content.get("status", "有效") != "有效":
            continue
        words = f"{effective} 起施行"
        old = items.get(state.id)
        if old is not None:
            items[state.id] = Change(**{**old.to_json(), "change": f"{old.change}；{words}"})
        else:
            items[state.id] = Change(state.id, "policy", state.title, _midnight_utc(dt.date.fromisoformat(effective)),
                                     "生效", words, state.updated_by, "有效", str(state.content.get("doc_no") or ""),
                                     state.content.get("successor") or None)
    return sorted(items.values(), key=lambda c: (c.time, c.id), reverse=True)
