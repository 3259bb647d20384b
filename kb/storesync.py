"""Keep this instance's index in step with a store that other instances write to.

With ``KB_DATABASE_URL`` several service instances share one store; each keeps
its own index built from it. A background thread compares the store generation
with the one the live index reflects and re-indexes when it is behind; it also
catches up after a re-index that failed right after a write.
"""

from __future__ import annotations

import logging
import threading

from kb.errors import GuardRefused
from kb.index import IndexLayout
from kb.publish import Publisher, indexed_generation, record_refusal
from kb.settings import Settings
from kb.store import RecordStore
from kb.versions import pinned

log = logging.getLogger("kb.sync")


class StoreSync:
    def __init__(self, settings: Settings, store: RecordStore, publisher: Publisher) -> None:
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.settings.store_sync_seconds <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="kb-store-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def behind(self) -> list[str]:
        """Knowledge bases whose index reflects an older store state, except those an operator rolled back."""
        return [kb for kb in self.store.kbs() if indexed_generation(self.settings, kb) < self.store.generation(kb)
                and not pinned(IndexLayout(self.settings.data_dir, kb))]

    def _run(self) -> None:
        refused: dict[str, int] = {}  # kb → store generation the gold guard refused: not retried until it moves
        while not self._stop.wait(self.settings.store_sync_seconds):
            try:
                for kb in self.behind():
                    generation = self.store.generation(kb)
                    if refused.get(kb) == generation:
                        continue
                    try:
                        result = self.publisher.reindex_if_behind(kb)
                    except GuardRefused as exc:
                        refused[kb] = generation
                        record_refusal(IndexLayout(self.settings.data_dir, kb), generation, exc.message)
                        log.warning("store state %d of %s refused by the gold guard: %s", generation, kb, exc.message)
                        continue
                    if result is not None:
                        log.info("index of %s caught up with the store: version %s (generation %d)",
                                 kb, result.version, result.generation)
            except Exception:  # noqa: BLE001 - a failed catch-up is retried on the next tick
                log.exception("store sync failed; retrying")
