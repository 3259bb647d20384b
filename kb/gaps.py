"""Knowledge gaps: what callers ask that the knowledge base does not answer.

A question is a gap when its reply escalated, when its search found nothing close
(best cosine to any in-force chunk below KB_GAP_MIN_COSINE), or when an agent marked
an answer to it 没用. Questions are grouped by meaning (scikit-learn agglomerative
clustering, average linkage over cosine distance, cut at KB_GAP_DISTANCE) so that
五种问法 of one missing answer show as one gap, ranked by how often it was asked.
Question vectors come from the service's embedder through the embedding cache, so a
question is embedded once however often the gap list is opened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from kb.embedding import Embedder, EmbeddingCache
from kb.index import LoadedIndex
from kb.interactions import InteractionStore

MAX_EXAMPLES = 5


@dataclass
class _Asked:
    question: str
    replies: int = 0
    searches: int = 0
    useless: int = 0
    escalated: bool = False

    @property
    def count(self) -> int:
        """How often it was asked. The console asks for one reply and several searches (answers, clauses) per
        question, so replies count when there are any, else searches, else the 没用 marks."""
        return self.replies or self.searches or self.useless or 1


@dataclass
class Gap:
    id: str
    count: int
    examples: list[str]
    closest: dict[str, Any] | None
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "count": self.count, "examples": self.examples, "closest": self.closest,
                "reasons": self.reasons}


def question_vectors(embedder: Embedder, cache: EmbeddingCache, questions: Sequence[str]) -> np.ndarray:
    """Query vectors, cached by (embedder fingerprint + ':query', text hash): a query is not a passage."""
    fp = embedder.fingerprint_key + ":query"
    hashes = [EmbeddingCache.text_hash(q) for q in questions]
    known = cache.get_many(fp, list(dict.fromkeys(hashes)))
    missing = [(h, q) for h, q in dict(zip(hashes, questions)).items() if h not in known]
    if missing:
        vectors = embedder.embed_queries([q for _, q in missing])
        fresh = {h: v for (h, _), v in zip(missing, vectors)}
        cache.put_many(fp, fresh)
        known.update(fresh)
    if not questions:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([known[h] for h in hashes]).astype(np.float32)


def _asked(store: InteractionStore, kb: str, since: datetime | None, limit: int) -> dict[str, _Asked]:
    out: dict[str, _Asked] = {}
    for event in store.events(kb, kinds=("reply", "result"), since=since, limit=limit):
        a = out.setdefault(event.question, _Asked(event.question))
        if event.kind == "reply":
            a.replies += 1
            a.escalated = a.escalated or event.escalated
        else:
            a.searches += 1
    for row in store.feedback(kb, limit=limit, ratings=("useless",), since=since):
        out.setdefault(row.question, _Asked(row.question)).useless += 1
    return out


def _clusters(vectors: np.ndarray, distance: float) -> list[int]:
    if len(vectors) < 2:
        return [0] * len(vectors)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average")
    return [int(label) for label in model.fit_predict(vectors)]


def _gap_id(questions: list[str]) -> str:
    """Named by its lexically smallest question: stable while that question stays in the window."""
    return "g" + hashlib.sha1(min(questions).encode("utf-8")).hexdigest()[:10]


def find_gaps(store: InteractionStore, index: LoadedIndex, vectors_of: Callable[[Sequence[str]], np.ndarray], kb: str,
              since: datetime | None, min_cosine: float, distance: float, limit: int) -> list[Gap]:
    """Gaps of ``kb`` asked since ``since``, largest first (ties: the most recent first question's text order)."""
    asked = _asked(store, kb, since, limit)
    if not asked:
        return []
    questions = list(asked)
    vectors = vectors_of(questions)
    in_force = index.current_masks()[0]
    best: list[tuple[int, float] | None] = []
    for qv in vectors:
        hit = index.dense(qv, in_force, 1)
        best.append(hit[0] if hit else None)
    keep: list[int] = []
    reasons: dict[int, list[str]] = {}
    for i, q in enumerate(questions):
        a = asked[q]
        why = []
        if a.escalated:
            why.append("转办")
        if a.useless:
            why.append("没用")
        if a.searches and (best[i] is None or best[i][1] < min_cosine):
            why.append("无相近结果")
        if why:
            keep.append(i)
            reasons[i] = why
    if not keep:
        return []
    labels = _clusters(vectors[keep], distance)
    groups: dict[int, list[int]] = {}
    for i, label in zip(keep, labels):
        groups.setdefault(label, []).append(i)
    gaps = []
    for members in groups.values():
        members.sort(key=lambda i: (-asked[questions[i]].count, questions[i]))
        centre = vectors[members].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        hit = index.dense(centre, in_force, 1)
        closest = None
        if hit:
            chunk = index.chunks[hit[0][0]]
            closest = {"id": chunk.doc_id, "title": chunk.title, "score": round(float(hit[0][1]), 4)}
        why = sorted({r for i in members for r in reasons[i]}, key=["转办", "没用", "无相近结果"].index)
        gaps.append(Gap(_gap_id([questions[i] for i in members]), sum(asked[questions[i]].count for i in members),
                        [questions[i] for i in members[:MAX_EXAMPLES]], closest, why))
    gaps.sort(key=lambda g: (-g.count, g.examples[0]))
    return gaps


def draft_answer(gap: Gap, closest: dict[str, Any] | None, kb: str) -> dict[str, Any]:
    """A standard answer prefilled from the gap: its most asked question, the others as variants, and the
    closest record's topics and text as the starting point the manager rewrites."""
    closest = closest or {}
    questions = list(gap.examples)
    variants = questions[1:4]
    if len(variants) < 2 and closest.get("question"):
        variants.append(str(closest["question"]))
    prefix = str(closest.get("id", "")).split("-", 1)[0] if closest.get("id") else kb[:8]
    answer = str(closest.get("answer") or closest.get("text") or "")
    record: dict[str, Any] = {"id": f"{prefix}-ans-gap-{gap.id[1:]}", "question": questions[0], "variants": variants,
                              "answer": answer, "topics": list(closest.get("topics") or [])}
    if closest.get("policy_refs"):
        record["policy_refs"] = closest["policy_refs"]
    return record
