"""Chroma behind a narrow interface: ids, vectors, nearest neighbours.

Chroma stores each document several times and keeps a full-text index of it;
our own chunk store already holds text and metadata, so Chroma gets only ids and
vectors. Telemetry is off and no embedding function is ever attached, because
Chroma's default one downloads a model and fails offline.
"""

from __future__ import annotations

import threading
from urllib.parse import urlparse

import numpy as np

from kb.settings import Settings

_clients: dict[str, object] = {}
_lock = threading.Lock()


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

    def __init__(self, client, name: str, search_ef: int = 200) -> None:
        self.client = client
        self.name = name
        self.search_ef = search_ef
        self._collection = None
        self._size: int | None = None

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
            configuration={"hnsw": {"space": "cosine", "ef_search": self.search_ef, "ef_construction": 200}},
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
