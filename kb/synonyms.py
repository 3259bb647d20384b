"""Colloquial ↔ official term expansion.

Callers say 吃低保, 老年卡, 扯证; documents say 最低生活保障, 养老助残卡, 结婚登记.
The list lives in ``corpus/synonyms.tsv`` so knowledge managers can edit it without
a developer. Expansion appends the official terms (and, for an official term, its
common colloquial names) to the query; it never removes the caller's own words.
"""

from __future__ import annotations

from pathlib import Path

from kb.textnorm import normalize


class SynonymTable:
    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self.pairs = pairs
        self._by_length = sorted({t for pair in pairs for t in pair}, key=lambda t: (-len(t), t))
        self._official: dict[str, list[str]] = {}
        for colloquial, official in pairs:
            self._official.setdefault(colloquial, []).append(official)

    @classmethod
    def load(cls, path: Path) -> SynonymTable:
        if not path.exists():
            return cls(())
        pairs: list[tuple[str, str]] = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("\t")]
            if lineno == 1 and parts[:2] == ["colloquial", "official"]:
                continue
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise ValueError(f"{path}:{lineno}: 同义词行应为“口语词<TAB>规范词”，实际为 {line!r}")
            pairs.append((normalize(parts[0]), normalize(parts[1])))
        # Longest colloquial term first so 老年卡丢了 matches 老年卡 before 老年.
        pairs.sort(key=lambda p: -len(p[0]))
        return cls(tuple(pairs))

    def expansions(self, normalized_query: str) -> list[str]:
        """Official terms for the colloquial terms found in the query, in a stable order.

        Longer terms claim their characters first, so 护理补贴 inside 失能护理补贴 does not
        also pull in 重度残疾人护理补贴 (a different benefit of a different office).
        """
        claimed = [False] * len(normalized_query)
        found: list[str] = []
        for term in self._by_length:
            start = normalized_query.find(term)
            while start != -1:
                span = range(start, start + len(term))
                if not all(claimed[i] for i in span):
                    for i in span:
                        claimed[i] = True
                    for official in self._official.get(term, ()):
                        if official not in normalized_query and official not in found:
                            found.append(official)
                start = normalized_query.find(term, start + 1)
        return found

    def terms(self) -> set[str]:
        return {t for pair in self.pairs for t in pair}
