"""From model probabilities to a decision a ticket handler can act on and cite.

The model gives probabilities over fine labels; this module turns them into
行业确认 or 剔除申报 for the requesting knowledge base, with the key phrases, the
nearest labelled tickets, the applicable duty-boundary rule, a draft 剔除理由,
risk signals, and a review flag where the model is unsure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.classify.duties import DutyBook, PairRule
from kb.classify.model import TicketModel, prepare
from kb.classify.risk import RiskDetector
from kb.classify.tickets import split_label
from kb.errors import IndexNotReady, InvalidQuery
from kb.privacy import mask
from kb.taxonomy import Taxonomy
from kb.textnorm import normalize

log = logging.getLogger("kb.classify")
MAX_TEXT = 5000
MAX_BATCH = 500
_RECENT = 256


@dataclass
class Decision:
    industry: str
    in_scope: bool
    topic: str | None
    subtopic: str | None
    department: str | None
    confidence: float
    needs_review: bool
    reasons: list[str]
    filter_reason: str | None
    risk: dict
    label_scores: list[dict]
    model_version: str

    def to_json(self) -> dict:
        return self.__dict__.copy()


class TicketClassifier:
    def __init__(self, model: TicketModel, duties: DutyBook, taxonomy: Taxonomy) -> None:
        self.model = model
        self.duties = duties
        self.taxonomy = taxonomy
        self.risk = RiskDetector(duties.risks)
        self._keywords = self._keyword_index()
        # One question is scored by the reply's in-scope gate and again by its transfer routing; the model's
        # pass over a single text is remembered so that it runs once per question.
        self._recent: OrderedDict[str, tuple[np.ndarray, np.ndarray, object]] = OrderedDict()
        self._recent_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path, duties_dir: Path, taxonomy: Taxonomy) -> TicketClassifier:
        if not (model_dir / "CURRENT").exists():
            raise IndexNotReady("工单分类模型尚未训练，请先执行 `kb train-classifier`")
        return cls(TicketModel.load(model_dir), DutyBook.load(duties_dir), taxonomy)

    def _keyword_index(self) -> dict[str, list[str]]:
        """Readable key phrases per industry or department, from the duty book."""
        table: dict[str, list[str]] = {}
        for dep in self.duties.departments.values():
            table.setdefault(dep.id, []).extend(dep.keywords)
        for pair in self.duties.pairs:
            table.setdefault(pair.inside_industry, []).extend(pair.inside_keywords)
            table.setdefault(pair.outside, []).extend(pair.outside_keywords)
        return {k: sorted({normalize(w) for w in v}, key=len, reverse=True) for k, v in table.items()}

    def _passes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, object]:
        """``model.pooled_proba(texts)``; a single text's pass is remembered (``_RECENT`` texts)."""
        if len(texts) != 1:
            return self.model.pooled_proba(texts)
        text = texts[0]
        with self._recent_lock:
            found = self._recent.get(text)
            if found is not None:
                self._recent.move_to_end(text)
                return found
        found = self.model.pooled_proba(texts)
        with self._recent_lock:
            self._recent[text] = found
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return found

    def industries_probability(self, text: str, kbs: Iterable[str]) -> float:
        """P(the text belongs to any of ``kbs``' industries), from one pass of the model."""
        proba, _, _ = self._passes([text])
        industries = self.model.industry_proba(proba)
        return float(sum(industries.get(kb, np.zeros(1))[0] for kb in kbs))

    def classify(self, text: str, kb: str, explain: bool = True) -> Decision:
        return self.classify_many([text], kb, explain)[0]

    def classify_many(self, texts: list[str], kb: str, explain: bool = True) -> list[Decision]:
        """Decisions for ``texts`` as ``kb``'s ticket handler sees them.

        ``explain=False`` leaves out the key phrases and nearest labelled tickets (``reasons``), which only a
        person reads: a reply's transfer routing needs the decision, not why, and the neighbour search is
        half the cost of a single-ticket call."""
        if kb not in self.taxonomy.industries:
            raise InvalidQuery(f"工单分类只支持知识库 {'、'.join(self.taxonomy.industries)}，收到“{kb}”")
        if not texts:
            raise InvalidQuery("texts 不能为空")
        if len(texts) > MAX_BATCH:
            raise InvalidQuery(f"一次最多分类 {MAX_BATCH} 条工单，收到 {len(texts)} 条，请分批提交")
        for i, t in enumerate(texts):
            if not t or not t.strip():
                raise InvalidQuery(f"第 {i + 1} 条工单内容为空")
            if len(t) > MAX_TEXT:
                raise InvalidQuery(f"第 {i + 1} 条工单过长（{len(t)} 字），上限为 {MAX_TEXT} 字")
        started = time.perf_counter()
        proba, whole, matrix = self._passes(texts)
        industries = self.model.industry_proba(proba)
        whole_industries = self.model.industry_proba(whole)
        out = [self._decide(texts[i], kb, proba[i], {k: float(v[i]) for k, v in industries.items()}, matrix[i],
                            whole_industry=max(whole_industries, key=lambda k: (whole_industries[k][i], k == kb)),
                            explain=explain)
               for i in range(len(texts))]
        # A reply's routing call is not a ticket a handler classified: it stays out of the info log.
        (log.info if explain else log.debug)("classified %d ticket(s) for %s in %.1f ms; first: %s", len(texts), kb,
                                             (time.perf_counter() - started) * 1000, mask(texts[0])[:60])
        return out

    def _decide(self, text: str, kb: str, proba: np.ndarray, industries: dict[str, float], row,
                whole_industry: str, explain: bool = True) -> Decision:
        model = self.model
        industry = max(industries, key=lambda k: (industries[k], k == kb))
        confidence = industries[industry]
        order = np.argsort(-proba)
        best = next(model.labels[j] for j in order if split_label(model.labels[j])[0] == industry)
        routed = getattr(model, "department_model", None)
        if industry == "none" and routed is not None and f"none:{(dept := routed.route(row)[0])}" in model.labels:
            best = f"none:{dept}"
        _, code = split_label(best)
        in_scope = industry == kb
        subtopic = code if industry != "none" else None
        topic = self.taxonomy.subtopics[code].topic if subtopic else None
        department = None if in_scope else (code if industry == "none" else industry)
        runner_up = next(model.labels[j] for j in order if model.labels[j] != best)
        pair = self._pair_rule(text, best, runner_up)
        reasons = self._reasons(text, industry, department, best, pair, row) if explain else []
        # Thin evidence: the letter as a whole and its sentences point to different industries.
        split_evidence = whole_industry != industry
        if split_evidence:
            reasons.append(f"证据分歧：全文最接近{self._industry_name(whole_industry)}，逐句汇总后为"
                           f"{self._industry_name(industry)}，请人工复核")
        risk = self.risk.detect(text)
        return Decision(
            industry=industry,
            in_scope=in_scope,
            topic=topic,
            subtopic=subtopic,
            department=department,
            confidence=round(confidence, 4),
            needs_review=bool(confidence < model.review_threshold or split_evidence),
            reasons=reasons,
            filter_reason=None if in_scope else self._filter_reason(text, kb, department or "other", pair),
            risk=risk.to_json(),
            label_scores=[{"label": model.labels[j], "p": round(float(proba[j]), 4)} for j in order[:3]],
            model_version=model.version,
        )

    def _pair_rule(self, text: str, best: str, runner_up: str) -> PairRule | None:
        norm = normalize(text)
        candidates = self.duties.pairs_for(best, runner_up)
        for pair in self.duties.pairs:
            if pair not in candidates and any(normalize(k) in norm for k in pair.inside_keywords) \
                    and any(normalize(k) in norm for k in pair.outside_keywords):
                candidates.append(pair)
        return candidates[0] if candidates else None

    def _reasons(self, text: str, industry: str, department: str | None, best: str, pair: PairRule | None, row) -> list[str]:
        norm = normalize(text)
        key = department if industry == "none" else industry
        phrases = [w for w in self._keywords.get(key or "", []) if w in norm][:5]
        if pair:
            side = pair.outside_keywords if industry == "none" or industry != pair.inside_industry else pair.inside_keywords
            phrases += [normalize(w) for w in side if normalize(w) in norm and normalize(w) not in phrases][:3]
        reasons = []
        label_name = self._label_name(best)
        if phrases:
            reasons.append(f"关键词：{'、'.join(phrases)}（指向{label_name}）")
        else:
            reasons.append(f"模型判断最接近：{label_name}")
        similar = [f"{tid}（{self._label_name(label)}，相似度{sim:.2f}）：{mask(snippet)[:40]}…"
                   for tid, snippet, label, sim in self.model.neighbours(row, k=2)]
        reasons.append("相似已标注工单：" + "；".join(similar))
        if pair:
            reasons.append(f"职责边界《{pair.title}》：{pair.rule}（依据：{pair.basis}）")
        return reasons

    def _industry_name(self, industry: str) -> str:
        return "他部门职责" if industry == "none" else self.taxonomy.industries[industry]

    def _label_name(self, label: str) -> str:
        industry, code = split_label(label)
        if industry == "none":
            return f"{self.taxonomy.departments.get(code, code).split('（')[0]}部门"
        return f"{self.taxonomy.industries[industry]}·{self.taxonomy.label(code)}"

    def _filter_reason(self, text: str, kb: str, department: str, pair: PairRule | None) -> str:
        # Normalise first, then mask: a full-width number is only recognisable after normalising.
        summary = mask(prepare(text)).split("。")[0][:50]
        if pair and pair.outside == department and pair.inside_industry == kb and pair.filter_reason:
            return pair.filter_reason.replace("{summary}", summary)
        dep = self.duties.departments.get(department)
        if dep and dep.filter_reason:
            return dep.filter_reason.replace("{summary}", summary)
        name = self.taxonomy.departments.get(department) or self.taxonomy.industries.get(department, department)
        return f"该工单反映“{summary}”，属于{name}职责，非本单位职责，申请剔除。"
