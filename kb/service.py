"""The knowledge service: one loaded index per knowledge base, shared by all requests.

Models and indexes are loaded once (at service start) and reused; a new index
version written by ``kb ingest`` is picked up on the next request after it
appears, without a restart, because CURRENT is checked at most once a second.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from kb.contacts import ContactDirectory
from kb.embedding import Embedder, get_embedder
from kb.errors import UnknownKB
from kb.index import IndexLayout, LoadedIndex, open_index
from kb.search import Searcher, SearchRequest, SearchResult
from kb.settings import Settings
from kb.synonyms import SynonymTable
from kb.taxonomy import Taxonomy, cached_taxonomy
from kb.tokenize import ChineseTokenizer, get_tokenizer
from kb.vectorstore import reader_client

RECHECK_SECONDS = 1.0
log = logging.getLogger("kb.service")


@dataclass
class _Loaded:
    searcher: Searcher
    contacts: ContactDirectory
    checked: float


def known_kbs(settings: Settings) -> list[str]:
    """Configured knowledge bases plus any with a live index in the data directory."""
    root = settings.data_dir / "kbs"
    found = {p.name for p in root.iterdir() if (p / "CURRENT").exists()} if root.exists() else set()
    return sorted(found | set(settings.kbs))


class KnowledgeService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.taxonomy: Taxonomy = cached_taxonomy(settings.taxonomy_path)
        self.embedder: Embedder = get_embedder(settings)
        self.tokenizer: ChineseTokenizer = get_tokenizer(settings.corpus_dir, settings.data_dir / "cache")
        self.synonyms = SynonymTable.load(settings.corpus_dir / "synonyms.tsv")
        self.client = reader_client(settings)  # None while a running service owns the embedded store
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        # kb → (version that failed to load, Chinese explanation) while an older version keeps serving
        self.load_errors: dict[str, tuple[str, str]] = {}

    def known_kbs(self) -> list[str]:
        return known_kbs(self.settings)

    def _load(self, kb: str) -> _Loaded:
        index = open_index(IndexLayout(self.settings.data_dir, kb), self.embedder, self.client, self.settings.hnsw_search_ef,
                           self.settings.today)
        searcher = Searcher(index, self.embedder, self.tokenizer, self.synonyms, self.taxonomy, self.settings)
        return _Loaded(searcher, ContactDirectory(index.chunks, self.taxonomy), time.monotonic())

    def _get(self, kb: str) -> _Loaded:
        if not kb or "/" in kb or kb.startswith("."):
            raise UnknownKB(f"未知的知识库“{kb}”")
        now = time.monotonic()
        loaded = self._loaded.get(kb)
        if loaded is not None and now - loaded.checked < RECHECK_SECONDS:
            return loaded
        with self._lock:
            loaded = self._loaded.get(kb)
            if loaded is not None:
                live = IndexLayout(self.settings.data_dir, kb).current()
                if live == loaded.searcher.index.vid or live is None or live == self.load_errors.get(kb, ("",))[0]:
                    loaded.checked = now
                    return loaded
                try:
                    self._loaded[kb] = self._load(kb)
                except Exception as exc:  # noqa: BLE001 - a bad new version must not take down the one serving
                    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {str(exc)[:200]}"
                    self.load_errors[kb] = (live, f"新索引版本 {live} 无法加载（{message}），继续使用版本 "
                                                  f"{loaded.searcher.index.vid}")
                    log.error("%s", self.load_errors[kb][1])
                    loaded.checked = now
                    return loaded
                self.load_errors.pop(kb, None)
                return self._loaded[kb]
            self._loaded[kb] = self._load(kb)
            return self._loaded[kb]

    def invalidate(self, kb: str) -> None:
        """Check CURRENT on the next request: a write in this process has just switched the index."""
        loaded = self._loaded.get(kb)
        if loaded is not None:
            loaded.checked = float("-inf")

    def warm(self) -> dict[str, str]:
        """Load every configured knowledge base; returns kb → error text for those that failed."""
        errors = {kb: error for kb in self.known_kbs() if (error := self.warm_one(kb))}
        self.tokenizer.tokens("预热")
        self.embedder.embed_query("预热")
        return errors

    def warm_one(self, kb: str) -> str:
        """Load one knowledge base's index; the Chinese error text if it failed, else ''."""
        try:
            self._get(kb)
        except Exception as exc:  # noqa: BLE001 - reported by /healthz, not fatal at start-up
            return getattr(exc, "message", str(exc))
        return ""

    def snapshot(self, kb: str) -> _Loaded:
        """One index version with its searcher and contacts: a request that holds it sees that version
        from start to end even if ``kb ingest`` switches CURRENT meanwhile."""
        return self._get(kb)

    def searcher(self, kb: str) -> Searcher:
        return self._get(kb).searcher

    def index(self, kb: str) -> LoadedIndex:
        return self._get(kb).searcher.index

    def search(self, kb: str, request: SearchRequest) -> SearchResult:
        return self._get(kb).searcher.search(request)

    def contacts(self, kb: str) -> ContactDirectory:
        return self._get(kb).contacts
