"""The JSON routes under the manager's pages: record forms, one revision, lifecycle, per-kb audit, list filters."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from ingest.pipeline import run_ingest
from kb.store import records
from tests.conftest import api_client

ANSWER = "t-ans-allowance-002"
POLICY = "t-pol-allowance-2025"


@pytest.fixture()
def mini_app(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0, "today": dt.date(2025, 2, 15)})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as client:
        yield settings, client


def _edit(client, record_id: str, change: dict, reason: str) -> dict:
    got = client.get(f"/v1/kbs/mini/records/{record_id}")
    r = client.put(f"/v1/kbs/mini/records/{record_id}", json={"record": {**got.json()["record"], **change}, "reason": reason},
                   headers={"If-Match": got.headers["etag"]})
    assert r.status_code == 200, r.text
    return r.json()


def test_record_forms_follow_the_schemas_with_chinese_labels(mini_app):
    settings, manager = mini_app
    body = manager.get("/v1/record-forms").json()
    assert [(lib["library"], lib["name"]) for lib in body["libraries"]] == [
        ("policy", "政策库"), ("answer", "标准化工作库"), ("contact", "政务联络库"), ("problem", "行业问题清单库")]
    contact = body["libraries"][2]["fields"]
    assert [(f["name"], f["label"], f["kind"], f["required"]) for f in contact] == [
        ("id", "编号", "text", True), ("topics", "主题代码（逗号分隔）", "codes", True), ("unit", "单位", "text", True),
        ("level", "级别", "choice", True), ("district", "区", "text", False), ("street", "街道", "text", False),
        ("phone", "电话", "text", True), ("address", "地址", "text", False), ("hours", "办公时间", "text", False),
        ("duties", "职责", "textarea", False)]
    assert contact[3]["choices"] == ["市", "区", "街乡镇"]
    policy = body["libraries"][0]["fields"]
    assert (policy[-1]["name"], policy[-1]["kind"]) == ("body", "textarea")
    assert [f["choices"] for f in policy if f["name"] == "status"] == [["有效", "已修订", "已废止"]]
    with api_client(settings, "reviewer") as reviewer:
        assert reviewer.get("/v1/record-forms").status_code == 200
    with api_client(settings, "agent") as agent:
        r = agent.get("/v1/record-forms")
        assert r.status_code == 403
        assert r.json()["detail"] == "当前身份“test-agent”（坐席/工单处理）无权执行此操作，需要：知识管理员、质检评审、系统管理员"


def test_list_filters_by_topic_full_text_and_days_without_review(mini_app):
    settings, manager = mini_app
    url = "/v1/kbs/mini/records"
    every = manager.get(url, params={"page_size": 500}).json()
    assert every["total"] == 8
    by_text = manager.get(url, params={"text": "10个工作日"}).json()
    assert [r["id"] for r in by_text["records"]] == [ANSWER, POLICY] and by_text["total"] == 2
    by_topic = manager.get(url, params={"topic": "elderly_allowance", "library": "answer"}).json()
    assert [r["id"] for r in by_topic["records"]] == ["t-ans-allowance-001", ANSWER]
    assert manager.get(url, params={"topic": "no_such_topic"}).json()["total"] == 0
    paged = manager.get(url, params={"topic": "elderly_allowance", "page": 2, "page_size": 1, "library": "answer"}).json()
    assert (paged["total"], [r["id"] for r in paged["records"]]) == (2, [ANSWER])
    assert manager.get(url, params={"not_reviewed_days": 30}).json()["total"] == 0
    from kb.storefactory import open_store

    with open_store(settings).engine.begin() as c:
        c.execute(update(records).where(records.c.id == POLICY).values(updated="2024-01-01T00:00:00.000000Z"))
    stale = manager.get(url, params={"not_reviewed_days": 30}).json()
    assert [r["id"] for r in stale["records"]] == [POLICY]
    r = manager.get(url, params={"not_reviewed_days": 0})
    assert r.status_code == 422 and r.json()["detail"] == "query.not_reviewed_days：数值过小"
    r = manager.get(url, params={"text": "长" * 201})
    assert r.status_code == 422 and r.json()["detail"] == "query.text：内容过长"


def test_one_revision_in_full_for_the_side_by_side_diff(mini_app):
    settings, manager = mini_app
    _edit(manager, ANSWER, {"answer": "您好，请到街道社会保障事务所申请，街道在5个工作日内完成审核。"}, "时限缩短")
    first = manager.get(f"/v1/kbs/mini/records/{ANSWER}/revisions/1").json()
    second = manager.get(f"/v1/kbs/mini/records/{ANSWER}/revisions/2").json()
    assert "10个工作日" in first["record"]["answer"] and first["action"] == "create"
    assert (second["revision"], second["author"], second["reason"], second["action"]) == (2, "test-manager", "时限缩短", "update")
    assert second["record"]["answer"] == "您好，请到街道社会保障事务所申请，街道在5个工作日内完成审核。"
    r = manager.get(f"/v1/kbs/mini/records/{ANSWER}/revisions/9")
    assert r.status_code == 404 and r.json()["detail"] == f"记录“{ANSWER}”没有第 9 版"
    r = manager.get("/v1/kbs/mini/records/t-ans-none/revisions/1")
    assert r.status_code == 404 and r.json()["detail"] == "知识库“mini”中没有编号为“t-ans-none”的记录"
    assert manager.get(f"/v1/kbs/mini/records/{ANSWER}/revisions/0").json()["detail"] == "path.revision：数值过小"
    with api_client(settings, "reviewer") as reviewer:
        assert reviewer.get(f"/v1/kbs/mini/records/{ANSWER}/revisions/1").status_code == 403


def test_lifecycle_lists_the_policy_coming_into_force_and_the_answers_citing_it(mini_app):
    settings, manager = mini_app
    body = manager.get("/v1/kbs/mini/lifecycle").json()
    assert (body["today"], body["days"]) == ("2025-02-15", 30)
    assert body["events"] == [{
        "id": POLICY, "title": "测试市老年人津贴发放办法", "doc_no": "测民老发〔2025〕3号", "event": "生效", "date": "2025-03-01",
        "days_left": 14, "status_today": "未生效",
        "cited_by": [{"id": "t-ans-allowance-001", "title": "高龄津贴的发放标准是多少？", "articles": ["第二条"]},
                     {"id": ANSWER, "title": "高龄津贴去哪里申请？", "articles": ["第三条"]}]}]
    assert manager.get("/v1/kbs/mini/lifecycle", params={"days": 13}).json()["events"] == []
    _edit(manager, "t-pol-allowance-2019", {"expires": "2025-02-20"}, "到期")
    events = manager.get("/v1/kbs/mini/lifecycle").json()["events"]
    assert [(e["id"], e["event"], e["date"], e["days_left"]) for e in events] == [
        ("t-pol-allowance-2019", "失效", "2025-02-20", 5), (POLICY, "生效", "2025-03-01", 14)]
    r = manager.get("/v1/kbs/mini/lifecycle", params={"days": 0})
    assert r.status_code == 422 and r.json()["detail"] == "query.days：数值过小"
    assert manager.get("/v1/kbs/mini/lifecycle", params={"days": "三十"}).json()["detail"] == "query.days：应为整数"
    r = manager.get("/v1/kbs/nope/lifecycle")
    assert r.status_code == 404 and r.json()["detail"] == "未知的知识库“nope”"
    for role in ("agent", "reviewer"):
        with api_client(settings, role) as other:
            assert other.get("/v1/kbs/mini/lifecycle").status_code == 403


def test_a_manager_reads_the_kbs_audit_but_not_keys_and_logins(mini_app):
    settings, manager = mini_app
    _edit(manager, ANSWER, {"answer": "您好，请到街道社会保障事务所申请，街道在7个工作日内完成审核。"}, "时限调整")
    with api_client(settings, "agent") as agent:
        agent.post("/v1/login", json={"key": agent.headers["Authorization"].split()[1]})
        assert agent.get("/v1/kbs/mini/audit").status_code == 403
    entries = manager.get("/v1/kbs/mini/audit").json()["entries"]
    assert {e["kb"] for e in entries} == {"mini"}
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)
    assert not {"login", "key_create"} & {e["action"] for e in entries}
    mine = manager.get("/v1/kbs/mini/audit", params={"actor": "test-manager"}).json()["entries"]
    assert [(e["action"], e["record_id"], e["revision"], e["reason"]) for e in mine] == [("update", ANSWER, 2, "时限调整")]
    by_record = manager.get("/v1/kbs/mini/audit", params={"record_id": ANSWER}).json()["entries"]
    assert [(e["action"], e["revision"]) for e in by_record] == [("update", 2), ("create", 1)]
    assert manager.get("/v1/kbs/mini/audit", params={"since": "2099-01-01"}).json()["entries"] == []
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert len(manager.get("/v1/kbs/mini/audit", params={"since": today, "until": today}).json()["entries"]) == len(entries)
    r = manager.get("/v1/kbs/mini/audit", params={"since": "昨天"})
    assert r.status_code == 422 and r.json()["detail"].startswith("query.since：")
    assert manager.get("/v1/audit").status_code == 403
    with api_client(settings, "reviewer") as reviewer:
        assert reviewer.get("/v1/kbs/mini/audit").status_code == 403
