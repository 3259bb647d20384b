"""The 剔除 summary's review table: tickets where the classifier disagrees with the recorded 行业确认.

The table is what a reviewer works through, so it must list exactly the disagreeing tickets: a
ticket plainly about 高龄津贴 recorded as 剔除, and one plainly about heating recorded as 确认,
and none of the tickets where the record and the model agree.
"""

from __future__ import annotations

import csv
from datetime import date

import pytest

from reports.build import PeriodRequest, ReportBuilder
from tests.conftest import make_settings

HEADER = ["工单编号", "受理时间", "诉求内容", "诉求类型", "区", "街乡镇", "来电号码", "承办单位", "首次响应时间",
          "办结时间", "是否解决", "满意度", "行业确认", "剔除理由", "主题"]
# (id, text, recorded 行业确认, 剔除理由): D1 and D2 disagree with any sensible classifier, A1–A4 agree,
# P1 is 待确认 and so has nothing recorded to disagree with.
ROWS = [
    ("D1", "来电人咨询：我母亲今年八十二岁，户籍在东城区，高龄津贴怎么申请，每个月发多少钱。", "剔除", "非本部门职责"),
    ("D2", "来电人反映小区暖气片一直不热，室温只有十四度，供热公司不来维修。", "确认", ""),
    ("A1", "来电人咨询：我家是低保户，这个月低保金还没到账，想问问什么时候发。", "确认", ""),
    ("A2", "来电人咨询结婚登记需要带哪些材料，能不能预约周末办理。", "确认", ""),
    ("A3", "来电人反映小区供暖温度不达标，暖气不热，要求供热单位尽快处理。", "剔除", "供热问题，属城管委职责"),
    ("A4", "来电人反映楼下自来水管道爆裂漏水，停水一天了，自来水公司一直没人来修。", "剔除", "供水问题，属水务部门"),
    ("P1", "来电人咨询养老服务驿站的助餐服务怎么收费。", "待确认", ""),
]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """The ticket model trained as `kb train-classifier` trains it, without building any search index."""
    from kb.classify.classifier import TicketClassifier
    from kb.classify.kbexamples import kb_examples
    from kb.classify.model import TicketModel, WordAnalyzer
    from kb.classify.training import load_split, model_dir
    from kb.taxonomy import cached_taxonomy

    s = make_settings(tmp_path_factory.mktemp("clf") / "data")
    model = TicketModel.fit(load_split(s, "train"), WordAnalyzer(s.corpus_dir, s.data_dir / "cache"),
                            kb_examples(s.corpus_dir), 0.3, 5.0)
    model.calibrate(load_split(s, "dev"))
    model.save(model_dir(s))
    return TicketClassifier.load(model_dir(s), s.corpus_dir / "duties", cached_taxonomy(s.taxonomy_path))


@pytest.fixture(scope="module")
def filtered(classifier, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("filtered")
    src = root / "tickets.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i, (tid, text, confirmation, reason) in enumerate(ROWS):
            w.writerow([tid, f"2026-03-{2 + i:02d} 09:00", text, "咨询", "东城区", "东四街道", f"1380000{1000 + i}",
                        "东四街道办事处", f"2026-03-{2 + i:02d} 10:00", f"2026-03-{3 + i:02d} 09:00", "是", "满意",
                        confirmation, reason, ""])
    builder = ReportBuilder(make_settings(root / "data"), "minzheng", classifier=classifier)
    report = builder.build(builder.parse(src), PeriodRequest("month", date=date(2026, 3, 1)), str(src))
    return report["filtered"]


def test_classifier_agrees_with_the_plain_rows(classifier):
    """Guards the fixture itself: if the model changed its mind on these texts the table test would
    be testing the model, not the table."""
    decisions = classifier.classify_many([text for _, text, _, _ in ROWS], "minzheng")
    assert [d.in_scope for d in decisions] == [True, False, True, True, False, False, True]


def test_disagreement_table_lists_exactly_the_disagreeing_tickets(filtered):
    rows = filtered["disagreements"]
    assert [(r["ticket_id"], r["row"], r["recorded"], r["classifier"]) for r in rows] == [
        ("D1", 2, "剔除", "行业确认"),
        ("D2", 3, "确认", "剔除申报"),
    ]
    assert filtered["disagreement_count"] == 2
    assert rows[0]["summary"] == ROWS[0][1]


def test_filtered_counts_and_reasons(filtered):
    assert (filtered["count"], filtered["pending"]) == (3, 1)
    assert filtered["by_reason"] == {"非本部门职责": 1, "供热问题，属城管委职责": 1, "供水问题，属水务部门": 1}
