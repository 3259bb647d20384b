"""Suggested replies composed deterministically from the knowledge base.

retrieve (the core search) → choose the standard answer → attach the clause it
rests on (never a repealed one) → attach the caller's district or street office →
follow-up questions → template. When nothing answers well enough the reply says
so and offers to register the request, with no policy facts at all: an agent
reading a guess aloud is worse than an agent saying "I will pass this on".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kb.errors import InvalidQuery
from kb.records import Chunk
from kb.reply.facts import extract
from kb.reply.followups import FollowUpRules
from kb.search import SearchRequest
from kb.service import KnowledgeService
from kb.textnorm import normalize

ESCALATION_TEXT = ("您好，您反映的问题我已经详细记录。目前知识库中没有能够准确答复这一问题的内容，"
                   "为避免给您不准确的信息，我将为您登记并转交相关部门核实办理，工作人员会尽快与您联系。")


@dataclass
class ReplyConfig:
    answer_threshold: float = 0.5  # minimum answerability to answer instead of escalating
    max_contacts: int = 2


@dataclass
class Reply:
    question: str
    reply: str
    basis: list[dict]
    contacts: list[dict]
    follow_up: list[str]
    confidence: float
    escalate: bool
    escalate_reason: str | None
    district: str | None
    street: str | None
    conflicts: list[dict] = field(default_factory=list)
    generation: dict | None = None
    took_ms: float = 0.0

    def to_json(self) -> dict:
        return self.__dict__.copy()


def _basis(chunk: Chunk, kind: str) -> dict:
    excerpt = chunk.text if kind != "answer" else chunk.text[:200]
    return {"type": kind, "id": chunk.id, "doc_id": chunk.doc_id, "title": chunk.title, "doc_no": chunk.doc_no or None,
            "article": chunk.article or None, "excerpt": excerpt, "topics": chunk.topics,
            "effective": chunk.effective or None}


class ReplyComposer:
    def __init__(self, service: KnowledgeService, followups: FollowUpRules, config: ReplyConfig | None = None) -> None:
        self.service = service
        self.followups = followups
        self.config = config or ReplyConfig()

    def answerability(self, kb: str, question: str, answer: Chunk) -> float:
        """How well the best standard answer matches: cosine to its question and variants, rescaled to 0..1.

        E5's cosines sit in a narrow band (unrelated Chinese text still scores ≈0.75),
        so the raw cosine is mapped from [0.80, 0.93] to [0, 1]; the band was set on
        eval/data/replies_dev.jsonl, where answerable questions score above it and
        the unanswerable ones below.
        """
        index = self.service.index(kb)
        rows = np.flatnonzero(index.rows == index.position[answer.id])
        qv = self.service.embedder.embed_query(question)
        cos = float((np.asarray(index.vectors[rows]) @ qv).max())
        return float(np.clip((cos - 0.80) / 0.13, 0.0, 1.0))

    def compose(self, question: str, kb: str = "minzheng", district: str | None = None, street: str | None = None) -> Reply:
        started = time.perf_counter()
        if not question or not question.strip():
            raise InvalidQuery("问题不能为空，请输入来电人的问题")
        contacts_dir = self.service.contacts(kb)
        found_district, found_street = contacts_dir.places.find(normalize(question))
        district = district or found_district
        street = street or found_street
        answers = self.service.search(kb, SearchRequest(question, top_k=3, libraries=["answer"], district=district)).hits
        best = answers[0].chunk if answers else None
        confidence = self.answerability(kb, question, best) if best else 0.0
        if best is None or confidence < self.config.answer_threshold:
            reply = self._escalation(question, district, street, confidence, started)
            return reply
        clause = self._governing_clause(kb, best, question)
        contacts = self._contacts(kb, district, street, best.topics)
        basis = [_basis(best, "answer")] + ([_basis(clause, "policy")] if clause else []) + \
                [{"type": "contact", "id": c.id, "doc_id": c.id, "title": c.title, "doc_no": None, "article": None,
                  "excerpt": c.text, "topics": c.topics, "effective": None} for c in contacts]
        conflicts = self._conflicts(best, clause)
        text = self._template(best, clause, contacts, conflicts)
        follow_up = self.followups.questions(question, best.topics, kb, place_known=bool(district or street))
        return Reply(question, text, basis, [self._contact_json(c) for c in contacts], follow_up, round(confidence, 4),
                     False, None, district, street, conflicts, None, round((time.perf_counter() - started) * 1000, 2))

    def _escalation(self, question: str, district: str | None, street: str | None, confidence: float, started: float) -> Reply:
        reason = ("知识库中没有与该问题足够匹配的标准答复（匹配度 "
                  f"{confidence:.2f}，低于 {self.config.answer_threshold:.2f}），需登记转办")
        return Reply(question, ESCALATION_TEXT, [], [], [], round(confidence, 4), True, reason, district, street, [], None,
                     round((time.perf_counter() - started) * 1000, 2))

    def _governing_clause(self, kb: str, answer: Chunk, question: str) -> Chunk | None:
        """The in-force clause the answer cites; otherwise the best in-force clause on the same topics."""
        index = self.service.index(kb)
        by_id = index.position
        for ref in answer.extra.get("policy_refs", []):
            key = f"{ref['doc']}#{ref['article']}"
            i = by_id.get(key, by_id.get(f"{key}-1"))
            if i is not None and index.chunks[i].in_force:
                return index.chunks[i]
        hits = self.service.search(kb, SearchRequest(question, top_k=1, libraries=["policy"], topics=answer.topics)).hits
        return hits[0].chunk if hits else None

    def _contacts(self, kb: str, district: str | None, street: str | None, topics: list[str]) -> list[Chunk]:
        directory = self.service.contacts(kb)
        chosen: list[Chunk] = []
        for topic in topics or [None]:
            if street:
                chosen += directory.lookup(district=district, street=street, topic=topic)
            if district:
                chosen += [c for c in directory.lookup(district=district, topic=topic) if c.extra.get("level") == "区"]
            if not chosen:
                chosen += [c for c in directory.lookup(topic=topic) if c.extra.get("level") == "市"]
            if chosen:
                break
        unique = list(dict.fromkeys(chosen))
        return unique[: self.config.max_contacts]

    @staticmethod
    def _contact_json(c: Chunk) -> dict:
        return {"id": c.id, "unit": c.extra.get("unit", c.title), "level": c.extra.get("level"),
                "district": c.districts[0] if c.districts else None, "street": c.street or None,
                "phone": c.extra.get("phone"), "address": c.extra.get("address"), "hours": c.extra.get("hours")}

    @staticmethod
    def _conflicts(answer: Chunk, clause: Chunk | None) -> list[dict]:
        """Amounts in the answer that the cited clause states differently; the newer source wins."""
        if clause is None:
            return []
        a, p = extract(answer.text)["amount"], extract(clause.text)["amount"]
        if not a or not p or a & p or not p - a:
            return []
        answer_date = answer.extra.get("updated") or ""
        policy_date = clause.effective or ""
        preferred = "policy" if policy_date >= answer_date else "answer"
        return [{"field": "amount", "answer_id": answer.id, "answer_values": sorted(a), "policy_id": clause.id,
                 "policy_values": sorted(p), "preferred": preferred,
                 "note": "标准答复与所引政策条款的金额不一致，请知识管理员核对更新"}]

    @staticmethod
    def _template(answer: Chunk, clause: Chunk | None, contacts: list[Chunk], conflicts: list[dict]) -> str:
        parts = [answer.text.strip()]
        if clause is not None:
            cite = f"《{clause.title}》" + (f"（{clause.doc_no}）" if clause.doc_no else "") + (clause.article or "")
            parts.append(f"以上答复依据{cite}。")
            if conflicts and conflicts[0]["preferred"] == "policy":
                parts.append(f"具体标准以{cite}的规定为准：{clause.text.strip()}")
        if contacts:
            lines = []
            for c in contacts:
                x = c.extra
                where = f"，地址：{x.get('address')}" if x.get("address") else ""
                hours = f"，办公时间：{x.get('hours')}" if x.get("hours") else ""
                lines.append(f"{x.get('unit', c.title)}，电话{x.get('phone')}{where}{hours}")
            parts.append("您可以联系：" + "；".join(lines) + "。")
        return "\n".join(parts)
