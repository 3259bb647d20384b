"""Hybrid search over the real sample index (real Chroma on disk, bundled embedder)."""

from __future__ import annotations

import pytest

from kb.errors import InvalidQuery
from kb.records import Chunk, Hit
from kb.search import SearchRequest, diversify


def _ids(result):
    return [h.chunk.id for h in result.hits]


@pytest.mark.slow
def test_colloquial_question_finds_the_standard_answer_first(sample_service):
    result = sample_service.search("minzheng", SearchRequest("我妈82了高龄津贴怎么领"))
    assert _ids(result)[0] == "mz-ans-elderly-allowance-002"
    assert "<mark>津贴</mark>" in result.hits[0].snippet


@pytest.mark.slow
def test_results_mix_answer_and_governing_clause(sample_service):
    result = sample_service.search("minzheng", SearchRequest("低保标准每月多少钱"))
    ids = _ids(result)
    assert ids[:2] == ["mz-ans-dibao-002", "mz-pol-dibao-standard-2024#第三条"]
    hit = result.hits[1]
    assert (hit.chunk.doc_no, hit.chunk.article, hit.chunk.topics) == ("京民社救发〔2024〕58号", "第三条", ["dibao", "low_income", "tekun", "temp_aid"])


@pytest.mark.slow
def test_traditional_characters_are_normalised(sample_service):
    assert _ids(sample_service.search("minzheng", SearchRequest("離婚冷靜期多少天")))[0] == "mz-ans-divorce-reg-001"


@pytest.mark.slow
def test_repealed_text_only_when_asked(sample_service):
    default = _ids(sample_service.search("minzheng", SearchRequest("低保标准1395元", libraries=["policy"])))
    assert not any(i.startswith(("mz-pol-dibao-standard-2023", "mz-pol-tekun-2018")) for i in default)
    asked = _ids(sample_service.search("minzheng", SearchRequest("低保标准1395元", libraries=["policy"], include_repealed=True)))
    assert asked[0] == "mz-pol-dibao-standard-2023#第二条"


@pytest.mark.slow
def test_filters_by_library_topic_and_district(sample_service):
    result = sample_service.search("minzheng", SearchRequest("低保找谁办", libraries=["contact"], district="东城", top_k=10))
    assert all(h.chunk.library == "contact" for h in result.hits)
    assert all(h.chunk.districts in ([], ["东城区"]) for h in result.hits)
    result = sample_service.search("minzheng", SearchRequest("补贴", topics=["elderly_care"], top_k=10))
    assert all(set(h.chunk.topics) & {"elderly_allowance", "care_institution", "home_care", "age_friendly", "elderly_card"}
               for h in result.hits)


@pytest.mark.slow
def test_results_are_deduplicated_per_document(sample_service):
    result = sample_service.search("minzheng", SearchRequest("离婚登记", libraries=["policy"], top_k=10))
    docs = [h.chunk.doc_id for h in result.hits]
    assert len(docs) == len(set(docs))


@pytest.mark.slow
def test_same_question_same_answer(sample_service):
    first = _ids(sample_service.search("minzheng", SearchRequest("养老驿站能不能助浴")))
    assert all(_ids(sample_service.search("minzheng", SearchRequest("养老驿站能不能助浴"))) == first for _ in range(3))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"query": "   "}, "查询内容不能为空，请输入来电人的问题"),
        ({"query": "低保" * 251}, "查询内容过长（502 字），上限为 500 字，请概括后再查"),
        ({"query": "低保", "libraries": ["faq"]}, "未知的库“faq”，可选：policy、answer、contact、problem"),
        ({"query": "低保", "topics": ["nope"]}, "未知的主题代码“nope”，请使用 taxonomy.yaml 中的主题或子主题代码"),
        ({"query": "低保", "district": "浦东新区"}, "无法识别的区：“浦东新区”。"),
    ],
)
def test_bad_requests_are_refused_in_chinese(sample_service, request_kwargs, message):
    with pytest.raises(InvalidQuery) as info:
        sample_service.search("minzheng", SearchRequest(**request_kwargs))
    assert info.value.message.startswith(message)


def _hit(library: str, score: float) -> Hit:
    chunk = Chunk(id=f"{library}{score}", doc_id=f"{library}{score}", kb="t", library=library, title="",
                  text="", embed_texts=[], bm25_text="")
    return Hit(chunk, score)


def test_diversify_caps_one_library_per_window_and_keeps_order_otherwise():
    hits = [_hit("answer", 9), _hit("answer", 8), _hit("answer", 7), _hit("policy", 6), _hit("answer", 5), _hit("contact", 4)]
    ranked = diversify(hits, top_k=5, cap_share=0.4)
    assert [h.chunk.id for h in ranked] == ["answer9", "answer8", "policy6", "contact4", "answer7"]
    assert [h.chunk.id for h in diversify(hits, top_k=3, cap_share=1.0)] == ["answer9", "answer8", "answer7"]


def test_remembered_tokens_are_copies_and_a_new_word_is_seen(tmp_path):
    """Short texts are segmented once per process; a caller that edits the list does not edit the memory, and a
    word added to the dictionary afterwards changes the segmentation at once."""
    from kb.tokenize import ChineseTokenizer

    tok = ChineseTokenizer(None, None, tmp_path)
    first = tok.tokens("申请蓝莓卡补贴")
    assert "蓝莓卡" not in first
    first.append("改动")
    assert tok.tokens("申请蓝莓卡补贴") == first[:-1]
    tok.add_word("蓝莓卡")
    assert "蓝莓卡" in tok.tokens("申请蓝莓卡补贴")
    long_text = "申请蓝莓卡补贴。" * 60
    assert tok.tokens(long_text).count("蓝莓卡") == 60
