"""The HTTP service over the real sample index."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import api_client


@pytest.fixture(scope="module")
def client(sample_settings):
    with api_client(sample_settings) as c:
        yield c


@pytest.mark.slow
def test_search_answers_with_results_topics_and_timing(client):
    r = client.post("/v1/search", json={"query": "低保标准每月多少钱", "kb": "minzheng", "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "低保标准每月多少钱"
    assert [x["id"] for x in body["results"]][:2] == ["mz-ans-dibao-002", "mz-pol-dibao-standard-2024#第三条"]
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) >= {"id", "doc_id", "library", "title", "doc_no", "article", "topics", "district", "snippet", "score", "source"}
    assert first["topics"] == ["dibao"]
    assert first["source"].endswith("social_assistance.yaml#第") or "social_assistance.yaml" in first["source"]
    assert body["took_ms"] > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        ({"query": "", "kb": "minzheng"}, 422, "查询内容不能为空，请输入来电人的问题"),
        ({"query": "问" * 501, "kb": "minzheng"}, 422, "查询内容过长（501 字），上限为 500 字，请概括后再查"),
        ({"query": "低保", "kb": "nosuchkb"}, 404, "知识库“nosuchkb”不存在，请先执行 `kb ingest --kb nosuchkb <目录>` 建立索引"),
        ({"query": "低保", "top_k": 0}, 422, "top_k：数值过小"),
        ({"kb": "minzheng"}, 422, "query：缺少必填字段"),
    ],
)
def test_bad_search_input_gets_clear_chinese_errors(client, payload, status, detail):
    r = client.post("/v1/search", json=payload)
    assert r.status_code == status
    assert r.json()["detail"] == detail


@pytest.mark.slow
def test_huge_body_is_refused_before_reading(client, sample_settings):
    big = "x" * (sample_settings.max_upload_bytes + 1)
    r = client.post("/v1/search", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"].startswith("请求体过大")


@pytest.mark.slow
def test_contacts_by_street_district_and_topic(client):
    r = client.get("/v1/contacts", params={"kb": "minzheng", "street": "东四街道"})
    assert r.status_code == 200
    assert [c["id"] for c in r.json()["contacts"]] == ["mz-con-0160"]
    r = client.get("/v1/contacts", params={"kb": "minzheng", "district": "朝阳", "topic": "marriage_reg"})
    units = [c["unit"] for c in r.json()["contacts"]]
    assert units and all(c["district"] == "朝阳区" for c in r.json()["contacts"])
    assert "朝阳区婚姻登记处" in units
    assert client.get("/v1/contacts", params={"district": "火星"}).status_code == 422
    assert client.get("/v1/contacts", params={"topic": "nope"}).json()["detail"].startswith("未知的主题代码“nope”")


@pytest.mark.slow
def test_healthz_reports_each_index(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["kbs"]["minzheng"]["state"] == "ready"
    assert body["kbs"]["minzheng"]["embedder"]["name"] == "e5-small-q4"
    assert body["kbs"]["canlian"]["counts"]["contact"] >= 16


@pytest.mark.slow
def test_concurrent_requests_are_safe_and_consistent(client):
    queries = ["低保标准每月多少钱", "离婚冷静期多少天", "东四街道低保找谁", "残疾人证怎么办"] * 6

    def ask(q):
        r = client.post("/v1/search", json={"query": q})
        return q, r.status_code, [x["id"] for x in r.json()["results"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, queries))
    assert all(status == 200 for _, status, _ in answers)
    by_query = {}
    for q, _, ids in answers:
        by_query.setdefault(q, ids)
        assert by_query[q] == ids
