"""One store per database URL per process: engines are pools, building one per call would leak connections."""

from __future__ import annotations

import threading

import kb.keys  # noqa: F401 - its tables join the store's metadata before create_all
from kb.settings import Settings
from kb.store import RecordStore, make_engine

_stores: dict[str, RecordStore] = {}
_lock = threading.Lock()


def open_store(settings: Settings) -> RecordStore:
    url = settings.store_url
    with _lock:
        store = _stores.get(url)
        if store is None:
            if url.startswith("sqlite:///"):
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            store = _stores[url] = RecordStore(make_engine(url))
        return store
