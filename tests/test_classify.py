"""Ticket classification: decisions, reasons, filter drafts, risk, privacy, batch."""

from __future__ import annotations

import csv
import logging

import pytest

from kb.classify.classifier import TicketClassifier
from kb.classify.risk import RiskDetector
from kb.classify.training import model_dir
from kb.errors import InvalidQuery
from tests.conftest import api_client
from tests.test_privacy import VALID_ID

pytestmark = pytest.mark.slow


def test_civil_affairs_ticket_is_confirmed(sample_classifier):
    d = sample_classifier.classify("来电人咨询：其母亲今年82岁，本市户籍，高龄津贴每月多少钱、怎么领取？", "minzheng")
    assert (d.industry, d.in_scope, d.topic, d.subtopic, d.department) == (
        "minzheng", True, "elderly_care", "elderly_allowance", None)
    assert d.filter_reason is None
    assert d.reasons[0].startswith("关键词：") and "高龄津贴" in d.reasons[0]
    assert d.reasons[1].startswith("相似已标注工单：")


def test_pension_ticket_is_filtered_to_hrss_with_the_duty_boundary(sample_classifier):
    d = sample_classifier.classify("市民来电反映：其父亲企业退休，本月养老金没有按时发放，要求社保部门尽快核实补发。", "minzheng")
    assert (d.industry, d.in_scope, d.department, d.subtopic) == ("none", False, "hrss", None)
    assert "人力资源和社会保障" in d.filter_reason and d.filter_reason.endswith("申请剔除。")
    assert any(r.startswith("职责边界《养老服务补贴津贴与养老金的职责边界》") for r in d.reasons)


def test_disability_certificate_belongs_to_canlian(sample_classifier):
    text = "来电人咨询：家里老人中风后行动不便，想申请办理残疾人证，需要到哪里做残疾评定？"
    for_minzheng = sample_classifier.classify(text, "minzheng")
    assert (for_minzheng.industry, for_minzheng.in_scope, for_minzheng.department) == ("canlian", False, "canlian")
    assert "残疾人联合会" in for_minzheng.filter_reason
    for_canlian = sample_classifier.classify(text, "canlian")
    assert (for_canlian.in_scope, for_canlian.subtopic, for_canlian.filter_reason) == (True, "cert_apply", None)


def test_routing_without_explanation_is_the_same_decision_and_one_model_pass(sample_classifier, monkeypatch):
    """A reply's transfer routing asks for the decision only; the in-scope gate's pass over the same question
    is reused, and a batch of two is scored afresh."""
    text = "市民来电反映：其父亲企业退休，本月养老金没有按时发放，要求社保部门尽快核实补发。"
    full = sample_classifier.classify(text, "minzheng")
    sample_classifier._recent.clear()
    passes = []
    real = sample_classifier.model.pooled_proba
    monkeypatch.setattr(sample_classifier.model, "pooled_proba", lambda texts: passes.append(len(texts)) or real(texts))
    p_ours = sample_classifier.industries_probability(text, ["minzheng", "canlian"])
    routed = sample_classifier.classify(text, "minzheng", explain=False)
    assert passes == [1]
    assert routed.reasons == [] and full.reasons[0].startswith("关键词：")
    assert {**routed.to_json(), "reasons": full.reasons} == full.to_json()
    assert p_ours <= 1 - full.confidence + 1e-4  # "none" holds the (rounded) confidence, ours the rest
    sample_classifier.classify_many([text, "来电人咨询低保怎么申请"], "minzheng")
    assert passes == [1, 2]


def test_confidence_is_a_probability_and_review_flag_follows_the_threshold(sample_classifier):
    d = sample_classifier.classify("来电人咨询低保怎么申请", "minzheng")
    assert 0.0 <= d.confidence <= 1.0
    assert d.needs_review == (d.confidence < sample_classifier.model.review_threshold)
    assert d.label_scores[0]["label"].startswith(d.industry + ":")


def test_risk_signals_with_negation(sample_classifier):
    urgent = sample_classifier.classify("来电人称低保被停了，生活不下去了，扬言要去跳楼。", "minzheng").risk
    assert urgent["level"] == "urgent"
    assert "self_harm" in [s["id"] for s in urgent["signals"]]
    calm = RiskDetector(sample_classifier.duties.risks).detect("来电人表示自己不会跳楼，只是咨询低保政策。")
    assert calm.level == "none"


