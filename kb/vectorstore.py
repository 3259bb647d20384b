"""Chroma behind a narrow interface: ids, vectors, nearest neighbours.

Chroma stores each document several times and keeps a full-text index of it;
our own chunk store already holds text and metadata, so Chroma gets only ids and
vectors. Telemetry is off and no embedding function is ever attached, because
Chroma's default one downloads a model and fails offline.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import urlparse

import numpy as np

from kb.settings import Settings

_clients: dict[str, object] = {}
_lock = threading.Lock()
_owned: dict[str, object] = {}  # embedded store path → the open lock file this process holds
OWNER_LOCK = ".owner.lock"


def chroma_client(settings: Settings):  # -> chromadb.api.ClientAPI
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    key = settings.chroma_url or str(settings.data_dir / "chroma")
    with _lock:
        if key not in _clients:
            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                _clients[key] = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                (settings.data_dir / "chroma").mkdir(parents=True, exist_ok=True)
                _clients[key] = chromadb.PersistentClient(path=key, settings=chroma_settings)
        return _clients[key]


class VectorCollection:
    """One Chroma collection per index version; row ids are the vector's row number."""

    def __init__(self, client, name: str, search_ef: int = 200, max_neighbors: int = 16,
                 ef_construction: int = 200) -> None:
        self.client = client
        self.name = name
        self.search_ef = search_ef
        self.max_neighbors = max_neighbors
        self.ef_construction = ef_construction
        self._collection = None
        self._size: int | None = None

    @classmethod
    def for_settings(cls, client, name: str, settings: Settings) -> VectorCollection:
        """A collection with the HNSW settings of ``settings`` (chosen by eval/bench_scale.py)."""
        return cls(client, name, settings.hnsw_search_ef, settings.hnsw_m, settings.hnsw_ef_construction)

    @property
    def collection(self):
        if self._collection is None:
            self._collection = self.client.get_collection(self.name, embedding_function=None)
        return self._collection

    def create(self, vectors: np.ndarray, batch: int = 2000) -> None:
        self.drop()
        col = self.client.create_collection(
            self.name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "ef_search": self.search_ef, "max_neighbors": self.max_neighbors,
                                    "ef_construction": self.ef_construction}},
        )
        limit = min(batch, int(getattr(self.client, "get_max_batch_size", lambda: batch)()))
        for start in range(0, len(vectors), limit):
            part = vectors[start : start + limit]
            col.add(ids=[f"r{i}" for i in range(start, start + len(part))], embeddings=part)
        self._collection = col
        self._size = len(vectors)

    def count(self) -> int:
        if self._size is None:
            self._size = int(self.collection.count())
        return self._size

    def query(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(row, cosine similarity), best first."""
        n = max(1, min(n, self.count()))
        res = self.collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(int(i[1:]), 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception:  # noqa: BLE001 - Chroma raises different types for "not found" per mode
            pass
        self._collection = None
        self._size = None


# ---- one process owns an embedded store ---------------------------------------------------------
# Embedded Chroma is not safe for two processes at once. The running service owns the store
# (an exclusive flock held for its lifetime); other processes on the same data directory (``kb
# ingest``, ``kb records``, ``kb search``) never open it: they read vectors from the version files
# (exact search) and hand every publish to the service, which re-indexes from the shared store of
# record (``Publisher`` waits for it). With ``KB_CHROMA_URL`` the server is the owner and all share it.


def _store_path(settings: Settings) -> str:
    return str(settings.data_dir / "chroma")


def claim_embedded_store(settings: Settings) -> None:
    """Called by the service at start-up; a second service on the same data directory is refused."""
    import fcntl

    from kb.errors import Conflict

    if settings.chroma_url:
        return
    key = _store_path(settings)
    with _lock:
        if key in _owned:
            return
        (settings.data_dir / "chroma").mkdir(parents=True, exist_ok=True)
        fh = open(settings.data_dir / "chroma" / OWNER_LOCK, "a+")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise Conflict(f"数据目录 {settings.data_dir} 的向量库已被另一个服务进程使用；第二个服务实例请使用独立的 "
                           "KB_DATA_DIR（共用 KB_DATABASE_URL 记录库），或共用 KB_CHROMA_URL 向量服务") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        _owned[key] = fh


def release_embedded_store(settings: Settings) -> None:
    with _lock:
        fh = _owned.pop(_store_path(settings), None)
    if fh is not None:
        fh.close()


def owned_elsewhere(settings: Settings) -> bool:
    """True when another process (the running service) owns this data directory's embedded store."""
    import fcntl

    if settings.chroma_url or _store_path(settings) in _owned:
        return False
    path = settings.data_dir / "chroma" / OWNER_LOCK
    if not path.exists():
        return False
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


class LazyClient:
    """A Chroma client opened on first use: importing chromadb costs about a second of start-up, and a
    service whose indexes are small enough for exact search never needs it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __getattr__(self, name: str):
        return getattr(chroma_client(self._settings), name)


def reader_client(settings: Settings):
    """The client a reader uses, or None (exact search from the version files) when the service owns the store."""
    return None if owned_elsewhere(settings) else LazyClient(settings)
