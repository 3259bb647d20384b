"""Long letters: sentence pooling, abstention on split evidence, department routing, malformed training rows,
and the external civil-affairs measurement skipping cleanly when its data is absent."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from kb.classify.pooling import PoolingParams, pool, sentence_plan, sentence_weights, sentences
from kb.classify.tickets import load_tickets
from kb.errors import TrainingDataInvalid
from kb.settings import PROJECT_ROOT
from kb.taxonomy import cached_taxonomy

TAXONOMY = cached_taxonomy(PROJECT_ROOT / "corpus" / "taxonomy.yaml")
HEADER = '"id","text","industry","subtopic","department","pair","risk"\n'
# A letter to a 问政 board about a property company; one sentence mentions 低保 in passing.
MIXED_LETTER = (
    "反映某区和谐社区商品房小区物业服务与收费问题。小区门禁长期损坏，外来人员随意进出。"
    "绿化带里杂草丛生，健身器材生锈断裂无人修理。地下车库照明灯坏了大半，晚上进出车库要打手电。"
    "物业公司突然宣布物业费上涨百分之三十，没有召开业主大会，也没有公示收支情况。"
    "楼里有几户低保家庭，每月领取低保金生活。"
    "恳请房屋管理部门督促物业公司公开收支，整改服务，依法规范物业收费行为。"
)


def test_sentences_split_after_chinese_stops_and_drop_fragments():
    assert sentences("第一句话很长。好！第三句也够长吗？是；最后一句没有句号") == [
        "第一句话很长。", "第三句也够长吗？", "最后一句没有句号"]


def test_plan_pools_only_long_multi_sentence_texts():
    params = PoolingParams(0.5, 20)
    assert sentence_plan(["短工单，只有一句话没有别的内容也不够长"], params) == [[]]
    assert sentence_plan(["这是第一句话内容。这是第二句话内容。这是第三句。"], params) == [
        ["这是第一句话内容。", "这是第二句话内容。", "这是第三句。"]]
    assert sentence_plan(["这是第一句话内容。这是第二句话内容。"], PoolingParams()) == [[]]


def test_pool_blends_whole_text_with_length_weighted_sentences():
    whole = np.array([[0.9, 0.1], [0.2, 0.8]])
    plan = [["一二三四五六", "一二三四五六七八九十一二"], []]  # 6 and 12 characters: weights 1/3, 2/3
    per_sentence = np.array([[1.0, 0.0], [0.1, 0.9]])
    out = pool(whole, plan, per_sentence, alpha=0.5)
    assert np.allclose(out[0], [0.5 * 0.9 + 0.5 * (1 / 3 * 1.0 + 2 / 3 * 0.1), 0.5 * 0.1 + 0.5 * (2 / 3 * 0.9)])
    assert np.allclose(out[1], whole[1])
    with pytest.raises(ValueError, match="不一致"):
        pool(whole, plan, per_sentence[:1], alpha=0.5)


def test_sentences_that_ask_weigh_more_than_the_story_around_them():
    story, ask = "去年我丈夫出了车祸住院。", "请问我家能申请临时救助吗？"  # 12 and 13 characters
    assert np.allclose(sentence_weights([story, ask]), [12 / 25, 13 / 25])
    assert np.allclose(sentence_weights([story, ask], ask_weight=3.0), [12 / 51, 39 / 51])
    # A title, a plea and a request to a department ask; the story does not, whatever its length.
    titles = ["关于某社区养老驿站关门的反映。", "恳请领导过问一下。", "孩子还在上学，请民政部门核实。", "老伴前年去世了。"]
    assert np.allclose(sentence_weights(titles, ask_weight=2.0) * (2 * 15 + 2 * 9 + 2 * 15 + 8),
                       [30, 18, 30, 8])
    whole = np.array([[0.5, 0.5]])
    per_sentence = np.array([[0.0, 1.0], [1.0, 0.0]])
    out = pool(whole, [[story, ask]], per_sentence, alpha=0.5, ask_weight=3.0)
    assert np.allclose(out[0], [0.25 + 0.5 * 39 / 51, 0.25 + 0.5 * 12 / 51])


@pytest.mark.slow
def test_one_civil_affairs_sentence_does_not_decide_a_long_letter(sample_classifier):
    clf = copy.copy(sample_classifier)
    clf.model = copy.copy(sample_classifier.model)
    clf.model.pooling = PoolingParams(0.5, 100)
    civil_sentence = "楼里有几户低保家庭，每月领取低保金生活。"
    assert civil_sentence in sentence_plan([MIXED_LETTER], clf.model.pooling)[0]
    alone = clf.classify(civil_sentence, "minzheng")
    assert alone.industry == "minzheng"  # on its own the sentence is civil affairs
    pooled, whole, _ = clf.model.pooled_proba([MIXED_LETTER])
    mz = [j for j, label in enumerate(clf.model.labels) if label.startswith("minzheng:")]
    assert pooled[0, mz].sum() < 0.5 and whole[0, mz].sum() < 0.5
    d = clf.classify(MIXED_LETTER, "minzheng")
    assert (d.in_scope, d.industry, d.department) == (False, "none", "housing")


@pytest.mark.slow
def test_split_evidence_between_letter_and_sentences_asks_for_review(sample_classifier):
    clf = sample_classifier
    proba, _, matrix = clf.model.pooled_proba([MIXED_LETTER])
    industries = {k: float(v[0]) for k, v in clf.model.industry_proba(proba).items()}
    agreed = clf._decide(MIXED_LETTER, "minzheng", proba[0], industries, matrix[0], whole_industry="none")
    split = clf._decide(MIXED_LETTER, "minzheng", proba[0], industries, matrix[0], whole_industry="minzheng")
    assert agreed.industry == split.industry == "none"
    assert split.needs_review is True
    assert split.reasons[-1] == "证据分歧：全文最接近民政，逐句汇总后为他部门职责，请人工复核"
    assert not any(r.startswith("证据分歧") for r in agreed.reasons)
    assert agreed.needs_review == (agreed.confidence < clf.model.review_threshold)


@pytest.mark.slow
def test_out_of_scope_tickets_are_routed_by_the_department_model(sample_classifier):
    model = sample_classifier.model
    assert model.department_model is not None
    texts = ["市民来电反映：小区今年冬天暖气一直不热，室温只有十四度，热力公司不来处理。",
             "来电人反映：孩子所在小学要求家长统一购买教辅资料，不买就被老师点名。"]
    assert model.department_model.route(model.features(texts)) == ["utilities", "education"]
    assert [sample_classifier.classify(t, "minzheng").department for t in texts] == ["utilities", "education"]


def _csv(tmp_path, body: str):
    path = tmp_path / "train_bad.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_unquoted_comma_in_a_training_row_names_file_and_line(tmp_path):
    path = _csv(tmp_path, '"t-1","来电人咨询低保怎么申请","minzheng","dibao","","","none"\n'
                          't-2,来电人咨询,低保怎么申请,minzheng,dibao,,,none\n')
    with pytest.raises(TrainingDataInvalid) as info:
        load_tickets([path], TAXONOMY)
    assert info.value.message == f"{path} 第3行：列数为 8，表头为 7 列（可能有未加引号的逗号或缺列）"


def test_missing_columns_and_unknown_codes_name_file_line_and_value(tmp_path):
    short = _csv(tmp_path, '"t-1","来电人咨询低保怎么申请","minzheng"\n')
    with pytest.raises(TrainingDataInvalid, match=r"第2行：列数为 3，表头为 7 列"):
        load_tickets([short], TAXONOMY)
    bad_code = _csv(tmp_path, '"t-1","来电人咨询低保怎么申请","minzheng","dibao","","","none"\n'
                              '"t-2","来电人咨询供暖","none","","heating","","none"\n')
    with pytest.raises(TrainingDataInvalid) as info:
        load_tickets([bad_code], TAXONOMY)
    assert info.value.message == f"{bad_code} 第3行 [t-2]：department “heating” 不在 taxonomy.yaml 的部门代码中"
    headless = tmp_path / "train_headless.csv"
    headless.write_text('"id","text"\n"t-1","来电人咨询低保"\n', encoding="utf-8")
    with pytest.raises(TrainingDataInvalid, match="第1行：表头缺少列 industry、subtopic、department、pair、risk"):
        load_tickets([headless], TAXONOMY)
    empty = _csv(tmp_path, "")
    assert load_tickets([empty], TAXONOMY) == []


def test_civil_letter_measurement_skips_when_external_data_is_absent(sample_settings, tmp_path):
    from eval.classify import CIVIL_IDS, run_civil_eval

    assert run_civil_eval(sample_settings, CIVIL_IDS, folder=tmp_path / "absent") is None


def test_civil_letter_ids_are_unique_and_labelled_with_minzheng_subtopics():
    import csv

    from eval.classify import CIVIL_IDS

    with open(CIVIL_IDS, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 60
    assert len({(r["file"], r["留言编号"]) for r in rows}) == len(rows)
    assert all(TAXONOMY.subtopics[r["subtopic"]].industry == "minzheng" for r in rows)
    assert {r["clarity"] for r in rows} == {"clear", "mixed"}
    assert set(rows[0]) == {"留言编号", "file", "subtopic", "clarity"}  # ids and labels only, never letter text
