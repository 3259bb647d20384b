"""Infer topics for a client's plain regulation texts, which carry no metadata.

Keywords come from the taxonomy's own subtopic names (最低生活保障（低保） →
最低生活保障, 低保) plus the official side of the synonym list, so knowledge
managers improve inference by editing those files. A title match weighs far more
than a body match, because a regulation's title names its subject.
"""

from __future__ import annotations

import re
from collections import Counter

from kb.synonyms import SynonymTable
from kb.taxonomy import Taxonomy

_SPLIT = re.compile(r"[（）()、，,；;与和及含\s]+")
_EXTRA = {
    "marriage_reg": ["结婚登记", "婚姻登记"],
    "divorce_reg": ["离婚登记", "离婚"],
    "adoption": ["收养"],
    "funeral_service": ["殡葬", "殡仪", "火化", "遗体"],
    "cemetery": ["公墓", "骨灰", "墓穴"],
    "vagrant_aid": ["流浪乞讨", "救助管理"],
    "resident_committee": ["居民委员会", "村民委员会", "居委会", "村委会"],
    "org_registration": ["社会团体", "基金会", "民办非企业", "社会服务机构"],
    "charity_org": ["慈善"],
    "volunteer": ["志愿服务", "志愿者"],
    "place_naming": ["地名"],
    "admin_division": ["行政区划"],
    "home_care": ["居家养老"],
    "care_institution": ["养老机构"],
    "child_protection": ["未成年人保护", "未成年人"],
    "cert_apply": ["残疾人证", "残疾评定"],
    "employment_quota": ["按比例", "残疾人就业保障金"],
    "employment_service": ["残疾人就业"],
    "rehab_service": ["康复"],
    "accessibility": ["无障碍"],
    "legal_aid": ["残疾人保障", "维权"],
    "dibao": ["最低生活保障"],
    "temp_aid": ["临时救助", "社会救助"],
    "tekun": ["特困人员"],
}


def keyword_table(taxonomy: Taxonomy, synonyms: SynonymTable) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for code, sub in taxonomy.subtopics.items():
        words = [w for w in _SPLIT.split(sub.name) if len(w) >= 2]
        words += _EXTRA.get(code, [])
        table[code] = list(dict.fromkeys(words))
    return table


def infer_topics(title: str, body: str, table: dict[str, list[str]], limit: int = 3) -> list[str]:
    scores: Counter[str] = Counter()
    for code, words in table.items():
        for w in words:
            if w in title:
                scores[code] += 10
            scores[code] += min(body.count(w), 10)
    if not scores:
        return []
    best = scores.most_common(1)[0][1]
    if best < 2:
        return []
    return [code for code, s in scores.most_common(limit) if s >= max(2, best * 0.5)]
