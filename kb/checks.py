"""``kb check``: what a knowledge manager must fix before a caller notices.

Stale references (an answer citing a repealed, expired, retired or missing
article), amounts that disagree between an answer and the clause it cites, an
office whose phone number appears differently in different records, an office
whose opening hours in an answer differ from the directory's, and records nobody
has reviewed for too long.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from kb.index import LoadedIndex
from kb.lifecycle import beijing_today, status_on
from kb.reply.composer import _keyed_amounts
from kb.reply.directory import office_kind
from kb.store import RETIRED, RecordStore
from kb.textnorm import normalize

_TIME = re.compile(r"(?<!\d)([012]?\d:[0-5]\d)(?!\d)")
# Hours for a special day (a Saturday opening, 5月20日, an extended evening) are not the office's usual hours.
_SPECIAL_DAY = re.compile(r"星期[六日天]|周[六日末]|节|延长|延时|\d+月\d+日")
_PHONE = re.compile(r"(?<!\d)(0\d{2,3}-?\d{4}-?\d{4}|1[3-9]\d{9})(?!\d)")


@dataclass
class CheckReport:
    kb: str
    today: str
    stale_references: list[dict[str, Any]] = field(default_factory=list)
    amount_conflicts: list[dict[str, Any]] = field(default_factory=list)
    phone_conflicts: list[dict[str, Any]] = field(default_factory=list)
    hours_conflicts: list[dict[str, Any]] = field(default_factory=list)
    unreviewed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return (len(self.stale_references) + len(self.amount_conflicts) + len(self.phone_conflicts)
                + len(self.hours_conflicts) + len(self.unreviewed))

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "problems": self.problems}


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _unit(contact) -> str:
    return str(contact.extra.get("unit") or contact.title)


def _times(text: str) -> list[str]:
    return sorted({t.zfill(5) for t in _TIME.findall(text)})


def hours_conflicts(chunks: list) -> list[dict[str, Any]]:
    """Answers stating an office's usual opening hours that differ from the directory's rows for that office.

    "婚姻登记处……上午9:00至12:00、下午13:30至17:00" is read aloud to every caller; if the directory says 8:30 for
    海淀区婚姻登记处, one of them is wrong. A time the row does not have is a disagreement; an answer giving only some
    of the row's times (9:00至17:00) is a shorter reading, not one. An answer naming one office (海淀区婚姻登记处) is compared with its row; one
    naming only the kind of office (婚姻登记处) with every row of that kind. One entry per answer and office name.
    """
    hours = {c.id: _times(str(c.extra.get("hours") or "")) for c in chunks if c.library == "contact"}
    names: dict[str, list] = {}
    for c in (c for c in chunks if c.library == "contact" and hours[c.id]):
        unit = _unit(c)
        names.setdefault(unit, []).append(c)
        kind = office_kind(c)
        if len(kind) >= 3 and kind != unit:
            names.setdefault(kind, []).append(c)
    longest_first = sorted(names, key=len, reverse=True)  # a full unit name claims its span before its kind does
    out: list[dict[str, Any]] = []
    for chunk in (c for c in chunks if c.library == "answer"):
        text = normalize(chunk.text)
        claimed = [False] * len(text)
        for name in longest_first:
            pos = text.find(name)
            if pos < 0 or all(claimed[pos:pos + len(name)]):
                continue
            for i in range(pos, pos + len(name)):
                claimed[i] = True
            window = re.split(r"[。；]", text[pos:pos + len(name) + 60])[0]
            said = _times(window)
            if len(said) < 2 or _SPECIAL_DAY.search(window):
                continue
            differing = [{"contact_id": c.id, "unit": _unit(c), "directory_hours": str(c.extra.get("hours"))}
                         for c in names[name] if not set(said) <= set(hours[c.id])]
            if differing:
                out.append({"answer_id": chunk.id, "office": name, "hours_in_record": "、".join(t.lstrip("0") for t in said),
                            "contacts": differing})
    return out


def run_checks(kb: str, store: RecordStore, index: LoadedIndex, unreviewed_days: int,
               today: dt.date | None = None) -> CheckReport:
    day = beijing_today(today)
    report = CheckReport(kb, day.isoformat())
    states = {s.id: s for s in store.list(kb, page_size=10**9)[1]}
    policies: dict[str, dict[str, Any]] = {}
    for s in store.all_active(kb):
        if s.library == "policy":
            policies[s.id] = s.content
    articles = {c.id: c for c in index.chunks if c.library == "policy"}
    for chunk in (c for c in index.chunks if c.library == "answer"):
        for ref in chunk.extra.get("policy_refs", []):
            doc, article = ref["doc"], ref.get("article", "")
            state = states.get(doc)
            why = ""
            if state is None:
                why = "引用的政策不存在"
            elif state.status == RETIRED:
                why = "引用的政策已停用"
            elif doc in policies:
                meta = policies[doc]
                status = status_on(meta.get("status", "有效"), meta.get("effective") or "", meta.get("expires") or "", day)
                if status in ("已修订", "已废止"):
                    why = f"引用的政策{status}" + (f"，应改为 {meta['successor']}" if meta.get("successor") else "")
                elif article and f"{doc}#{article}" not in articles and f"{doc}#{article}-1" not in articles:
                    why = f"政策中没有 {article}"
            if why:
                report.stale_references.append({"answer_id": chunk.id, "doc": doc, "article": article, "reason": why})
            clause = articles.get(f"{doc}#{article}") or articles.get(f"{doc}#{article}-1")
            if clause is not None:
                a, p = _keyed_amounts(chunk.text), _keyed_amounts(clause.text)
                for key in sorted(a.keys() & p.keys()):
                    if a[key] - p[key] and p[key] - a[key]:
                        report.amount_conflicts.append({"answer_id": chunk.id, "policy_id": clause.id, "context": key,
                                                        "answer_values": sorted(a[key]), "policy_values": sorted(p[key])})
    contacts = [c for c in index.chunks if c.library == "contact"]
    for contact in contacts:
        unit = _unit(contact)
        known = {_digits(p) for p in _PHONE.findall(str(contact.extra.get("phone", "")))}
        if len(unit) < 4 or not known:
            continue
        for other in index.chunks:
            if other.library == "contact" or unit not in other.text:
                continue
            text = normalize(other.text)
            pos = text.find(unit)
            window = text[pos: pos + len(unit) + 40]
            for phone in _PHONE.findall(window):
                if _digits(phone) not in known:
                    report.phone_conflicts.append({"contact_id": contact.id, "unit": unit,
                                                   "directory_phone": contact.extra.get("phone"),
                                                   "record_id": other.doc_id, "phone_in_record": phone})
    report.hours_conflicts = hours_conflicts(index.chunks)
    limit = (dt.datetime.now(dt.UTC) - dt.timedelta(days=unreviewed_days)).strftime("%Y-%m-%dT%H:%M:%S")
    for s in states.values():
        if s.status != RETIRED and s.updated < limit:
            report.unreviewed.append({"id": s.id, "library": s.library, "title": s.title, "updated": s.updated,
                                      "updated_by": s.updated_by})
    return report
