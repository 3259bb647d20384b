"""Query and document normalisation for Chinese hotline text.

Callers' words arrive typed by agents in a hurry: full-width digits, traditional
characters pasted from elsewhere, ages and amounts in Chinese numerals
(八十二岁, 两千元). Both documents and queries pass through the same function
so that lexical matching sees one spelling.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import cn2an
import opencc

_CN_DIGITS = "零〇一二两三四五六七八九十百千万"
# Only numerals followed by a unit are converted: a blind conversion turns
# 一下/一些/一站式 into nonsense (1下) and breaks matching.
_UNITS = "周岁|岁|元|块|万元|个月|月|日|天|年|%|户|人|口|条|章|节|级|号|项|次|倍|周"
_NUMERAL_WITH_UNIT = re.compile(rf"(第)?([{_CN_DIGITS}]+)(?=({_UNITS}))")
# A multi-character numeral such as 八十二 or 一百零五 is unambiguous without a unit,
# except for a few words built from numerals.
_BARE_NUMERAL = re.compile(r"[一二两三四五六七八九十][零〇一二两三四五六七八九十百千]+")
_NOT_NUMBERS = {"十分", "百分", "千万", "万一", "一一", "三三两两", "十一", "十二"}
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _numeral(match: re.Match[str]) -> str:
    prefix, digits = match.group(1) or "", match.group(2)
    if digits in {"万", "千", "百"}:
        return match.group(0)
    try:
        value = cn2an.cn2an(digits, "smart")
    except (ValueError, KeyError):
        return match.group(0)
    return f"{prefix}{int(value) if float(value).is_integer() else value}"


def _bare(match: re.Match[str]) -> str:
    digits = match.group(0)
    if digits in _NOT_NUMBERS or not any(c in "十百千" for c in digits):
        return digits
    try:
        return str(int(cn2an.cn2an(digits, "smart")))
    except (ValueError, KeyError):
        return digits


def chinese_numerals_to_arabic(text: str) -> str:
    return _BARE_NUMERAL.sub(_bare, _NUMERAL_WITH_UNIT.sub(_numeral, text))


# Texts up to this length are remembered: the same keywords, questions and chunk texts are normalised on
# every request (the classifier's duty keywords alone ~130 times per ticket), and opencc's pure-Python
# conversion costs ~0.1 ms per short string. Whole documents at ingestion are longer and pass through.
_CACHED_CHARS = 2000


def normalize(text: str) -> str:
    """NFKC (full→half width), traditional→simplified, numerals with units→digits, squeeze spaces."""
    return _normalize_cached(text) if len(text) <= _CACHED_CHARS else _normalize(text)


@lru_cache(maxsize=32768)
def _normalize_cached(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _t2s().convert(text)
    text = chinese_numerals_to_arabic(text)
    return _SPACES.sub(" ", text).strip().lower()
