"""The pieces an index version is made of, so that a small edit does not rebuild a large index.

A *full* version is one segment: every chunk, its vectors in a Chroma collection and a
bm25s index. A *delta* version, written by a small edit, is its base's full segment with
the changed records' chunks hidden, plus a small segment holding only the new chunks:
searched exactly (a matrix product over a few hundred vectors) and scored for BM25 with
the base's corpus statistics, so its scores sit on the same scale as the base's. Writing
a delta costs what the edit costs, not what the knowledge base costs; the background
compaction in ``kb/publish.py`` folds deltas back into a new full version.

Loaded full segments are shared (``segment_cache``) between the service, the publisher's
gold check and the next delta, so switching to a delta does not reload 100k chunks.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.lifecycle import PENDING, status_on
from kb.loadcache import LoadCache
from kb.records import Chunk
from kb.vectorstore import VectorCollection

STATS_FILE = "bm25_stats.json"
K1, B = 1.5, 0.75  # bm25s defaults (method "lucene"), which the full segments are built with


@dataclass
class BM25Stats:
    """Corpus statistics of a full segment: what a chunk outside it needs to be scored alike."""

    n_docs: int
    avgdl: float
    df: dict[str, int]

    @classmethod
    def of(cls, token_lists: list[list[str]]) -> BM25Stats:
        df: Counter[str] = Counter()
        total = 0
        for toks in token_lists:
            toks = toks or [""]
            df.update(set(toks))
            total += len(toks)
        return cls(len(token_lists), total / max(1, len(token_lists)), dict(df))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"n_docs": self.n_docs, "avgdl": self.avgdl, "df": self.df}, ensure_ascii=False),
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> BM25Stats | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(data["n_docs"]), float(data["avgdl"]), dict(data["df"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


class SmallBM25:
    """Lucene BM25 (the formula bm25s uses) over a delta's chunks, with the idf a full rebuild would have:
    the base's document frequencies, minus the hidden chunks' (old versions of changed records), plus the delta's."""

    def __init__(self, token_lists: list[list[str]], base: BM25Stats, hidden: list[list[str]] | None = None) -> None:
        own = BM25Stats.of(token_lists)
        gone = BM25Stats.of(hidden or [])
        n = base.n_docs - gone.n_docs + own.n_docs
        self.n_docs = len(token_lists)
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        lists: dict[str, tuple[list[int], list[float]]] = {}
        for i, toks in enumerate(token_lists):
            toks = toks or [""]
            norm = K1 * ((1 - B) + B * len(toks) / base.avgdl)
            for tok, tf in Counter(toks).items():
                df = max(1, base.df.get(tok, 0) - gone.df.get(tok, 0) + own.df[tok])
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                docs, scores = lists.setdefault(tok, ([], []))
                docs.append(i)
                scores.append(idf * tf / (tf + norm))
        for tok, (docs, scores) in lists.items():
            self.postings[tok] = (np.asarray(docs, dtype=np.int32), np.asarray(scores, dtype=np.float32))

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        out = np.zeros(self.n_docs, dtype=np.float32)
        for tok in tokens:
            hit = self.postings.get(tok)
            if hit is not None:
                np.add.at(out, hit[0], hit[1])
        return out


class SavedBM25:
    """A full segment's BM25, read from the files ``bm25s.BM25.save`` wrote (eager lucene scores in CSC form).

    Scoring is bm25s's own (``get_scores``: per query token, add its column to the document scores, in
    float32 and in the same order, so the scores are bit-identical), without importing bm25s: its import
    pulls in numba and scipy, over a second of start-up that a search never needed.
    """

    def __init__(self, folder: Path) -> None:
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method", "lucene") != "lucene" or (folder / "nonoccurrence_array.index.npy").exists():
            raise ValueError(f"{folder}: 只支持 bm25s 的 lucene 方法（无未出现项分数）")
        self.n_docs = int(params["num_docs"])
        self.vocab: dict[str, int] = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        self.data = np.load(folder / "data.csc.index.npy")
        self.indices = np.load(folder / "indices.csc.index.npy")
        self.indptr = np.load(folder / "indptr.csc.index.npy")

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        out = np.zeros(self.n_docs, dtype=np.float32)
        for tok in tokens:
            t = self.vocab.get(tok)
            if t is not None:
                start, end = self.indptr[t], self.indptr[t + 1]
                out[self.indices[start:end]] += self.data[start:end]  # one column: each document at most once
        return out


