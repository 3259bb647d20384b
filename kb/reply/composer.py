"""Suggested replies composed deterministically from the knowledge base.

retrieve (the core search) → choose the standard answer → attach the clause it
rests on (never a repealed one) → attach the caller's district or street office →
follow-up questions → template. When nothing answers well enough the reply says
so and offers to register the request, with no policy facts at all: an agent
reading a guess aloud is worse than an agent saying "I will pass this on".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kb.errors import InvalidQuery
from kb.records import Chunk
from kb.reply.asked import asked_terms, missing_terms
from kb.reply.calibration import Calibration, feature_vector
from kb.reply.directory import OfficeAsk, directory_evidence, directory_text, find_office, holds, office_ask
from kb.reply.followups import FollowUpRules
from kb.reply.notknowledge import not_knowledge
from kb.reply.rows import RowPick, pick_row
from kb.reply.spoken import clauses, parts, written
from kb.search import SearchRequest
from kb.service import KnowledgeService
from kb.textnorm import normalize

ESCALATION_TEXT = ("您好，您反映的问题我已经详细记录。目前知识库中没有能够准确答复这一问题的内容，"
                   "为避免给您不准确的信息，我将为您登记并转交相关部门核实办理，工作人员会尽快与您联系。")


@dataclass
class ReplyConfig:
    """Gates a question must pass to be answered; set on eval/data/replies_dev.jsonl (kb eval reply)."""

    min_cosine: float = 0.92  # query vs the answer's question/variants (E5 cosines are compressed near 0.8–1.0)
    sure_cosine: float = 0.95  # above this the lexical gate is waived
    min_coverage: float = 0.4  # share of the question's words found in the answer
    min_in_scope: float = 0.1  # ticket classifier's P(question belongs to this kb), when a model is trained
    candidate_margin: float = 0.02  # a lower-ranked answer may be chosen if this close to the best
    max_contacts: int = 2
    directory_max_rank: int = 3  # an office is named only if dense and BM25 both rank it this high

    def directory_ok(self, match) -> bool:
        """Both the meaning and the words of the question point at the office (a named institution)."""
        return match.named or (match.dense_rank is not None and match.dense_rank <= self.directory_max_rank
                and match.bm25_rank is not None and match.bm25_rank <= self.directory_max_rank)

    def directory_confidence(self, match) -> float:
        return 0.9 if match.named or (match.dense_rank == 1 and match.bm25_rank == 1) else 0.7


# A question asking for a kind of fact the chosen answer does not contain cannot be answered by it.
_ASKS = [
    (re.compile(r"百分之|比例|几成|%"), re.compile(r"%|百分之|成|比例")),
    (re.compile(r"多少钱|多少元|几块|给多少|补多少|领多少|能补多少|能补几|报销多少"), re.compile(r"\d+(?:\.\d+)?元|元/|免费|全额|减免")),
    (re.compile(r"哪天|几号|什么时候开|具体日期"), re.compile(r"\d+月|\d+日|每年|每月|工作日|随时")),
    (re.compile(r"免费吗|能免费|要钱吗|收费吗|收不收费"), re.compile(r"免费|收费|不收|减免|\d+元")),
    # An office's phone number or opening hours: an answer without one is not an answer (the directory may be).
    (re.compile(r"(?<![我俺]的)(?<![我俺])电话(?![\s:：]*\d)|号码(?![\s:：]*\d)|联系方式"), re.compile(r"(?<!\d)(?:0\d{2,3}-?\d{3,4}-?\d{4}|12345|96\d{3})(?!\d)")),
    (re.compile(r"几点|上班时间|办公时间|工作时间|开门"), re.compile(r"\d{1,2}:\d{2}|\d{1,2}点|工作日|24小时")),
]



@dataclass
class Answerability:
    cosine: float
    coverage: float
    in_scope: float | None
    type_ok: bool
    forecast_or_live: bool = False
    outside: str = ""  # why no standard answer can answer it (kb/reply/notknowledge.py)
    missing: tuple[str, ...] = ()  # what a figure was asked about that the answer never mentions (kb/reply/asked.py)
    features: list[float] = field(default_factory=list)  # kb/reply/calibration.py FEATURES

    def failed(self, cfg: ReplyConfig, best_cosine: float | None = None) -> str | None:
        """Why this answer must not be read out; ``best_cosine`` is the best candidate's similarity,
        which decides whether the knowledge base knows the question at all."""
        if self.forecast_or_live:
            return self.outside or "来电人询问的是政策调整预期或实时办理状态，知识库只收录现行政策"
        top = self.cosine if best_cosine is None else best_cosine
        if top < cfg.min_cosine:
            return f"最接近的标准答复相似度 {top:.3f} 低于 {cfg.min_cosine}"
        if self.cosine < top - cfg.candidate_margin:
            return f"该标准答复相似度 {self.cosine:.3f} 明显低于最接近的答复"
        if self.coverage < cfg.min_coverage and self.cosine < cfg.sure_cosine:
            return f"问题中的关键词只有 {self.coverage:.0%} 出现在最接近的标准答复中"
        if self.in_scope is not None and self.in_scope < cfg.min_in_scope:
            return f"问题属于本知识库职责的概率仅 {self.in_scope:.2f}，可能属于其他部门"
        if not self.type_ok:
            return _lacking(self)
        return None

    @property
    def confidence(self) -> float:
        """Cosine mapped from the [0.88, 0.97] band to 0..1, scaled down by weak lexical overlap."""
        base = float(np.clip((self.cosine - 0.88) / 0.09, 0.0, 1.0))
        return round(base * (0.5 + 0.5 * min(1.0, self.coverage / 0.6)), 4)


def _lacking(gate: Answerability) -> str:
    about = f"（答复未提到“{'、'.join(gate.missing)}”）" if gate.missing else ""
    return f"来电人询问的具体信息（金额、比例、日期或数量）不在标准答复中{about}"


def _index_knows(index, term: str) -> bool:
    """Whether any segment's BM25 vocabulary holds the term (an index without vocabularies knows everything)."""
    vocabs = [v for seg in getattr(index, "segments", ())
              if (v := getattr(seg.scorer, "vocab", None) or getattr(seg.scorer, "vocab_dict", None)) is not None]
    return not vocabs or any(term in v for v in vocabs)


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
    # On an escalation: candidate answers and clauses for the agent to open, never read aloud
    references: list[dict] = field(default_factory=list)
    kind: str = "escalation"  # answer (a standard answer) | directory (the contact directory) | escalation
    evidence: str | None = None  # a directory reply's evidence for its office (named | ranked | other)

    def to_json(self) -> dict:
        return self.__dict__.copy()


