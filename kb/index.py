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

import bm25s
import numpy as np

from kb.embedding import Embedder
from kb.errors import EmbedderMismatch, IndexNotReady, UnknownKB
from kb.lifecycle import PENDING, beijing_today, status_on
from kb.records import Chunk
from kb.vectorstore import VectorCollection

CHUNKER_VERSION = "zh-article-v1"
KEEP_VERSIONS = 2


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
        return time.strftime("v%Y%m%d%H%M%S", time.gmtime()) + f"{time.time_ns() % 1_000_000:06d}"

    def activate(self, vid: str) -> None:
        tmp = self.root / f".CURRENT.{os.getpid()}"
        tmp.write_text(vid, encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.current_file)

    def stale_versions(self) -> list[str]:
        """Versions older than the newest KEEP_VERSIONS, never the live one."""
        if not self.versions.exists():
            return []
        live = self.current()
        all_versions = sorted(p.name for p in self.versions.iterdir() if p.is_dir())
        keep = set(all_versions[-KEEP_VERSIONS:]) | {live}
        return [v for v in all_versions if v not in keep]


def collection_name(kb: str, vid: str) -> str:
    return f"kb-{kb}-{vid}"


def read_manifest(layout: IndexLayout, vid: str) -> dict[str, Any]:
    return json.loads((layout.version_dir(vid) / "manifest.json").read_text(encoding="utf-8"))


def check_embedder(manifest: dict[str, Any], embedder: Embedder, kb: str) -> None:
    built = manifest.get("embedder", {})
    if built != embedder.fingerprint:
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
    ) -> None:
        self.path.mkdir(parents=True, exist_ok=False)
        with open(self.path / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        np.save(self.path / "vectors.npy", vectors.astype(np.float32))
        np.save(self.path / "rows.npy", rows.astype(np.int32))
        retriever = bm25s.BM25()
        retriever.index([toks or [""] for toks in token_lists], show_progress=False)
        retriever.save(str(self.path / "bm25"), show_progress=False)
        collection.create(vectors)
        (self.path / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
        )

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class LoadedIndex:
    """A live version in memory: chunks, BM25, vectors (memory-mapped) and its Chroma collection."""

    def __init__(self, layout: IndexLayout, vid: str, manifest: dict[str, Any], client, search_ef: int,
                 today: dt.date | None = None) -> None:
        path = layout.version_dir(vid)
        self.fixed_today = today
        self._current_masks: tuple[dt.date, np.ndarray, np.ndarray] | None = None
        self.kb = layout.kb
        self.vid = vid
        self.manifest = manifest
        with open(path / "chunks.jsonl", encoding="utf-8") as fh:
            self.chunks = [Chunk.from_json(json.loads(line)) for line in fh]
        self.vectors = np.load(path / "vectors.npy", mmap_mode="r")
        self.rows = np.load(path / "rows.npy")
        self.bm25 = bm25s.BM25.load(str(path / "bm25"), show_progress=False)
        self.collection = VectorCollection(client, manifest["collection"], search_ef)
        self._build_masks()

    def _build_masks(self) -> None:
        n = len(self.chunks)
        self.by_library: dict[str, np.ndarray] = {}
        self.by_topic: dict[str, np.ndarray] = {}
        self.by_district: dict[str, np.ndarray] = {}
        self.position: dict[str, int] = {c.id: i for i, c in enumerate(self.chunks)}
        self.citywide = np.zeros(n, dtype=bool)
        self.in_force = np.zeros(n, dtype=bool)
        for i, c in enumerate(self.chunks):
            self.by_library.setdefault(c.library, np.zeros(n, dtype=bool))[i] = True
            for t in c.topics:
                self.by_topic.setdefault(t, np.zeros(n, dtype=bool))[i] = True
            for d in c.districts:
                self.by_district.setdefault(d, np.zeros(n, dtype=bool))[i] = True
            self.citywide[i] = not c.districts
            self.in_force[i] = c.in_force

    def status_of(self, i: int) -> str:
        c = self.chunks[i]
        return status_on(c.status, c.effective, str(c.extra.get("expires", "")), beijing_today(self.fixed_today))

    def current_masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(in force today, not yet effective today), recomputed when the Beijing date changes."""
        today = beijing_today(self.fixed_today)
        if self._current_masks is None or self._current_masks[0] != today:
            statuses = [self.status_of(i) for i in range(len(self.chunks))]
            current = np.array([s not in ("已修订", "已废止", PENDING) for s in statuses], dtype=bool)
            pending = np.array([s == PENDING for s in statuses], dtype=bool)
            self._current_masks = (today, current, pending)
        return self._current_masks[1], self._current_masks[2]

    def is_current(self, i: int) -> bool:
        return bool(self.current_masks()[0][i])

    @property
    def size(self) -> int:
        return len(self.chunks)


def open_index(layout: IndexLayout, embedder: Embedder, client, search_ef: int, today: dt.date | None = None) -> LoadedIndex:
    if not layout.root.exists():
        raise UnknownKB(f"知识库“{layout.kb}”不存在，请先执行 `kb ingest --kb {layout.kb} <目录>` 建立索引")
    vid = layout.current()
    if vid is None:
        raise IndexNotReady(f"知识库“{layout.kb}”尚无可用索引，请先执行 `kb ingest --kb {layout.kb}`")
    manifest = read_manifest(layout, vid)
    check_embedder(manifest, embedder, layout.kb)
    return LoadedIndex(layout, vid, manifest, client, search_ef, today)