@dataclass
class MaskPack:
    by_library: dict[str, np.ndarray]
    by_topic: dict[str, np.ndarray]
    by_district: dict[str, np.ndarray]
    citywide: np.ndarray
    in_force: np.ndarray


class Segment:
    """Chunks with their vectors (``rows`` maps a vector row to its chunk) and a lexical scorer.

    With a collection, nearest neighbours come from Chroma; without one (a delta) the
    segment is small enough to be searched exactly.
    """

    def __init__(self, vid: str, chunks: list[Chunk], vectors: np.ndarray, rows: np.ndarray, scorer,
                 collection: VectorCollection | None = None, stats: BM25Stats | None = None) -> None:
        self.vid = vid
        self.chunks = chunks
        self.vectors = vectors
        self.rows = rows
        self.scorer = scorer
        self.collection = collection
        self.stats = stats
        self._masks: MaskPack | None = None
        self._current: tuple[dt.date, np.ndarray, np.ndarray] | None = None

    def masks(self) -> MaskPack:
        """Library, topic and district masks over this segment's chunks: computed once, shared by every version."""
        if self._masks is None:
            n = len(self.chunks)
            pack = MaskPack({}, {}, {}, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
            for i, c in enumerate(self.chunks):
                pack.by_library.setdefault(c.library, np.zeros(n, dtype=bool))[i] = True
                for t in c.topics:
                    pack.by_topic.setdefault(t, np.zeros(n, dtype=bool))[i] = True
                for d in c.districts:
                    pack.by_district.setdefault(d, np.zeros(n, dtype=bool))[i] = True
                pack.citywide[i] = not c.districts
                pack.in_force[i] = c.in_force
            self._masks = pack
        return self._masks

    def current_masks(self, today: dt.date) -> tuple[np.ndarray, np.ndarray]:
        """(in force on ``today``, not yet effective on ``today``) over this segment's chunks."""
        if self._current is None or self._current[0] != today:
            statuses = [status_on(c.status, c.effective, str(c.extra.get("expires", "")), today) for c in self.chunks]
            current = np.array([s not in ("已修订", "已废止", PENDING) for s in statuses], dtype=bool)
            pending = np.array([s == PENDING for s in statuses], dtype=bool)
            self._current = (today, current, pending)
        return self._current[1], self._current[2]

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.scorer.get_scores(tokens), dtype=np.float32)

    def nearest(self, qv: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(vector row, cosine), best first: approximate through Chroma, exact without it."""
        if self.collection is not None:
            return self.collection.query(qv, n)
        if len(self.rows) == 0:
            return []
        sims = np.asarray(self.vectors) @ qv
        order = np.argsort(-sims, kind="stable")[:n]
        return [(int(r), float(sims[r])) for r in order]


def read_chunks(path: Path) -> list[Chunk]:
    with open(path / "chunks.jsonl", encoding="utf-8") as fh:
        return [Chunk.from_json(json.loads(line)) for line in fh]


def load_full_segment(path: Path, vid: str, collection: VectorCollection | None) -> Segment:
    stats = BM25Stats.load(path / STATS_FILE)
    return Segment(vid, read_chunks(path), np.load(path / "vectors.npy", mmap_mode="r"), np.load(path / "rows.npy"),
                   SavedBM25(path / "bm25"), collection, stats)


HIDDEN_FILE = "hidden_tokens.json"


def read_hidden_tokens(path: Path) -> dict[str, list[list[str]]]:
    """doc id → the tokens of each of its chunks in the base: what the delta subtracts from the base's statistics."""
    try:
        return json.loads((path / HIDDEN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_delta_segment(path: Path, vid: str, base_stats: BM25Stats, token_lists: list[list[str]]) -> Segment:
    chunks = read_chunks(path)
    hidden = [toks for lists in read_hidden_tokens(path).values() for toks in lists]
    return Segment(vid, chunks, np.load(path / "vectors.npy"), np.load(path / "rows.npy"),
                   SmallBM25(token_lists, base_stats, hidden))


segment_cache: LoadCache[Segment] = LoadCache(2)  # full segments by version directory
