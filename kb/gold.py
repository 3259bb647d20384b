"""A knowledge base that tests itself: its gold questions re-run on every publish.

``corpus/<kb>/gold.jsonl`` holds ``{"query", "relevant": [ids]}`` per line (document
ids). Each new index version is measured before it goes live (Recall@5 and
MRR@10); with ``KB_GUARD_RECALL_DROP`` set, a version that loses more than that
many points of Recall@5 is refused and the questions it broke are listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.search import Searcher, SearchRequest


@dataclass
class GoldItem:
    query: str
    relevant: list[str]


@dataclass
class GoldResult:
    recall_at_5: float
    mrr_at_10: float
    per_query: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"recall_at_5": round(self.recall_at_5, 4), "mrr_at_10": round(self.mrr_at_10, 4),
                "n": len(self.per_query), "per_query": self.per_query}


def load_gold(path: Path) -> list[GoldItem]:
    if not path.exists():
        return []
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            items.append(GoldItem(str(data["query"]), [str(x) for x in data["relevant"]]))
    return items


def evaluate(searcher: Searcher, items: list[GoldItem]) -> GoldResult:
    recalls, rrs, per = [], [], {}
    for item in items:
        docs = [h.chunk.doc_id for h in searcher.search(SearchRequest(item.query, top_k=10, snippets=False)).hits]
        relevant = set(item.relevant)
        r5 = len(relevant & set(docs[:5])) / len(relevant) if relevant else 0.0
        rr = next((1.0 / rank for rank, d in enumerate(docs[:10], start=1) if d in relevant), 0.0)
        recalls.append(r5)
        rrs.append(rr)
        per[item.query] = round(r5, 4)
    n = len(items) or 1
    return GoldResult(sum(recalls) / n, sum(rrs) / n, per)


def broken(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """Questions whose Recall@5 fell."""
    return [q for q, r in before.items() if q in after and after[q] < r]
