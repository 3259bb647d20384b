"""热点问题: groups of similar tickets, found by TF-IDF over jieba words and DBSCAN on cosine distance.

DBSCAN needs no number of clusters and leaves one-off tickets as noise, which is what
a hot-issue list wants; it works on the sparse matrix, so a month of a busy hotline
does not need an n×n dense matrix the way agglomerative clustering does. A group is
"new" (新增热点) when the same kind of ticket was much rarer in the trailing periods.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.feature_extraction.text import TfidfVectorizer

from kb.places import DISTRICTS
from reports.columns import Ticket

# Call-centre boilerplate shared by every ticket would make all tickets look alike.
_BOILERPLATE = re.compile(r"来电人|市民|居民|来电|反映|咨询|询问|诉求|表示|希望|尽快|怎么|什么|哪里|哪个|多少|时候|能不能|"
                          r"可以|需要|是否|[0-9０-９]+|[A-Za-z]+")


@dataclass(frozen=True)
class HotspotConfig:
    distance_threshold: float = 0.55
    min_count: int = 3
    top: int = 10
    new_ratio: float = 2.0
    new_min: int = 5
    trailing_periods: int = 3
    direct_limit: int = 5000

    @classmethod
    def from_dict(cls, data: dict) -> HotspotConfig:
        return cls(**data)


# Where a ticket comes from is reported per group; as words, district names would group tickets by place, not issue.
_PLACES = re.compile("|".join(sorted([*DISTRICTS, *(d[:-1] for d in DISTRICTS)], key=len, reverse=True)))


def _prepare(text: str) -> str:
    return _BOILERPLATE.sub(" ", _PLACES.sub(" ", text))


def find_hotspots(
    tickets: list[Ticket], trailing: list[list[Ticket]], cfg: HotspotConfig,
    subtopic_of: Callable[[Ticket], str | None], label: Callable[[str], str],
    tokens: Callable[[str], list[str]],
) -> list[dict]:
    """The largest groups of similar tickets, each with a representative masked ticket.

    ``trailing`` holds the tickets of each earlier period the data covers (most recent
    first); an empty list means the data has no history and 新增 is left null.
    """
    if len(tickets) < cfg.min_count:
        return []
    memo: dict[str, list[str]] = {}

    def words(text: str) -> list[str]:
        """Tokenising dominates the cost on big periods; identical texts (repeat callers, copied templates) are common."""
        if text not in memo:
            memo[text] = [w for w in tokens(_prepare(text)) if len(w) > 1]  # single characters (要, 了, 办) join unrelated tickets
        return memo[text]

    # No max_df: on a day report the spike itself is the majority, and pruning frequent words would erase it.
    vectorizer = TfidfVectorizer(analyzer=words, min_df=2, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([t.masked_content for t in tickets])  # keywords are shown: no names in the vocabulary
    except ValueError:  # every n-gram pruned: too few or too uniform tickets
        return []
    # A ticket left with one shared word (申请) after pruning is "similar" to every other such ticket: keep it out.
    informative = np.flatnonzero(np.diff(matrix.indptr) >= 2)
    labels = np.full(len(tickets), -1)
    # DBSCAN compares every pair: beyond a few thousand tickets (a year of reports) cluster within each
    # subtopic instead, since similar tickets share their subtopic anyway.
    if len(informative) > cfg.direct_limit:
        parts: dict[str, list[int]] = {}
        for i in informative:
            parts.setdefault(subtopic_of(tickets[i]) or "", []).append(int(i))
        blocks = [np.array(v) for _, v in sorted(parts.items())]
    else:
        blocks = [informative]
    offset = 0
    for block in blocks:
        if len(block) < cfg.min_count:
            continue
        found = DBSCAN(eps=cfg.distance_threshold, min_samples=cfg.min_count, metric="cosine",
                       algorithm="brute").fit_predict(matrix[block])
        labels[block] = np.where(found >= 0, found + offset, -1)
        offset += int(found.max()) + 1 if found.max() >= 0 else 0
    groups = [np.flatnonzero(labels == k) for k in sorted(set(labels) - {-1})]
    groups = sorted((g for g in groups if len(g) >= cfg.min_count), key=lambda g: (-len(g), g[0]))[: cfg.top]
    terms = np.array(vectorizer.get_feature_names_out())
    history = [vectorizer.transform([t.masked_content for t in p]) if p else None for p in trailing]
    out = []
    for members in groups:
        centroid = np.asarray(matrix[members].mean(axis=0)).ravel()
        norm = np.linalg.norm(centroid) or 1.0
        sims = matrix[members] @ (centroid / norm)
        rep = tickets[members[int(np.argmax(sims))]]
        radius = float(np.quantile(sims, 0.1)) if len(sims) else 1.0
        past = [int(np.sum(h @ (centroid / norm) >= radius)) if h is not None else 0 for h in history]
        avg = sum(past) / len(past) if past else None
        is_new = None if avg is None else bool(len(members) >= cfg.new_min and len(members) >= cfg.new_ratio * max(avg, 1.0))
        subtopics = Counter(s for s in (subtopic_of(tickets[i]) for i in members) if s)
        main_sub = subtopics.most_common(1)[0][0] if subtopics else None
        districts = Counter(tickets[i].district for i in members)
        streets = Counter(f"{tickets[i].district}{tickets[i].street}" for i in members if tickets[i].street)
        out.append({
            "count": len(members),
            "keywords": [str(w).strip() for w in terms[np.argsort(-centroid)[:5]]],
            "subtopic": main_sub,
            "subtopic_name": label(main_sub) if main_sub else None,
            "districts": dict(districts.most_common()),
            "top_street": streets.most_common(1)[0][0] if streets else None,
            "types": dict(Counter(tickets[i].type for i in members).most_common()),
            "example": rep.masked_content,
            "example_id": rep.ticket_id,
            "ticket_ids": [tickets[i].ticket_id for i in members],
            "trailing_average": avg,
            "is_new": is_new,
        })
    return out