_FACT_WORD = {"age": "年龄", "grade": "残疾等级", "category": "家庭情况"}


@dataclass
class _Choice:
    """One question's best standard answer and, when it may not be read out, why."""

    text: str
    answer: Chunk | None
    confidence: float
    failure: str | None
    hits: list
    part: int = 0  # 0: the whole question; n: its n-th part


def _transfer_text(part: int) -> str:
    return f"\n您问的{_ordinal(part)}问题，知识库中没有可靠的答复，我为您登记转相关部门核实。"


def _ordinal(n: int) -> str:
    return "第" + "一二三四五六七八九十"[min(n, 10) - 1] + "个" if n > 0 else ""


def _basis(chunk: Chunk, kind: str) -> dict:
    excerpt = chunk.text if kind != "answer" else chunk.text[:200]
    return {"type": kind, "id": chunk.id, "doc_id": chunk.doc_id, "title": chunk.title, "doc_no": chunk.doc_no or None,
            "article": chunk.article or None, "excerpt": excerpt, "topics": chunk.topics,
            "effective": chunk.effective or None}


_KEYED_AMOUNT = re.compile(r"([\u4e00-\u9fff]{2})(\d+(?:\.\d+)?元)")


def _keyed_amounts(text: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, amount in _KEYED_AMOUNT.findall(normalize(text)):
        out.setdefault(key, set()).add(amount)
    return out


class ReplyComposer:
    def __init__(
        self,
        service: KnowledgeService,
        followups: FollowUpRules,
        config: ReplyConfig | None = None,
        scope_check: Callable[[str, str], float] | None = None,
        route: Callable[[str, str], Any] | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        """``route``: the ticket classifier's decision for a question (industry, subtopic, department), which
        tells an escalation where to transfer: this kb's office for the subtopic, or another department."""
        self.service = service
        self.followups = followups
        self.config = config or ReplyConfig()
        self.scope_check = scope_check
        self.route = route
        self.calibration = calibration
        self._token_cache: dict[tuple[str, int], set[str]] = {}

    def _answer_tokens(self, answer: Chunk) -> set[str]:
        key = (answer.id, hash(answer.bm25_text))
        if key not in self._token_cache:
            self._token_cache[key] = set(self.service.tokenizer.tokens(answer.bm25_text))
        return self._token_cache[key]

    def warm_answers(self, kb: str, pause_s: float = 0.002) -> int:
        """Segment every standard answer of ``kb`` ahead of the first questions, so that no early caller pays
        ~3 ms per answer seen for the first time (a reply weighs five). Meant for a background thread after
        start-up; the pause between answers leaves the interpreter to the requests being served."""
        snap = self.service.snapshot(kb)
        answers = [c for c in snap.searcher.index.chunks if c.library == "answer"]
        for chunk in answers:
            self._answer_tokens(chunk)
            time.sleep(pause_s)
        return len(answers)

    def answerability(self, kb: str, question: str, answers: list[Chunk], qv: np.ndarray | None = None,
                      index=None, hits: list | None = None) -> list[Answerability]:
        """Gate features of each candidate answer; the question is embedded (unless given) and classified once.

        ``index`` is the request's snapshot; without one the live index is used."""
        index = self.service.index(kb) if index is None else index
        qv = self.service.embedder.embed_query(question) if qv is None else qv
        q_tokens = set(self.service.tokenizer.tokens(question))
        in_scope = self.scope_check(question, kb) if self.scope_check else None
        outside = not_knowledge(question) or ""
        forecast = bool(outside)
        terms = asked_terms(question, self.service.tokenizer.tokens, lambda t: _index_knows(index, t))
        out = []
        cosines = [float((index.chunk_vectors(index.position[a.id]) @ qv).max()) for a in answers]
        for rank, (answer, cosine) in enumerate(zip(answers, cosines)):
            a_tokens = self._answer_tokens(answer)
            coverage = len(q_tokens & a_tokens) / max(1, len(q_tokens))
            type_ok = all(not asks.search(question) or has.search(answer.text) for asks, has in _ASKS)
            missing = tuple(missing_terms(terms, answer.text, a_tokens, self.service.synonyms.expansions)) if terms else ()
            hit = hits[rank] if hits else None
            x = feature_vector(cosine, cosines[0], cosines[1] if len(cosines) > 1 else 0.0, coverage, in_scope, rank,
                               hit.dense_rank if hit else None, hit.bm25_rank if hit else None)
            out.append(Answerability(cosine, coverage, in_scope, type_ok and not missing, forecast, outside,
                                     features=x, missing=missing))
        return out

    def compose(self, question: str, kb: str = "minzheng", district: str | None = None, street: str | None = None) -> Reply:
        started = time.perf_counter()
        if not question or not question.strip():
            raise InvalidQuery("问题不能为空，请输入来电人的问题")
        # One snapshot for the whole request: every lookup below sees the same index version.
        snap = self.service.snapshot(kb)
        found_district, found_street = snap.contacts.places.find(normalize(question))
        district = district or found_district
        street = street or found_street
        plain = written(question)  # matched in the written register; the caller's words stay in the record
        ask = office_ask(plain)
        if ask is not None:
            # A question naming the office itself (西城区婚姻登记处电话多少) is the directory's, not an answer's.
            office = self._directory(snap, kb, question, plain, ask, district, street, started, named_only=True)
            if office is not None:
                return self._with_answer(snap, office, self._choose(snap, kb, plain, district), started)
        pieces = parts(plain)
        split = clauses(plain)
        if ask is None and len(split) > 1:
            # "海淀区婚姻登记处电话多少，结婚要带啥材料": the clause naming an office is the directory's, the
            # others are answered (or transferred) one by one.
            mixed = self._office_part(snap, kb, question, split, district, street, started)
            if mixed is not None:
                return mixed
        main = self._choose(snap, kb, plain, district)
        chosen = [main] if len(pieces) == 1 else [main, *(self._choose(snap, kb, p, district, n)
                                                          for n, p in enumerate(pieces, start=1))]
        answered: list[_Choice] = []
        for c in chosen:
            if c.failure is None and all(a.answer.doc_id != c.answer.doc_id for a in answered):
                answered.append(c)
        if not answered:
            # No standard answer holds it; a question for an office's phone, address or hours may still be
            # answered from the directory.
            office = self._directory(snap, kb, question, plain, ask, district, street, started) if ask else None
            if office is not None:
                return office
            return self._escalation(snap, kb, question, district, street, main.confidence, main.failure or "", started,
                                    [h.chunk for h in main.hits])
        transfers = [c.part for c in chosen[1:] if c.failure is not None and c.answer is not None
                     and all(a.answer.doc_id != c.answer.doc_id for a in answered)] if len(chosen) > 1 else []
        return self._answer_reply(snap, kb, question, plain, answered, transfers, district, street, started)

    def _choose(self, snap, kb: str, text: str, district: str | None, part: int = 0) -> _Choice:
        """The standard answer for one question (written form), with the gate that refused it if any.

        The first of the top answers that passes every gate: the best match may answer a neighbouring
        question (how to apply) when the caller asked another (how much)."""
        found = snap.searcher.search(SearchRequest(text, top_k=5, libraries=["answer"], district=district, snippets=False))
        answers = found.hits
        if not answers:
            return _Choice(text, None, 0.0, "知识库中没有相关的标准答复", [], part)
        gates = self.answerability(kb, text, [h.chunk for h in answers], found.query_vector, snap.searcher.index, answers)
        if self.calibration is not None:
            best, confidence, failure = self._calibrated(answers, gates)
            return _Choice(text, best, confidence, failure, answers, part)
        top = gates[0].cosine
        best, confidence, failure = answers[0].chunk, gates[0].confidence, gates[0].failed(self.config)
        if failure is not None and replace(gates[0], type_ok=True).failed(self.config) is None:
            # The best match is on the subject but lacks the asked fact (an amount, a date): a sibling
            # answer on the same subject that has it stands in.
            subject = set(answers[0].chunk.topics)
            for hit, gate in zip(answers[1:], gates[1:]):
                if set(hit.chunk.topics) & subject and gate.failed(self.config, top) is None:
                    best, confidence, failure = hit.chunk, gate.confidence, None
                    break
        return _Choice(text, best, confidence, failure, answers, part)

    def _calibrated(self, answers: list, gates: list[Answerability]) -> tuple[Chunk, float, str | None]:
        """The candidate most likely right by the dev-fitted model; read out when that probability reaches
        the threshold. Forecasts, other kbs' questions and answers lacking the asked kind of fact are refused
        whatever the model says."""
        cal = self.calibration
        first = gates[0]
        if first.forecast_or_live:
            return answers[0].chunk, 0.0, first.outside
        if first.in_scope is not None and first.in_scope < self.config.min_in_scope:
            return answers[0].chunk, 0.0, f"问题属于本知识库职责的概率仅 {first.in_scope:.2f}，可能属于其他部门"
        eligible = [(cal.probability(g.features), i) for i, g in enumerate(gates) if g.type_ok]
        if not eligible:
            return answers[0].chunk, 0.0, _lacking(first)
        p, i = max(eligible)
        if p < cal.threshold:
            return answers[i].chunk, p, f"最接近的标准答复可靠度 {p:.2f} 低于 {cal.threshold:.2f}"
        return answers[i].chunk, p, None

    def candidates(self, kb: str, text: str, district: str | None = None) -> tuple[list, list[Answerability]]:
        """The answer candidates of one written-form question and their gate features (for calibration)."""
        snap = self.service.snapshot(kb)
        found = snap.searcher.search(SearchRequest(text, top_k=5, libraries=["answer"], district=district, snippets=False))
        if not found.hits:
            return [], []
        return found.hits, self.answerability(kb, text, [h.chunk for h in found.hits], found.query_vector,
                                              snap.searcher.index, found.hits)

    def _answer_reply(self, snap, kb: str, question: str, plain: str, answered: list[_Choice], transfers: list[str],
                      district: str | None, street: str | None, started: float) -> Reply:
        first = answered[0]
        best = first.answer
        clauses = self._governing_clauses(snap, best, plain)
        clause = clauses[0] if clauses else None
        contacts = self._contacts(snap.contacts, district, street, best.topics)
        basis = [_basis(best, "answer")] + [_basis(c, "policy") for c in clauses]
        conflicts = self._conflicts(best, clause)
        row = pick_row(plain, best.text)
        text = self._template(best, clause, contacts, conflicts, row)
        for extra in answered[1:]:
            text += self._part_text(snap, extra, basis)
        for part in transfers:
            text += _transfer_text(part)
        basis += [{"type": "contact", "id": c.id, "doc_id": c.id, "title": c.title, "doc_no": None, "article": None,
                   "excerpt": c.text, "topics": c.topics, "effective": None} for c in contacts]
        follow_up = self.followups.questions(plain, best.topics, kb, place_known=bool(district or street))
        confidence = min(c.confidence for c in answered)
        return Reply(question, text, basis, [self._contact_json(c) for c in contacts], follow_up, round(confidence, 4),
                     False, None, district, street, conflicts, None, round((time.perf_counter() - started) * 1000, 2),
                     kind="answer")

    def _directory(self, snap, kb: str, question: str, plain: str, ask: OfficeAsk, district: str | None,
                   street: str | None, started: float, named_only: bool = False) -> Reply | None:
        """An office question answered from the directory; ``named_only``: only when it names the office."""
        if not_knowledge(plain):
            return None
        match = find_office(snap, plain, district, street, self.config.max_contacts)
        if named_only and (match is None or not match.named):
            return None
        # Naming one of this kb's offices is evidence enough that the question is this kb's; otherwise the
        # ticket classifier must not think it another department's.
        if (match is None or not match.named) and self.scope_check is not None \
                and self.scope_check(plain, kb) < self.config.min_in_scope:
            return None
        if match is None or not self.config.directory_ok(match) or not all(holds(c, ask) for c in match.offices):
            return None
        text = directory_text(match.offices, ask)
        basis = [{"type": "contact", "id": c.id, "doc_id": c.id, "title": c.title, "doc_no": None, "article": None,
                  "excerpt": c.text, "topics": c.topics, "effective": None} for c in match.offices]
        evidence = directory_evidence(match)
        fitted = self.calibration.directory if self.calibration is not None else {}
        confidence = fitted.get(evidence, self.config.directory_confidence(match))
        return Reply(question, text, basis, [self._contact_json(c) for c in match.offices], [], round(confidence, 4),
                     False, None, district, street, [], None, round((time.perf_counter() - started) * 1000, 2),
                     kind="directory", evidence=evidence)

    def _part_text(self, snap, choice: _Choice, basis: list[dict]) -> str:
        """One more answered part of the question: its text, with its answer and clauses added to ``basis``.

        Parts are named by their order, never quoted: the caller's own numbers (ages, years) are not facts
        of any source and must not be read back as if they were."""
        more = self._governing_clauses(snap, choice.answer, choice.text)
        seen = {b["id"] for b in basis}
        basis += [b for b in [_basis(choice.answer, "answer")] + [_basis(c, "policy") for c in more] if b["id"] not in seen]
        return f"\n关于您问的{_ordinal(choice.part)}问题：" + self._template(
            choice.answer, more[0] if more else None, [], [], pick_row(choice.text, choice.answer.text))

    def _office_part(self, snap, kb: str, question: str, pieces: list[str], district: str | None,
                     street: str | None, started: float) -> Reply | None:
        """A question in parts where one part names an office and asks only for its facts."""
        for n, piece in enumerate(pieces, start=1):
            piece_ask = office_ask(piece)
            if piece_ask is None:
                continue
            office = self._directory(snap, kb, question, piece, piece_ask, district, street, started, named_only=True)
            if office is None:
                continue
            text, basis, confidence = office.reply, list(office.basis), office.confidence
            for m, other in enumerate(pieces, start=1):
                if m == n:
                    continue
                choice = self._choose(snap, kb, other, district, m)
                if choice.failure is not None or choice.answer is None:
                    text += _transfer_text(m)
                    continue
                text += self._part_text(snap, choice, basis)
                confidence = min(confidence, choice.confidence)
            return replace(office, reply=text, basis=basis, confidence=round(confidence, 4),
                           took_ms=round((time.perf_counter() - started) * 1000, 2))
        return None

    def _with_answer(self, snap, office: Reply, choice: _Choice, started: float) -> Reply:
        """A named office's directory reply, followed by the standard answer when one passes every gate:
        "殡仪馆的车咋叫，电话多少，大半夜有人接吗" wants the phone and the rule on night collection."""
        if choice.failure is not None or choice.answer is None:
            return office
        answer = choice.answer
        # Only an answer about this office's own business adds to it; "where are offices' phones listed" after
        # the office's phone has been read out is noise the agent would have to skip.
        office_topics = {t for b in office.basis for t in b["topics"]}
        if not office_topics & set(answer.topics):
            return office
        clauses = self._governing_clauses(snap, answer, choice.text)
        clause = clauses[0] if clauses else None
        conflicts = self._conflicts(answer, clause)
        text = office.reply + "\n" + self._template(answer, clause, [], conflicts, pick_row(choice.text, answer.text))
        basis = [_basis(answer, "answer")] + [_basis(c, "policy") for c in clauses] + office.basis
        return replace(office, reply=text, basis=basis, conflicts=conflicts,
                       confidence=round(min(office.confidence, choice.confidence), 4),
                       took_ms=round((time.perf_counter() - started) * 1000, 2))

    def _escalation(self, snap, kb: str, question: str, district: str | None, street: str | None, confidence: float,
                    why: str, started: float, candidates: list[Chunk]) -> Reply:
        """A refusal that still helps: where to transfer (this kb's office for the question's subtopic and the
        caller's place, or the other department the classifier names) and the nearest answers and in-force
        clauses as references. None of it enters the text read aloud."""
        reason = f"{why}，知识库无法可靠答复，需登记转办"
        decision = self.route(question, kb) if self.route is not None else None
        contacts: list[Chunk] = []
        references: list[dict] = []
        # The ticket model was trained on written tickets; on a short spoken question it is often unsure. Only a
        # sure call for a named department replaces this kb's office; an unsure one is added as a hint.
        sure_elsewhere = decision is not None and not decision.in_scope and not decision.needs_review \
            and (decision.department or "other") != "other"
        if decision is not None and not decision.in_scope:
            department = decision.department or ""
            name = self.service.taxonomy.label(department) if department else "其他部门"
            references.append({"type": "department", "id": department, "doc_id": department, "title": f"转办：{name}",
                               "doc_no": None, "article": None, "excerpt": decision.filter_reason or "",
                               "topics": [], "effective": None,
                               "note": "工单分类判断不属本行业" if sure_elsewhere else "工单分类判断可能不属本行业，请核实"})
        if sure_elsewhere and (ours := self._clause_in_scope(question, kb)):
            # "德胜街道这边，我的低保批没批？还有医保卡丢了去哪补": the other department takes the second part, this
            # kb's street office the first; both are where the ticket goes.
            contacts = self._contacts(snap.contacts, district, street, [ours])
        if not sure_elsewhere:
            # Searched in the written register, as the answers were: the same text reuses the question's vector.
            nearest = snap.searcher.search(SearchRequest(written(question), top_k=2, libraries=["policy"],
                                                         district=district)).hits
            if decision is not None and decision.in_scope and decision.subtopic:
                topics = [decision.subtopic]
            else:
                topics = list(candidates[0].topics) if candidates else (list(nearest[0].chunk.topics) if nearest else [])
            contacts = self._contacts(snap.contacts, district, street, topics) if topics else []
            references += [{**_basis(c, "answer"), "note": "候选标准答复，未通过答复条件，请核实后使用"} for c in candidates[:3]]
            references += [{**_basis(h.chunk, "policy"), "note": "候选条款，请核实后使用"} for h in nearest]
        return Reply(question, ESCALATION_TEXT, [], [self._contact_json(c) for c in contacts], [], round(confidence, 4), True,
                     reason, district, street, [], None, round((time.perf_counter() - started) * 1000, 2), references)

    def _clause_in_scope(self, question: str, kb: str) -> str | None:
        """The subtopic of the clause of a several-clause question that the classifier keeps in this kb most surely,
        or None (a one-clause question was already routed whole)."""
        pieces = clauses(written(question))
        if len(pieces) < 2 or self.route is None:
            return None
        decisions = [self.route(p, kb) for p in pieces]
        kept = [d for d in decisions if d is not None and d.in_scope and not d.needs_review and d.subtopic]
        return max(kept, key=lambda d: d.confidence).subtopic if kept else None

    def _governing_clauses(self, snap, answer: Chunk, question: str) -> list[Chunk]:
        """The in-force clauses the answer cites, in its order; else the best in-force clause on its topics.

        A reference to a superseded document is never followed: repealed text is not cited.
        """
        index = snap.searcher.index
        out: list[Chunk] = []
        for ref in answer.extra.get("policy_refs", []):
            key = f"{ref['doc']}#{ref['article']}"
            i = index.position.get(key, index.position.get(f"{key}-1"))
            if i is not None and index.is_current(i) and all(c.id != index.chunks[i].id for c in out):
                out.append(index.chunks[i])
        if out:
            return out
        hits = snap.searcher.search(SearchRequest(question, top_k=1, libraries=["policy"], topics=answer.topics)).hits
        return [hits[0].chunk] if hits else []

    def _contacts(self, directory, district: str | None, street: str | None, topics: list[str]) -> list[Chunk]:
        chosen: list[Chunk] = []
        for topic in topics or [None]:
            if street:
                chosen += directory.lookup(district=district, street=street, topic=topic)
            if district:
                chosen += directory.lookup(district=district, topic=topic)
            if not chosen:
                chosen += [c for c in directory.lookup(topic=topic) if c.extra.get("level") == "市"]
            if chosen:
                break
        unique = list({c.id: c for c in chosen}.values())
        return unique[: self.config.max_contacts]

    @staticmethod
    def _contact_json(c: Chunk) -> dict:
        return {"id": c.id, "unit": c.extra.get("unit", c.title), "level": c.extra.get("level"),
                "district": c.districts[0] if c.districts else None, "street": c.street or None,
                "phone": c.extra.get("phone"), "address": c.extra.get("address"), "hours": c.extra.get("hours")}

    @staticmethod
    def _conflicts(answer: Chunk, clause: Chunk | None) -> list[dict]:
        """Amounts stated for the same thing (the same two words before them, e.g. 每月) that differ
        between the answer and its clause; the newer source wins and knowledge managers are told."""
        if clause is None:
            return []
        a, p = _keyed_amounts(answer.text), _keyed_amounts(clause.text)
        for key in sorted(a.keys() & p.keys()):
            only_a, only_p = a[key] - p[key], p[key] - a[key]
            if only_a and only_p:
                answer_date = answer.extra.get("updated") or ""
                preferred = "policy" if (clause.effective or "") >= answer_date else "answer"
                return [{"field": "amount", "context": key, "answer_id": answer.id, "answer_values": sorted(only_a),
                         "policy_id": clause.id, "policy_values": sorted(only_p), "preferred": preferred,
                         "note": "标准答复与所引政策条款的金额不一致，请知识管理员核对更新"}]
        return []

    @staticmethod
    def _template(answer: Chunk, clause: Chunk | None, contacts: list[Chunk], conflicts: list[dict],
                  row: RowPick | None = None) -> str:
        parts = [answer.text.strip()]
        if row is not None:
            # The caller's own facts pick one row; it leads, verbatim, and the whole rule follows as the basis.
            parts.insert(0, f"按您说的{_FACT_WORD.get(row.kind, '情况')}，{row.row}。")
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
