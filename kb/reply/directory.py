"""Where, whom and when: questions answered from the contact directory.

"海淀哪儿能领结婚证", "丰台区的敬老院电话多少", "街道民政科几点上班" ask for an office, not a rule. The office
is found by searching the contact library with the caller's own words (a named institution such as 婚姻登记处,
殡仪馆 or 养老服务科 is in the office's name and duties), then moved to the caller's place: the same kind of
office of the caller's street, else district, else the citywide one. A question that also asks for a rule
(条件, 材料, 多少钱 …) is left to the standard answers, which carry the office anyway.

Only facts the directory holds are read out: an appointment question is answered only when the office's
opening hours say something about 预约.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.records import Chunk
from kb.search import SearchRequest

ASKS = {
    "phone": re.compile(r"(?<![我俺]的)(?<![我俺])电话(?![\s:：]*\d)|号码(?![\s:：]*\d)|联系方式|打哪个|怎么联系|热线"),
    "address": re.compile(r"在哪|哪里能|哪里可以|去哪里|到哪里|哪里办|哪里领|哪里交|地址|怎么走|位置|什么地方"),
    "hours": re.compile(r"几点|上班时间|办公时间|工作时间|什么时候上班|什么时候开门|开门|下班|周末|周六|周日|星期[六天日]|节假日|中午"),
    "appointment": re.compile(r"预约|提前约|要不要约|挂号|排号"),
    "office": re.compile(r"找谁|找哪|哪个部门|哪个单位|哪个科|谁管|归谁管|归哪|哪家"),
}
# Words that ask for a rule, not an office: the standard answers hold those.
_RULE = re.compile(r"条件|材料|多少钱|标准|怎么申请|怎么办理?|流程|手续|需要什么|要带|带什么|能不能|可不可以|符合|够不够|"
                   r"资格|多久|多长时间|为什么|什么原因|怎么算|补多少|给多少|领多少|能补多少|能报销|能享受|是不是|有没有")
_OFFICE_KIND = re.compile(r"^(?:北京市)?(?:[\u4e00-\u9fff]{1,5}?(?:区|街道|镇|乡))?")


@dataclass(frozen=True)
class OfficeAsk:
    fields: tuple[str, ...]


def office_ask(question: str) -> OfficeAsk | None:
    """The directory facts the question asks for, when it asks only for those (written form)."""
    fields = tuple(name for name, pattern in ASKS.items() if pattern.search(question))
    if not fields or _RULE.search(question):
        return None
    return OfficeAsk(fields)


def office_kind(c: Chunk) -> str:
    """The office's name without its district or street: 海淀区婚姻登记处 → 婚姻登记处."""
    return _OFFICE_KIND.sub("", c.extra.get("unit", c.title)) or c.extra.get("unit", c.title)


@dataclass
class OfficeMatch:
    offices: list[Chunk]
    dense_rank: int | None
    bm25_rank: int | None
    score: float
    named: bool = False  # the question names the office itself (西城区婚姻登记处电话多少)


_SHORT_NAMES = (("残疾人联合会", "残联"), ("北京市", ""), ("民政局", "民政"), ("社会保障事务所", "社保所"))


def directory_evidence(match: OfficeMatch) -> str:
    """How sure the office is: the question names it, both searches rank it first, or less."""
    if match.named:
        return "named"
    return "ranked" if match.dense_rank == 1 and match.bm25_rank == 1 else "other"


def _forms(kind: str) -> set[str]:
    """The kind's name and its everyday short names (残疾人联合会 → 残联)."""
    forms = {kind}
    for full, short in _SHORT_NAMES:
        forms |= {f.replace(full, short) for f in forms}
    return {f for f in forms if len(f) >= 2}


def named_kind(question: str, kinds: set[str]) -> str | None:
    """The kind of office the question names, the longest name winning (民政科 over 民政).

    The search's top contact answers "what is this about"; a caller who says 延庆残联 means the federation
    itself, not its service hall that the search may rank first."""
    best: tuple[int, str] | None = None
    for kind in sorted(kinds):
        for form in _forms(kind):
            if form in question and (best is None or len(form) > best[0]):
                best = (len(form), kind)
    return best[1] if best else None


