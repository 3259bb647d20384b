"""Hybrid retrieval: dense vectors plus BM25 over jieba tokens, fused, filtered, deduplicated.

The order of work matters for latency: one query embedding (~15 ms) is the floor,
so everything else is array work over precomputed masks. Filters are applied to
both candidate lists in Python rather than as Chroma ``where`` clauses (a
``where`` on a large collection costs tens of milliseconds); ``LoadedIndex.dense``
switches to exact search when a filter is too selective for approximate neighbours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from kb.embedding import Embedder
from kb.errors import InvalidQuery
from kb.fusion import minmax_weighted, rrf
from kb.index import LoadedIndex
from kb.places import canonical_district
from kb.records import LIBRARIES, Hit
from kb.settings import Settings
from kb.snippets import make_snippet
from kb.synonyms import SynonymTable
from kb.taxonomy import Taxonomy
from kb.textnorm import normalize
from kb.tokenize import ChineseTokenizer

Mode = Literal["hybrid", "dense", "bm25"]


@dataclass
class SearchRequest:
    query: str
    top_k: int = 5
    libraries: list[str] | None = None
    topics: list[str] | None = None
    district: str | None = None
    include_repealed: bool = False
    include_pending: bool = False
    mode: Mode = "hybrid"
    use_synonyms: bool | None = None
    dedupe: bool = True
    snippets: bool = True  # off for measurements (the gold check) that read only the ranking


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    took_ms: float
    expansions: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    query_vector: np.ndarray | None = None


def diversify(hits: list[Hit], top_k: int, cap_share: float, window: int = 5) -> list[Hit]:
    """Re-rank so that no ``window`` consecutive results hold more than ``cap_share`` of one library.

    An agent needs the standard answer, the clause it rests on and the office side
    by side; without a cap, five near-identical standard answers crowd out the policy.
    Within that constraint the fused order is kept.
    """
    if cap_share >= 1.0:
        return hits[:top_k]
    cap = max(1, int(round(window * cap_share)))
    remaining = list(hits)
    chosen: list[Hit] = []
    while remaining and len(chosen) < top_k:
        recent = [h.chunk.library for h in chosen[-(window - 1):]]
        pick = next((h for h in remaining if recent.count(h.chunk.library) < cap), remaining[0])
        chosen.append(pick)
        remaining.remove(pick)
    return chosen


class Searcher:
    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        tokenizer: ChineseTokenizer,
        synonyms: SynonymTable,
        taxonomy: Taxonomy,
        settings: Settings,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.synonyms = synonyms
        self.taxonomy = taxonomy
        self.settings = settings

    def validate(self, req: SearchRequest) -> None:
        if not req.query or not req.query.strip():
            raise InvalidQuery("查询内容不能为空，请输入来电人的问题")
        if len(req.query) > self.settings.max_query_chars:
            raise InvalidQuery(
                f"查询内容过长（{len(req.query)} 字），上限为 {self.settings.max_query_chars} 字，请概括后再查"
            )
        if not 1 <= req.top_k <= self.settings.max_top_k:
            raise InvalidQuery(f"top_k 应在 1 到 {self.settings.max_top_k} 之间，实际为 {req.top_k}")
        for lib in req.libraries or []:
            if lib not in LIBRARIES:
                raise InvalidQuery(f"未知的库“{lib}”，可选：{'、'.join(LIBRARIES)}")
        for code in req.topics or []:
            if not self.taxonomy.expand(code):
                raise InvalidQuery(f"未知的主题代码“{code}”，请使用 taxonomy.yaml 中的主题或子主题代码")

    def allowed_mask(self, req: SearchRequest) -> np.ndarray:
        idx = self.index
        mask = np.ones(idx.size, dtype=bool)
        if req.libraries:
            lib_mask = np.zeros(idx.size, dtype=bool)
            for lib in req.libraries:
                lib_mask |= idx.by_library.get(lib, False)
            mask &= lib_mask
        if req.topics:
            topic_mask = np.zeros(idx.size, dtype=bool)
            for code in req.topics:
                for sub in self.taxonomy.expand(code):
                    topic_mask |= idx.by_topic.get(sub, False)
            mask &= topic_mask
        district = canonical_district(req.district)
        if district:
            mask &= idx.citywide | idx.by_district.get(district, np.zeros(idx.size, dtype=bool))
        current, pending = idx.current_masks()
        if not req.include_repealed:
            mask &= current | pending
        if not req.include_pending:
            mask &= ~pending
        return mask

    def search(self, req: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        self.validate(req)
        query = req.query.strip()
        expansions, expanded = self.expanded(req)
        tokens = self.tokenizer.tokens(expanded)
        mask = self.allowed_mask(req)
        n_cand = max(self.settings.candidates, req.top_k * 4)

        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        qv = None
        if mask.any():
            # Embedding and BM25 one after the other: the model already uses both cores, and BM25 run beside
            # it in this thread made searches slower (same run, sample, 200 questions: p50 17.4 vs 16.5 ms,
            # p95 25.7 vs 22.2 ms).
            if req.mode in ("hybrid", "dense"):
                qv = self.embedder.embed_query(expanded)
                dense = self._dense(qv, mask, n_cand)
            if req.mode in ("hybrid", "bm25") and tokens:
                lexical = self._bm25(tokens, mask, n_cand)

        fused = self._fuse(dense, lexical)
        dense_rank = {c: r for r, (c, _) in enumerate(dense, start=1)}
        bm25_rank = {c: r for r, (c, _) in enumerate(lexical, start=1)}
        hits: list[Hit] = []
        seen_docs: set[str] = set()
        for chunk_i, score in fused:
            chunk = self.index.chunks[chunk_i]
            if req.dedupe and chunk.doc_id in seen_docs:
                continue
            seen_docs.add(chunk.doc_id)
            hits.append(Hit(chunk, score, "", dense_rank.get(chunk_i), bm25_rank.get(chunk_i), self.index.status_of(chunk_i)))
            if len(hits) >= req.top_k * 3:
                break
        hits = diversify(hits, req.top_k, self.settings.library_cap if not req.libraries else 1.0)
        for hit in hits if req.snippets else []:
            hit.snippet = make_snippet(hit.chunk.text, tokens)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query, hits, took, expansions, tokens, qv)

    def expanded(self, req: SearchRequest) -> tuple[list[str], str]:
        """The synonym expansions of the query and the text both sides search with (and the dense side embeds):
        the query followed by its expansions (低保 → 最低生活保障)."""
        query = req.query.strip()
        use_syn = self.settings.use_synonyms if req.use_synonyms is None else req.use_synonyms
        expansions = self.synonyms.expansions(normalize(query)) if use_syn else []
        return expansions, " ".join([query, *expansions])

    def _fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> list[tuple[int, float]]:
        s = self.settings
        if not dense or not lexical:
            return dense or lexical
        if s.fusion == "weighted":
            return minmax_weighted([dense, lexical], [s.dense_weight, s.bm25_weight])
        return rrf([[c for c, _ in dense], [c for c, _ in lexical]], k=s.rrf_k, weights=[s.dense_weight, s.bm25_weight])

    def _dense(self, qv: np.ndarray, mask: np.ndarray, n: int) -> list[tuple[int, float]]:
        return self.index.dense(qv, mask, n)

    def _bm25(self, tokens: list[str], mask: np.ndarray, n: int) -> list[tuple[int, float]]:
        scores = self.index.bm25_scores(tokens)
        scores = np.where(mask, scores, 0.0)
        positive = int((scores > 0).sum())
        if positive == 0:
            return []
        k = min(n, positive)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top]
