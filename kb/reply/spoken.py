"""Callers' spoken Chinese rewritten into the written register the knowledge base is in.

"俺妈那个八十二了，就是说那个高龄的钱咋领啊" and "我母亲82岁，高龄津贴怎么领" ask the same thing, but
fillers dilute the query embedding and dialect words (俺, 咋, 啥) match nothing in the library. The rewrite
is used for matching only (search, gates, row facts): the caller's own words are kept for the record and
for place detection.

Two-in-one questions ("能不能申请？咋申请？") are split into their parts so each can be answered or
transferred on its own.
"""

from __future__ import annotations

import re

from kb.privacy import mask
from kb.textnorm import normalize

_TAG = re.compile(r"【[^】]{1,6}】")

# Dialect and spoken forms → written forms, longest first (applied after normalize: digits are Arabic).
_DIALECT = [
    ("咋整", "怎么办"), ("咋办", "怎么办"), ("咋弄", "怎么办理"), ("咋回事", "什么原因"), ("咋样", "怎么样"),
    ("咋", "怎么"), ("啥时候", "什么时候"), ("多会儿", "什么时候"), ("啥", "什么"), ("俺们", "我们"),
    ("俺家", "我家"), ("俺", "我"), ("甭", "不用"), ("木有", "没有"), ("没得", "没有"), ("整不明白", "不清楚"),
    ("闺女", "女儿"), ("姑娘", "女儿"), ("小子", "儿子"), ("老伴儿", "配偶"), ("老伴", "配偶"), ("媳妇儿", "妻子"),
    ("老头儿", "丈夫"), ("俺妈", "我母亲"), ("我妈", "我母亲"), ("我爸", "我父亲"), ("老娘", "母亲"), ("老爹", "父亲"),
    ("钱儿", "钱"), ("哪儿", "哪里"), ("这儿", "这里"), ("那儿", "那里"), ("给钱", "发放"),
]
# Fillers carry no content; removed as whole words (never inside a longer word such as 那个人).
_FILLERS = re.compile(
    r"(?:就是说|就是那个|那个啥|那什么|怎么说呢|我跟你说|你知道吧|是这样的|是这么回事|我想问一下|我想问问|"
    r"想咨询一下|想问一下|请问一下|请问|问一下|你好|您好|喂|嗯+|呃+|啊+|哎+|唉+|哦+|那个(?!人|时候|地方|部门|单位|事))"
)
_PARTICLES = re.compile(r"(?<=[\u4e00-\u9fff])(?:啊|呀|呢|吧|嘛|啦|哈|咧|哇)(?=[，。？！\s]|$)")
_PUNCT_RUN = re.compile(r"[，、\s]*[，\s][，、\s]*")
_ASCII_PUNCT = str.maketrans({",": "，", "?": "？", "!": "！", ";": "；", ":": "："})
# "…了" after an age: 我妈82了 → 82岁 (the bare number then reads as an age for row facts and matching).
_AGE_LE = re.compile(r"(?<![\d.])(\d{2,3})(?:了|啦)(?!解)")


def written(question: str) -> str:
    """The question in the written register, for matching; never shown to the caller."""
    # normalize() turns full-width punctuation ASCII; the rest of this module speaks Chinese punctuation.
    # A caller's own phone or ID number is personal data, not a search term: it only dilutes the match.
    text = _TAG.sub("", mask(question, names=False))
    text = normalize(text).translate(_ASCII_PUNCT)
    for spoken, plain in _DIALECT:
        text = text.replace(spoken, plain)
    text = _FILLERS.sub("", text)
    text = _PARTICLES.sub("", text)
    text = _AGE_LE.sub(r"\1岁", text)
    text = _PUNCT_RUN.sub("，", text)
    text = re.sub(r"，(?=[？。！])", "", text)
    return text.lstrip("，。？！；： ").strip("， ")


# A part ends at a question mark, or before a second question introduced by 还有/另外/再问.
_PART_END = re.compile(r"(?<=[？])|(?=(?:还有就是|还有|另外|再问一下|再问|顺便问一下|顺便问)(?!没有))")
_CLAUSE_END = re.compile(r"[，,；;？?]")
# An A-not-A question (批没批, 涨不涨, 去不去) asks as much as a question word does.
_ASKING = re.compile(r"怎么|多少|吗|哪|什么|能不能|可不可以|如何|几|是不是|有没有|要不要|需不需要|行不行|"
                     r"([\u4e00-\u9fff])[没不]\1|[?？]")


def clauses(question: str) -> list[str]:
    """The question split at every comma or question mark, context joined to the asking clause that follows:
    finer than ``parts``, for finding the one clause that asks only for an office's phone or address."""
    return _join_context(_CLAUSE_END.split(question)) or [question]


def _join_context(split: list[str]) -> list[str]:
    """The non-empty pieces of a split, each fragment without a question word joined to the next asking one."""
    pieces = [p.strip(" ，。") for p in split if p and p.strip(" ，。？")]
    out: list[str] = []
    carry = ""
    for p in pieces:
        if not _ASKING.search(p):
            carry = f"{carry}，{p}" if carry else p
            continue
        out.append(f"{carry}，{p}" if carry else p)
        carry = ""
    if carry:
        if out:
            out[-1] = f"{out[-1]}，{carry}"
        else:
            out.append(carry)
    return out


def parts(question: str) -> list[str]:
    """The separate questions in what the caller said; one part when it is one question.

    A fragment without a question word is context, not a question ("俺家就俺跟俺闺女两口人"),
    and is joined to the part that follows, so each part carries the facts it needs."""
    return _join_context(_PART_END.split(question)) or [question]
