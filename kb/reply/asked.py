"""What a figure is asked about must be in the answer that gives the figure.

"八宝山殡仪馆给遗体整容一次多少钱": the nearest standard answer lists funeral fees, so it holds amounts and the
kind-of-fact gate passes, but it says nothing of 遗体整容; reading its figures aloud answers another question with
confidence. For a clause asking for an amount, a date or a count, the content words just before the question word
name what it is about. Each must be found in the answer (or a synonym of it in the answer's text), else the answer
does not hold the fact and the question is transferred with the answer as a reference. A word the library never
uses counts too (整容 is in no answer, so no answer gives its price), unless it is one of the tokenizer's
verb-and-modal fragments of spoken Chinese (能发, 得花, 每顿), which say nothing of the subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from kb.places import DISTRICTS

# Question words asking for one figure, date or count (written register: 啥 → 什么 already).
FACT_ASK = re.compile(r"(?<![一二三四五六七八九十\d])(?:几门|几届|几次|几个|几年|几点|几号)|多少钱|多少元|几块|几毛|一次多少|收多少|给多少|补多少|领多少|发多少|报销多少|报多少|哪天|哪几天|"
                      r"几月份|多少分|多少天|多少年")
_CLAUSE = re.compile(r"[，。？！；、]")
_PLACES = re.compile("|".join(sorted([*DISTRICTS, *(d[:-1] for d in DISTRICTS)], key=len, reverse=True))
                     + r"|[\u4e00-\u9fff]{2,4}(?:街道|地区|乡|镇)")
# Words that frame a question rather than name its subject.
_FRAME = frozenset("""一次 一年 一天 一月 一个 每月 每年 每次 每个 个月 大概 一共 总共 最多 最少 至少 可以 能够 那个 这个 那些 这些
现在 目前 我们 你们 他们 咱们 自己 这种 那种 这样 那样 政府 国家 早上 晚上 上午 下午 多少 一般 到底 具体 需要 应该 还是 是不是 什么 怎么 时候 以后 今年 明年 这边 那边 这里
那里 我家 家里 老人 母亲 父亲 孩子 女儿 儿子 配偶 妻子 丈夫 规定 标准 按照 按规定 的话 还有 就是 一下 得花 要花 能拿 能领 能发
能补 可以领 请问 知道 告诉""".split())


# First characters of the spoken fragments the tokenizer leaves (能发, 要花, 得花, 每顿, 次续, 最多能): only a word
# the library knows may start with one.
_FRAGMENT_START = frozenset("能要得该可会每这那次最说让给想再还都也就才")


def asked_terms(question: str, tokens: Callable[[str], Iterable[str]], known: Callable[[str], bool]) -> list[str]:
    """The subject words of each clause that asks for a figure, a date or a count (at most two per clause)."""
    out: list[str] = []
    for clause in _CLAUSE.split(question):
        m = FACT_ASK.search(clause)
        if m is None:
            continue
        head = _PLACES.sub(" ", clause[:m.start()])
        words = [t for t in tokens(head) if len(t) >= 2 and t not in _FRAME and not re.search(r"\d", t)
                 and (t[0] not in _FRAGMENT_START or known(t))]
        out += [t for t in words[-2:] if t not in out]
    return out


def missing_terms(terms: Iterable[str], answer_text: str, answer_tokens: set[str],
                  synonyms: Callable[[str], Iterable[str]]) -> list[str]:
    """The asked-about words neither the answer's tokens nor its text (directly or by a synonym) contain."""
    return [t for t in terms
            if t not in answer_tokens and t not in answer_text and not any(s in answer_text for s in synonyms(t))]