def test_batch_keeps_order_and_refuses_bad_input(sample_classifier):
    texts = ["来电人咨询结婚登记需要带什么材料", "市民反映小区物业不作为，物业费收得高", "来电人咨询残疾人辅助器具补贴"]
    results = sample_classifier.classify_many(texts, "minzheng")
    assert [r.industry for r in results] == ["minzheng", "none", "canlian"]
    with pytest.raises(InvalidQuery, match="一次最多分类 500 条工单，收到 501 条"):
        sample_classifier.classify_many(["低保"] * 501, "minzheng")
    with pytest.raises(InvalidQuery, match="第 2 条工单内容为空"):
        sample_classifier.classify_many(["低保", " "], "minzheng")
    with pytest.raises(InvalidQuery, match="工单分类只支持知识库"):
        sample_classifier.classify_many(["低保"], "laws")


def test_model_is_versioned_and_reloads_identically(sample_settings, sample_classifier):
    again = TicketClassifier.load(model_dir(sample_settings), sample_settings.corpus_dir / "duties",
                                  sample_classifier.taxonomy)
    assert again.model.version == sample_classifier.model.version
    assert len(again.model.data_hash) == 25
    text = "来电人咨询临时救助怎么申请"
    assert again.classify(text, "minzheng").label_scores == sample_classifier.classify(text, "minzheng").label_scores


def test_api_classify_single_batch_and_no_raw_numbers_in_logs(sample_settings, sample_classifier, caplog):
    ticket = f"来电人王某某（电话13900001234，身份证{VALID_ID}）咨询低保申请条件。"
    with api_client(sample_settings) as client, caplog.at_level(logging.INFO):
        one = client.post("/v1/classify", json={"text": ticket, "kb": "minzheng"})
        assert one.status_code == 200
        assert one.json()["subtopic"] == "dibao"
        many = client.post("/v1/classify", json={"texts": [ticket, "市民反映公交车晚点严重"], "kb": "minzheng"})
        assert [r["industry"] for r in many.json()["results"]] == ["minzheng", "none"]
        bad = client.post("/v1/classify", json={"text": "a", "texts": ["b"]})
        assert bad.status_code == 422 and "请只提供 text" in bad.json()["detail"]
    assert "13900001234" not in caplog.text and VALID_ID not in caplog.text
    assert "【手机号】" in caplog.text


def test_batch_file_writes_masked_results(sample_classifier, tmp_path):
    from openpyxl import load_workbook

    from kb.classify.batch import classify_file

    src = tmp_path / "tickets.csv"
    with open(src, "w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["工单编号", "工单内容"])
        w.writerow(["T1", "来电人李女士（13800001111）咨询高龄津贴发放时间"])
        w.writerow(["T2", ""])
        w.writerow(["T3", "市民反映小区供暖不热"])
    summary = classify_file(sample_classifier, src, "minzheng", tmp_path / "out.xlsx")
    assert (summary["total"], summary["in_scope"], summary["filtered"], summary["errors"]) == (3, 1, 1, 1)
    rows = list(load_workbook(tmp_path / "out.xlsx").active.iter_rows(values_only=True))
    assert rows[1][:3] == ("T1", "来电人某女士（【手机号】）咨询高龄津贴发放时间", "行业确认")
    assert rows[2][-1] == "工单内容为空"
    assert rows[3][2] == "剔除申报" and rows[3][6] == "utilities"


def test_batch_file_masks_callers_names_in_every_cell(sample_classifier, tmp_path):
    """The masked classification XLSX is passed around the office: no caller's name may be in it,
    whether the text names the caller with a cue or only the export's name column does."""
    from openpyxl import load_workbook

    from kb.classify.batch import classify_file

    src = tmp_path / "tickets.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["工单编号", "来电人姓名", "工单内容"])
        w.writerow(["T1", "王建华", "我叫王建华，我妈今年八十二了，高龄津贴怎么申请"])
        w.writerow(["T2", "陈建国", "陈建国反映母亲的低保金这个月没到账"])
        w.writerow(["T3", "", "市民赵先生来电咨询临时救助"])
    classify_file(sample_classifier, src, "minzheng", tmp_path / "out.xlsx")
    rows = list(load_workbook(tmp_path / "out.xlsx").active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["我叫王某某，我妈今年八十二了，高龄津贴怎么申请",
                                         "陈某某反映母亲的低保金这个月没到账", "市民某先生来电咨询临时救助"]
    cells = "".join(str(v) for r in rows for v in r if v is not None)
    assert [n for n in ("王建华", "陈建国", "赵先生") if n in cells] == []
