"""Chinese tokenisation for BM25 and highlighting.

jieba's module-level tokenizer is global and slow to initialise, and bm25s's own
splitter treats an unsegmented Chinese sentence as one token. We own one
``jieba.Tokenizer`` per process, load the domain dictionary into it, and use
search-mode segmentation (高龄津贴 → 高龄, 津贴, 高龄津贴) on both documents and
queries so that a long domain word still matches its parts.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path

import jieba

from kb.textnorm import normalize

_RECENT = 1024
_RECENT_CHARS = 300
_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")
_lock = threading.Lock()
_instances: dict[tuple[str, str], ChineseTokenizer] = {}


class ChineseTokenizer:
    def __init__(self, userdict: Path | None, stopwords: Path | None, cache_dir: Path) -> None:
        logging.getLogger("jieba").setLevel(logging.WARNING)
        jieba.setLogLevel(logging.WARNING)
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._jieba = jieba.Tokenizer()
        self._jieba.tmp_dir = str(cache_dir)
        self._jieba.cache_file = "jieba.kb.cache"
        self._jieba.initialize()
        if userdict and userdict.exists():
            self._jieba.load_userdict(str(userdict))
        self._recent: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.stopwords: frozenset[str] = frozenset(
            line.strip()
            for line in (stopwords.read_text(encoding="utf-8").splitlines() if stopwords and stopwords.exists() else [])
            if line.strip() and not line.startswith("#")
        )

    def add_word(self, word: str) -> None:
        self._jieba.add_word(word, freq=20000)
        with self._recent_lock:
            self._recent.clear()

    def words(self, text: str) -> list[str]:
        """Precise-mode words of normalised text, punctuation and spaces dropped (for highlighting)."""
        return [w for w in self._jieba.lcut(normalize(text)) if _WORDLIKE.search(w)]

    def tokens(self, text: str) -> list[str]:
        """Search-mode tokens for BM25: normalised, stop words and punctuation removed.

        A question is tokenised by the search, the answer gates and the ticket model in one request; short
        texts are remembered (``_RECENT``) so that it is segmented once."""
        if len(text) > _RECENT_CHARS:
            return self._tokens(text)
        with self._recent_lock:
            found = self._recent.get(text)
            if found is not None:
                self._recent.move_to_end(text)
                return list(found)
        out = self._tokens(text)
        with self._recent_lock:
            self._recent[text] = tuple(out)
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return out

    def _tokens(self, text: str) -> list[str]:
        out = []
        for tok in self._jieba.lcut_for_search(normalize(text)):
            tok = tok.strip()
            if tok and _WORDLIKE.search(tok) and tok not in self.stopwords:
                out.append(tok)
        return out


def get_tokenizer(corpus_dir: Path, cache_dir: Path) -> ChineseTokenizer:
    """One tokenizer per (dictionary folder) in the process: initialising jieba costs ~0.6 s."""
    key = (str(corpus_dir), str(cache_dir))
    with _lock:
        if key not in _instances:
            _instances[key] = ChineseTokenizer(
                corpus_dir / "userdict.txt", corpus_dir / "stopwords.txt", cache_dir
            )
        return _instances[key]