_FILLER = re.compile(r"[啊吗呢吧呀哦嘛的是了有没个那这我俺想问请问一下多少\s，。？！,.?!]")


def _only_names(question: str, kind: str, district: str | None, street: str | None) -> bool:
    """Whether the question is the institution's name, the caller's place and the asked field, nothing else:
    延庆残联电话多少啊 means the federation itself."""
    rest = question
    for word in sorted(_forms(kind), key=len, reverse=True) + [w for w in (district, street) if w]:
        rest = rest.replace(word, "")
        rest = rest.replace(word.removesuffix("区").removesuffix("街道"), "") if len(word) > 2 else rest
    for pattern in ASKS.values():
        rest = pattern.sub("", rest)
    return len(_FILLER.sub("", rest)) == 0


def find_office(snap, question: str, district: str | None, street: str | None, limit: int = 2) -> OfficeMatch | None:
    """The office the question names, moved to the caller's street, else district, else the city."""
    hits = snap.searcher.search(SearchRequest(question, top_k=8, libraries=["contact"], snippets=False)).hits
    if not hits:
        return None
    top = hits[0]
    directory = snap.contacts
    named = named_kind(question, {office_kind(c) for c in directory.lookup()})
    if named and office_kind(top.chunk) != named and (not _only_names(question, named, district, street)
                                                      and any(f in office_kind(top.chunk) for f in _forms(named))):
        # 大兴残联办康复的是几楼: a service at the named institution, whose own office the search ranks first.
        named = office_kind(top.chunk)
    kind = named or office_kind(top.chunk)
    if named and office_kind(top.chunk) != named:
        top = next((h for h in hits if office_kind(h.chunk) == named), top)
    order = {h.chunk.id: r for r, h in enumerate(hits)}
    pools: list[list[Chunk]] = []
    if street:
        pools.append(directory.lookup(district=district, street=street))
    if district:
        pools.append(directory.lookup(district=district))
    pools.append([c for c in directory.lookup() if c.extra.get("level") == "市"])
    topics = set(top.chunk.topics) if office_kind(top.chunk) == kind else \
        {t for c in directory.lookup() if office_kind(c) == kind for t in c.topics}
    for n, pool in enumerate(pools):
        same = [c for c in pool if office_kind(c) == kind]
        if not same and n < len(pools) - 1:
            # Another name for the same service (街道社会保障事务所 ~ 区民政局社会救助科): shared topics, in search order.
            same = sorted((c for c in pool if topics & set(c.topics) and c.id in order), key=lambda c: order[c.id])
        if same:
            return OfficeMatch(same[:limit], top.dense_rank, top.bm25_rank, float(top.score), named is not None)
    # No place named and no citywide office of that kind: which district's office is meant is unknown.
    return None


def holds(office: Chunk, ask: OfficeAsk) -> bool:
    """Whether the directory row holds every fact asked for."""
    x = office.extra
    for name in ask.fields:
        if name == "phone" and not x.get("phone"):
            return False
        if name == "address" and not x.get("address"):
            return False
        if name == "hours" and not x.get("hours"):
            return False
        if name == "appointment" and "预约" not in (x.get("hours") or "") + office.text:
            return False
    return True


def directory_text(offices: list[Chunk], ask: OfficeAsk) -> str:
    """Read-aloud text: every fact is a field of the cited directory rows."""
    lines = []
    for c in offices:
        x = c.extra
        bits = [f"电话{x.get('phone')}"] if x.get("phone") else []
        if x.get("address"):
            bits.append(f"地址：{x.get('address')}")
        if x.get("hours"):
            bits.append(f"办公时间：{x.get('hours')}")
        lines.append(f"{x.get('unit', c.title)}，" + "，".join(bits))
    text = "您好，您可以联系：" + "；".join(lines) + "。"
    if "appointment" in ask.fields:
        text += "是否需要预约以上面办公时间中的说明为准。"
    return text
