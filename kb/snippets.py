"""Snippets with the matched terms marked, so an agent sees at a glance why a result came up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from kb.textnorm import normalize

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")


def _terms(tokens: Iterable[str]) -> list[str]:
    seen = {t for t in tokens if len(t) >= 2 or re.match(r"[\u4e00-\u9fff]", t)}
    return sorted(seen, key=len, reverse=True)


@lru_cache(maxsize=8192)
def _normalized(sentence: str) -> str:
    """normalize() per sentence (繁→简 through opencc is ~0.1 ms a sentence); the same hits' sentences recur."""
    return normalize(sentence)


def make_snippet(text: str, tokens: Iterable[str], width: int = 160) -> str:
    """The window of ``text`` that covers the most query terms, terms wrapped in <mark>."""
    terms = [t for t in _terms(tokens) if len(t) >= 2]
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()] or [text]
    best_i, best_score = 0, -1
    for i, sentence in enumerate(sentences):
        norm = _normalized(sentence)
        score = sum(len(t) for t in terms if t in norm)
        if score > best_score:
            best_i, best_score = i, score
    snippet = sentences[best_i].strip()
    j = best_i + 1
    while len(snippet) < width and j < len(sentences):
        snippet += sentences[j].strip()
        j += 1
    if len(snippet) > width:
        snippet = snippet[:width] + "…"
    if best_i > 0:
        snippet = "…" + snippet
    return mark_terms(snippet, terms)


def mark_terms(text: str, terms: list[str]) -> str:
    if not terms:
        return text
    pattern = re.compile("|".join(re.escape(t) for t in terms if t), flags=re.IGNORECASE)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", text)
