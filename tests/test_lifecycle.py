"""Policy lifecycle (未生效, expiry, repeal) on a fixed Beijing date, and the manager's check report."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.pipeline import run_ingest
from kb.lifecycle import status_on
from tests.conftest import api_client

PENDING_POLICY = {
    "id": "t-pol-allowance-2027", "title": "测试市高龄津贴发放办法（2027年修订）", "doc_no": "测民老发〔2026〕9号",
    "issuer": "测试市民政局", "issued": "2026-11-20", "effective": "2027-01-01", "status": "有效",
    "scope": "北京市", "topics": ["elderly_allowance"],
    "body": "# 测试市高龄津贴发放办法（2027年修订）\n\n第一条　为提高高龄老年人生活质量，制定本办法。\n\n"
            "第二条　年满八十周岁的老年人每月领取高龄津贴一百五十元，九十周岁以上每月领取六百元。\n",
}


def test_status_on_a_day():
    day = dt.date(2026, 12, 1)
    assert status_on("有效", "2027-01-01", "", day) == "未生效"
    assert status_on("有效", "2026-01-01", "2026-12-01", day) == "已废止"
    assert status_on("有效", "2026-01-01", "2026-12-02", day) == "有效"
    assert status_on("已修订", "2020-01-01", "", day) == "已修订"


@pytest.mark.parametrize("today, visible, status", [("2026-12-01", False, "未生效"), ("2027-01-01", True, "有效")])
def test_a_policy_effective_later_is_hidden_until_its_day(mini_settings, mini_corpus, today, visible, status):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0, "today": dt.date.fromisoformat(today)})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as client:
        r = client.post("/v1/kbs/mini/records", json={"library": "policy", "record": PENDING_POLICY, "reason": "新政策"})
        assert r.status_code == 201, r.text
        body = {"query": "高龄津贴每月一百五十元", "kb": "mini", "libraries": ["policy"], "top_k": 5}
        ids = [h["doc_id"] for h in client.post("/v1/search", json=body).json()["results"]]
        assert ("t-pol-allowance-2027" in ids) is visible
        pending = client.post("/v1/search", json={**body, "include_pending": True}).json()["results"]
        hit = next(h for h in pending if h["doc_id"] == "t-pol-allowance-2027")
        assert hit["status"] == status


def test_expired_policy_is_not_current_and_the_check_lists_what_cites_it(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0, "today": dt.date(2026, 12, 1)})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as client:
        current = client.get("/v1/kbs/mini/records/t-pol-allowance-2025")
        record = {**current.json()["record"], "expires": "2026-11-30"}
        r = client.put("/v1/kbs/mini/records/t-pol-allowance-2025", json={"record": record, "reason": "到期"},
                       headers={"If-Match": current.headers["etag"]})
        assert r.status_code == 200, r.text
        hits = client.post("/v1/search", json={"query": "高龄津贴发放标准", "kb": "mini", "libraries": ["policy"]}).json()
        assert "t-pol-allowance-2025" not in [h["doc_id"] for h in hits["results"]]
        report = client.get("/v1/kbs/mini/check").json()
        assert sorted((s["answer_id"], s["article"], s["reason"]) for s in report["stale_references"]) == [
            ("t-ans-allowance-001", "第二条", "引用的政策已废止"), ("t-ans-allowance-002", "第三条", "引用的政策已废止")]
        bad = {**record, "expires": "2020-01-01"}
        r = client.put("/v1/kbs/mini/records/t-pol-allowance-2025", json={"record": bad}, headers={"If-Match": "2"})
        assert r.status_code == 422 and r.json()["errors"][0]["reason"] == "失效日期 expires 必须晚于施行日期 effective"
        assert client.get("/v1/kbs/mini/check", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_check_lists_an_answer_whose_office_hours_disagree_with_the_directory(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as client:
        assert client.get("/v1/kbs/mini/check").json()["hours_conflicts"] == []
        current = client.get("/v1/kbs/mini/records/t-ans-allowance-002")
        record = current.json()["record"]
        wrong = {**record, "answer": record["answer"] + "东四街道社会保障事务所工作日8:30至12:00、13:00至17:00办公。"}
        r = client.put("/v1/kbs/mini/records/t-ans-allowance-002", json={"record": wrong, "reason": "补充办公时间"},
                       headers={"If-Match": current.headers["etag"]})
        assert r.status_code == 200, r.text
        report = client.get("/v1/kbs/mini/check").json()
        assert report["hours_conflicts"] == [{
            "answer_id": "t-ans-allowance-002", "office": "东四街道社会保障事务所", "hours_in_record": "8:30、12:00、13:00、17:00",
            "contacts": [{"contact_id": "t-con-0003", "unit": "东四街道社会保障事务所", "directory_hours": "工作日 9:00-17:00"}]}]
        assert report["problems"] >= 1
        # The directory's own hours read in full, or a Saturday opening, are not disagreements.
        for extra in ("东四街道社会保障事务所工作日9:00至17:00办公。", "东四街道社会保障事务所每月第一个星期六8:30至12:00开放。"):
            r = client.put("/v1/kbs/mini/records/t-ans-allowance-002", json={"record": {**record, "answer": record["answer"] + extra},
                           "reason": "改正办公时间"}, headers={"If-Match": r.headers["etag"]})
            assert r.status_code == 200, r.text
            assert client.get("/v1/kbs/mini/check").json()["hours_conflicts"] == [], extra
