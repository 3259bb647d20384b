"""The reviewer's side over HTTP on the mini knowledge base: stored interactions, queue, verdicts, drafts, gaps."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from sqlalchemy import select, text, update

from ingest.pipeline import run_ingest
from kb.interactions import InteractionStore, events, feedback, reviews
from kb.store import audit
from tests.conftest import api_client, key_for

ANSWER = "t-ans-allowance-002"
PHONE = "13812345678"
ID_NUMBER = "110101199003074514"
QUESTION = f"高龄津贴去哪里申请，我电话{PHONE}，身份证{ID_NUMBER}"


@pytest.fixture()
def mini_app(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0, "review_sample_rate": 1.0})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "agent") as client:
        yield settings, client


def _as(settings, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_for(settings, f'test-{role}', role)}"}


def _reply_and_mark_wrong(client, question: str = QUESTION) -> dict:
    reply = client.post("/v1/reply", json={"question": question, "kb": "mini"})
    assert reply.status_code == 200, reply.text
    ids = [b["id"] for b in reply.json()["basis"]]
    r = client.post("/v1/feedback", json={"kb": "mini", "target": "reply", "ids": ids, "rating": "wrong",
                                          "question": question, "note": f"回拨{PHONE}", "kb_version": "v-test"})
    assert r.status_code == 200, r.text
    return reply.json()


def test_search_reply_and_classify_are_stored_masked_after_the_answer(mini_app):
    settings, client = mini_app
    r = client.post("/v1/search", json={"query": QUESTION, "kb": "mini", "top_k": 3})
    assert r.status_code == 200
    shown_ids = [h["id"] for h in r.json()["results"]]
    reply = client.post("/v1/reply", json={"question": QUESTION, "kb": "mini"}).json()
    store: InteractionStore = client.app.state.interactions
    stored = store.events("mini")
    assert [e.kind for e in stored] == ["reply", "result"]
    masked = "高龄津贴去哪里申请，我电话【手机号】，身份证【身份证号】"
    assert [e.question for e in stored] == [masked, masked]
    assert stored[1].shown["ids"] == shown_ids
    assert stored[0].shown["ids"] == [b["id"] for b in reply["basis"]]
    assert stored[0].shown["escalate"] is reply["escalate"] and stored[0].shown["confidence"] == reply["confidence"]
    live = client.app.state.readiness.service.index("mini").vid
    assert [e.kb_version for e in stored] == [live, live]
    with client.app.state.store.engine.connect() as c:
        raw = json.dumps([list(map(str, row)) for row in c.execute(select(events)).all()], ensure_ascii=False)
    assert PHONE not in raw and ID_NUMBER not in raw


def test_feedback_queue_masks_and_shows_the_reply_that_was_marked(mini_app):
    settings, client = mini_app
    reply = _reply_and_mark_wrong(client)
    r = client.get("/v1/review/queue", params={"source": "feedback", "kb": "mini"}, headers=_as(settings, "reviewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "feedback" and len(body["items"]) == 1
    item = body["items"][0]
    assert item["id"].startswith("f") and item["kind"] == "reply" and item["rating"] == "wrong"
    assert item["question"] == "高龄津贴去哪里申请，我电话【手机号】，身份证【身份证号】"
    assert item["note"] == "回拨【手机号】"
    assert item["kb_version"] == "v-test"
    assert item["shown"]["reply"] == reply["reply"]
    assert PHONE not in r.text and ID_NUMBER not in r.text


def test_sample_queue_holds_replies_and_classifications_at_the_configured_rate(mini_app):
    settings, client = mini_app
    client.post("/v1/reply", json={"question": "高龄津贴怎么领", "kb": "mini"})
    client.post("/v1/search", json={"query": "高龄津贴怎么领", "kb": "mini"})
    items = client.get("/v1/review/queue", params={"source": "sample"}, headers=_as(settings, "reviewer")).json()["items"]
    assert [i["kind"] for i in items] == ["reply"]  # searches are reviewed through feedback, not sampled
    store: InteractionStore = client.app.state.interactions
    with store.engine.begin() as c:
        c.execute(update(events).values(sample=0.5))
    client.app.state.settings = settings.model_copy(update={"review_sample_rate": 0.4})
    assert client.get("/v1/review/queue", params={"source": "sample"},
                      headers=_as(settings, "reviewer")).json()["items"] == []


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_queue_and_verdict_need_the_reviewer_role(mini_app, role):
    settings, client = mini_app
    r = client.get("/v1/review/queue", headers=_as(settings, role))
    assert r.status_code == 403
    assert r.json()["detail"].endswith("无权执行此操作，需要：质检评审、系统管理员")
    assert client.post("/v1/review/f1", json={"verdict": "correct"}, headers=_as(settings, role)).status_code == 403


@pytest.mark.parametrize(("params", "status", "detail"), [
    ({"source": "everything"}, 422, "来源“everything”无效，可选：feedback（坐席标记）、sample（随机抽检）"),
    ({"kb": "nosuch"}, 404, "未知的知识库“nosuch”"),
])
def test_bad_queue_parameters_are_refused_in_chinese(mini_app, params, status, detail):
    settings, client = mini_app
    r = client.get("/v1/review/queue", params=params, headers=_as(settings, "reviewer"))
    assert (r.status_code, r.json()["detail"]) == (status, detail)


def _correction(record: dict, **changes) -> dict:
    return {"library": "answer", "record_id": ANSWER, "record": {**record, **changes}}


def test_correction_becomes_a_draft_and_reaches_agents_only_after_approval(mini_app):
    settings, client = mini_app
    _reply_and_mark_wrong(client)
    reviewer, manager = _as(settings, "reviewer"), _as(settings, "manager")
    item = client.get("/v1/review/queue", headers=reviewer).json()["items"][0]
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}", headers=reviewer).json()["record"]
    fixed = record["answer"].replace("10个工作日", "3个工作日")
    r = client.post(f"/v1/review/{item['id']}", json={"verdict": "needs_fix", "note": "时限已缩短",
                                                       "correction": _correction(record, answer=fixed)}, headers=reviewer)
    assert r.status_code == 200, r.text
    draft_id = r.json()["draft_id"]
    assert r.json()["verdict"] == "needs_fix" and isinstance(draft_id, int)
    assert client.get("/v1/review/queue", headers=reviewer).json()["items"] == []  # decided items leave the queue
    assert "3个工作日" not in client.post("/v1/reply", json={"question": "高龄津贴去哪里申请", "kb": "mini"}).json()["reply"]

    drafts = client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"]
    assert [(d["id"], d["record_id"], d["base_revision"], d["stale"], d["proposed_by"]) for d in drafts] == [
        (draft_id, ANSWER, 1, False, "test-reviewer")]
    assert drafts[0]["diff"] == [{"field": "answer", "old": record["answer"], "new": fixed}]
    assert client.post(f"/v1/kbs/mini/drafts/{draft_id}/approve", headers=reviewer).status_code == 403
    r = client.post(f"/v1/kbs/mini/drafts/{draft_id}/approve", headers=manager)
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["indexed"], r.json()["draft"]["status"]) == (2, True, "approved")
    assert "3个工作日" in client.post("/v1/reply", json={"question": "高龄津贴去哪里申请", "kb": "mini"}).json()["reply"]
    with client.app.state.store.engine.connect() as c:
        entry = c.execute(select(audit).where(audit.c.record_id == ANSWER).order_by(audit.c.seq.desc())).first()
    assert (entry.actor, entry.proposed_by, entry.action, entry.revision) == ("test-manager", "test-reviewer", "update", 2)
    r = client.post(f"/v1/kbs/mini/drafts/{draft_id}/approve", headers=manager)
    assert (r.status_code, r.json()["detail"]) == (409, f"草稿 #{draft_id} 已批准（test-manager），不能再次处理")


def test_stale_draft_is_refused_not_overwriting(mini_app):
    settings, client = mini_app
    _reply_and_mark_wrong(client)
    reviewer, manager = _as(settings, "reviewer"), _as(settings, "manager")
    item = client.get("/v1/review/queue", headers=reviewer).json()["items"][0]
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}", headers=reviewer).json()["record"]
    r = client.post(f"/v1/review/{item['id']}", json={"verdict": "wrong", "correction": _correction(
        record, answer=record["answer"].replace("10个工作日", "3个工作日"))}, headers=reviewer)
    draft_id = r.json()["draft_id"]
    edited = {**record, "answer": record["answer"].replace("户口簿", "户口本")}
    assert client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": edited, "reason": "措辞"},
                      headers={**manager, "If-Match": '"1"'}).status_code == 200
    assert client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"][0]["stale"] is True
    r = client.post(f"/v1/kbs/mini/drafts/{draft_id}/approve", headers=manager)
    assert r.status_code == 409
    assert r.json()["detail"] == (f"草稿 #{draft_id} 基于记录“{ANSWER}”的第 1 版，该记录现已是第 2 版（test-manager 修改）。"
                                  "为免覆盖他人修改，不能直接批准：请驳回后按最新版本重新起草")
    current = client.get(f"/v1/kbs/mini/records/{ANSWER}", headers=manager).json()
    assert current["revision"] == 2 and "户口本" in current["record"]["answer"] and "3个工作日" not in current["record"]["answer"]
    r = client.post(f"/v1/kbs/mini/drafts/{draft_id}/reject", json={"reason": "  "}, headers=manager)
    assert r.status_code == 422 and "驳回草稿必须说明原因" in r.json()["detail"]
    r = client.post(f"/v1/kbs/mini/drafts/{draft_id}/reject", json={"reason": "已按新版另行修改"}, headers=manager)
    assert r.status_code == 200 and (r.json()["status"], r.json()["reason"]) == ("rejected", "已按新版另行修改")
    assert client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"] == []
    assert [d["id"] for d in client.get("/v1/kbs/mini/drafts", params={"status": "rejected"},
                                        headers=reviewer).json()["drafts"]] == [draft_id]


def _drafted(client, settings, change: str = "3个工作日") -> tuple[int, dict]:
    _reply_and_mark_wrong(client)
    reviewer = _as(settings, "reviewer")
    item = client.get("/v1/review/queue", headers=reviewer).json()["items"][0]
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}", headers=reviewer).json()["record"]
    r = client.post(f"/v1/review/{item['id']}", json={"verdict": "needs_fix", "note": "时限已缩短", "correction":
                                                       _correction(record, answer=record["answer"].replace("10个工作日", change))},
                    headers=reviewer)
    assert r.status_code == 200, r.text
    return r.json()["draft_id"], record


def test_manager_revises_a_draft_before_approving_and_the_revision_is_served(mini_app):
    settings, client = mini_app
    draft_id, record = _drafted(client, settings)
    manager = _as(settings, "manager")
    url = f"/v1/kbs/mini/drafts/{draft_id}"
    (before,) = client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"]
    revised = {**before["record"], "answer": before["record"]["answer"].replace("3个工作日", "5个工作日")}
    r = client.put(url, json={"record": revised, "note": "核实后为5个工作日", "edits": 0}, headers=manager)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "pending" and "5个工作日" in body["record"]["answer"]
    assert body["diff"] == [{"field": "answer", "old": record["answer"], "new": revised["answer"]}]
    assert [(e["by"], e["fields"], e["note"]) for e in body["edits"]] == [("test-manager", ["answer"], "核实后为5个工作日")]
    assert "5个工作日" not in client.post("/v1/reply", json={"question": "高龄津贴去哪里申请", "kb": "mini"}).json()["reply"]

    r = client.put(url, json={"record": {**revised, "answer": revised["answer"] + "。"}, "edits": 0}, headers=manager)
    assert (r.status_code, r.json()["detail"]) == (
        409, f"草稿 #{draft_id} 在您打开后已被修改（现有 1 次修改，您看到的是 0 次）：请刷新后在最新内容上修改")
    r = client.put(url, json={"record": revised, "edits": 1}, headers=manager)
    assert (r.status_code, r.json()["detail"]) == (422, f"草稿 #{draft_id} 没有改动：提交的内容与草稿相同")

    r = client.post(f"{url}/approve", headers=manager)
    assert r.status_code == 200, r.text
    assert "5个工作日" in client.post("/v1/reply", json={"question": "高龄津贴去哪里申请", "kb": "mini"}).json()["reply"]
    with client.app.state.store.engine.connect() as c:
        rows = c.execute(select(audit).where(audit.c.record_id == ANSWER).order_by(audit.c.seq)).all()
    assert [(e.action, e.actor, e.proposed_by) for e in rows[-2:]] == [
        ("draft_edit", "test-manager", None), ("update", "test-manager", "test-reviewer")]
    assert rows[-1].reason == f"采纳评审更正（草稿 #{draft_id}，test-reviewer 提出，test-manager 修改）：时限已缩短"
    r = client.put(url, json={"record": revised}, headers=manager)
    assert (r.status_code, r.json()["detail"]) == (409, f"草稿 #{draft_id} 已批准（test-manager），不能再次处理")


def test_draft_revisions_are_validated_and_limited_by_role(mini_app):
    settings, client = mini_app
    draft_id, record = _drafted(client, settings)
    url = f"/v1/kbs/mini/drafts/{draft_id}"
    manager, reviewer = _as(settings, "manager"), _as(settings, "reviewer")
    draft = client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"][0]["record"]
    r = client.put(url, json={"record": {**draft, "answer": "太短", "topics": ["no_such_topic"]}}, headers=manager)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"answer", "topics"}
    assert "主题代码 no_such_topic 不在 taxonomy.yaml 的子主题中" in r.json()["detail"]
    r = client.put(url, json={"record": {**draft, "id": "t-ans-other-001"}}, headers=manager)
    assert r.status_code == 422 and r.json()["detail"] == f"记录中的编号“t-ans-other-001”与地址中的编号“{ANSWER}”不一致"
    assert client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"][0]["record"] == draft  # nothing stored
    assert client.put(url, json={"record": draft}, headers=_as(settings, "agent")).status_code == 403
    other = {"Authorization": f"Bearer {key_for(settings, 'test-reviewer-2', 'reviewer')}"}
    r = client.put(url, json={"record": {**draft, "answer": draft["answer"] + "。"}}, headers=other)
    assert (r.status_code, r.json()["detail"]) == (
        403, f"草稿 #{draft_id} 由 test-reviewer 提出：评审员只能修改自己提出的草稿，其他修改请由知识管理员完成")
    r = client.put(url, json={"record": {**draft, "answer": draft["answer"] + "。"}, "note": "补句号"}, headers=reviewer)
    assert r.status_code == 200 and r.json()["edits"][0]["by"] == "test-reviewer"
    r = client.put(url, json={"record": draft, "edits": -1}, headers=manager)
    assert r.status_code == 422
    r = client.put("/v1/kbs/mini/drafts/999", json={"record": draft}, headers=manager)
    assert (r.status_code, r.json()["detail"]) == (404, "知识库“mini”中没有编号为 999 的草稿")
    r = client.put(url, json={"record": draft, "extra": 1}, headers=manager)
    assert r.status_code == 422


def test_invalid_correction_is_refused_with_field_errors_and_stores_nothing(mini_app):
    settings, client = mini_app
    _reply_and_mark_wrong(client)
    reviewer = _as(settings, "reviewer")
    item = client.get("/v1/review/queue", headers=reviewer).json()["items"][0]
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}", headers=reviewer).json()["record"]
    r = client.post(f"/v1/review/{item['id']}", json={"verdict": "needs_fix", "correction": _correction(
        record, answer="太短", topics=["no_such_topic"])}, headers=reviewer)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"answer", "topics"}, r.json()
    assert "主题代码 no_such_topic 不在 taxonomy.yaml 的子主题中" in r.json()["detail"]
    assert client.get("/v1/kbs/mini/drafts", headers=reviewer).json()["drafts"] == []
    assert len(client.get("/v1/review/queue", headers=reviewer).json()["items"]) == 1  # still to be decided


@pytest.mark.parametrize(("item", "body", "status", "detail"), [
    ("x1", {"verdict": "correct"}, 404, "评审条目编号“x1”无效：应为 f<数字>（坐席标记）或 e<数字>（抽检）"),
    ("f999", {"verdict": "correct"}, 404, "没有编号为“f999”的评审条目（可能已超过保留期被清除）"),
    ("FIRST", {"verdict": "perfect"}, 422, "评审结论应为 correct（正确）、needs_fix（需修改）或 wrong（错误）"),
])
def test_bad_verdicts_are_refused_in_chinese(mini_app, item, body, status, detail):
    settings, client = mini_app
    _reply_and_mark_wrong(client)
    if item == "FIRST":
        item = client.get("/v1/review/queue", headers=_as(settings, "reviewer")).json()["items"][0]["id"]
    r = client.post(f"/v1/review/{item}", json=body, headers=_as(settings, "reviewer"))
    assert r.status_code == status
    assert detail in r.json()["detail"]


def test_a_verdict_is_given_once_and_correct_takes_no_correction(mini_app):
    settings, client = mini_app
    _reply_and_mark_wrong(client)
    reviewer = _as(settings, "reviewer")
    item = client.get("/v1/review/queue", headers=reviewer).json()["items"][0]["id"]
    r = client.post(f"/v1/review/{item}", json={"verdict": "correct", "correction": {
        "library": "answer", "record": {}}}, headers=reviewer)
    assert (r.status_code, r.json()["detail"]) == (422, "评审结论为“正确”时不应附带更正；请改选“需修改”或“错误”")
    r = client.post(f"/v1/review/{item}", json={"verdict": "correct", "note": f"核实{PHONE}"}, headers=reviewer)
    assert r.status_code == 200 and r.json()["draft_id"] is None
    r = client.post(f"/v1/review/{item}", json={"verdict": "wrong"}, headers=reviewer)
    assert (r.status_code, r.json()["detail"]) == (409, f"条目“{item}”已评审过，不能重复评审")
    with client.app.state.store.engine.connect() as c:
        assert c.execute(select(reviews.c.note)).scalars().all() == ["核实【手机号】"]


def test_new_answer_draft_creates_a_record_when_approved(mini_app):
    settings, client = mini_app
    _reply_and_mark_wrong(client)
    reviewer, manager = _as(settings, "reviewer"), _as(settings, "manager")
    item = client.get("/v1/review/queue", headers=reviewer).json()["items"][0]["id"]
    new = {"id": "t-ans-allowance-009", "question": "高龄津贴能不能补发", "variants": ["漏领的高龄津贴能补吗", "津贴没领到能补发吗"],
           "answer": "您好，因故未及时申请的，可向街道社会保障事务所说明情况，经核实后按规定补发。", "topics": ["elderly_allowance"]}
    draft_id = client.post(f"/v1/review/{item}", json={"verdict": "needs_fix", "correction": {
        "library": "answer", "record": new}}, headers=reviewer).json()["draft_id"]
    draft = client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"][0]
    assert (draft["id"], draft["base_revision"], draft["stale"]) == (draft_id, None, False)
    r = client.post(f"/v1/kbs/mini/drafts/{draft_id}/approve", headers=manager)
    assert r.status_code == 200 and r.json()["revision"] == 1
    got = client.get("/v1/kbs/mini/records/t-ans-allowance-009", headers=manager).json()
    assert got["updated_by"] == "test-manager" and got["record"]["question"] == "高龄津贴能不能补发"
    (done,) = client.get("/v1/kbs/mini/drafts", params={"status": "approved"}, headers=manager).json()["drafts"]
    assert (done["stale"], done["published_revision"], done["diff"]) == (False, 1, [])


def test_retention_purge_removes_old_interactions_and_never_knowledge(mini_app):
    settings, client = mini_app
    _reply_and_mark_wrong(client)
    store: InteractionStore = client.app.state.interactions
    engine = client.app.state.store.engine
    with engine.connect() as c:
        knowledge = [c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in ("records", "revisions", "audit")]
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=731)
    with engine.begin() as c:
        c.execute(update(feedback).values(created=old))
        c.execute(update(events).where(events.c.kind == "reply").values(created=old))
    assert store.purge(730) == {"interaction_feedback": 1, "interaction_events": 1, "interaction_reviews": 0,
                                "interaction_drafts": 0}
    assert [e.kind for e in store.events("mini")] == []
    with engine.connect() as c:
        assert [c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in ("records", "revisions", "audit")] == knowledge


def test_purge_runs_at_start_up(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0, "interaction_retention_days": 30})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "agent") as client:
        client.post("/v1/search", json={"query": "高龄津贴", "kb": "mini"})
        with client.app.state.store.engine.begin() as c:
            c.execute(update(events).values(created=dt.datetime.now(dt.UTC) - dt.timedelta(days=31)))
    with api_client(settings, "agent") as client:
        assert client.app.state.interactions.events("mini") == []


def test_cli_purge(mini_app, monkeypatch):
    from typer.testing import CliRunner

    from cli.main import app

    settings, client = mini_app
    client.post("/v1/search", json={"query": "高龄津贴", "kb": "mini"})
    with client.app.state.store.engine.begin() as c:
        c.execute(update(events).values(created=dt.datetime.now(dt.UTC) - dt.timedelta(days=10)))
    monkeypatch.setenv("KB_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(app, ["interactions", "purge", "--days", "9"])
    assert result.exit_code == 0, result.output
    assert "问答 1 条" in result.output and "反馈 0 条" in result.output
    assert client.app.state.interactions.events("mini") == []


UNANSWERED = ["小区电梯坏了三天没人修", "我们楼的电梯老是坏谁来管", "电梯故障物业不修怎么办", "居民楼电梯维修找哪个部门"]


def test_unanswered_questions_group_into_a_gap_with_export_and_draft(mini_app):
    settings, client = mini_app
    for q in UNANSWERED + UNANSWERED[:2]:
        assert client.post("/v1/search", json={"query": q, "kb": "mini"}).status_code == 200
    client.post("/v1/search", json={"query": "高龄津贴的发放标准是多少？", "kb": "mini"})  # answered: no gap
    manager = _as(settings, "manager")
    r = client.get("/v1/kbs/mini/gaps", headers=_as(settings, "reviewer"))
    assert r.status_code == 200, r.text
    gaps = r.json()
    assert len(gaps) == 1, gaps
    gap = gaps[0]
    assert gap["count"] == 6 and gap["reasons"] == ["无相近结果"]
    assert sorted(gap["examples"]) == sorted(UNANSWERED)
    assert gap["examples"][:2] == sorted(UNANSWERED[:2])  # asked twice: first
    assert set(gap["closest"]) == {"id", "title", "score"}
    assert client.get("/v1/kbs/mini/gaps", headers=_as(settings, "agent")).status_code == 403
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert client.get("/v1/kbs/mini/gaps", params={"since": future}, headers=manager).json() == []

    x = client.get("/v1/kbs/mini/gaps.xlsx", headers=manager)
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(x.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "缺口编号", "来电次数", "典型问法（已脱敏）", "原因")
    assert rows[1][:3] == (1, gap["id"], 6) and rows[1][3].split("\n") == gap["examples"]

    r = client.post(f"/v1/kbs/mini/gaps/{gap['id']}/draft", json={"record": {
        "answer": "您好，住宅电梯故障请先联系物业服务企业报修，物业不处理的可向所在街道反映。", "topics": ["elderly_allowance"]}},
        headers=manager)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["record"]["question"] == gap["examples"][0]
    assert draft["record"]["variants"] == gap["examples"][1:4]
    assert draft["record_id"] == f"t-ans-gap-{gap['id'][1:]}" and draft["item_id"] == gap["id"]
    r = client.post("/v1/kbs/mini/gaps/gnosuch/draft", json={}, headers=manager)
    assert r.status_code == 404 and r.json()["detail"].startswith("没有编号为“gnosuch”的知识缺口")


NOISE = ["楼下饭店油烟太大熏得没法开窗", "饭馆排油烟管道对着我家窗户", "餐馆油烟扰民向哪里投诉"]


def test_different_missing_answers_are_different_gaps_ranked_by_count(mini_app):
    settings, client = mini_app
    for q in UNANSWERED + NOISE + NOISE:
        client.post("/v1/search", json={"query": q, "kb": "mini"})
    gaps = client.get("/v1/kbs/mini/gaps", headers=_as(settings, "reviewer")).json()
    assert [(g["count"], sorted(g["examples"])) for g in gaps] == [(6, sorted(NOISE)), (4, sorted(UNANSWERED))]


def test_escalated_and_useless_questions_are_gaps(mini_app):
    settings, client = mini_app
    r = client.post("/v1/reply", json={"question": "明年高龄津贴会不会涨", "kb": "mini"}).json()
    assert r["escalate"] is True
    client.post("/v1/feedback", json={"kb": "mini", "target": "result", "ids": [], "rating": "useless",
                                      "question": "养老驿站晚上几点关门"})
    gaps = client.get("/v1/kbs/mini/gaps", headers=_as(settings, "reviewer")).json()
    assert sorted((g["examples"], g["reasons"]) for g in gaps) == [
        (["养老驿站晚上几点关门"], ["没用"]), (["明年高龄津贴会不会涨"], ["转办"])]


def test_interactions_travel_with_the_handover_export(mini_app, tmp_path):
    from kb.exporting import export_kb, import_kb
    from kb.settings import PROJECT_ROOT, Settings
    from kb.storefactory import open_store

    settings, client = mini_app
    _reply_and_mark_wrong(client)
    reviewer = _as(settings, "reviewer")
    item = client.get("/v1/review/queue", headers=reviewer).json()["items"][0]["id"]
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}", headers=reviewer).json()["record"]
    verdict = client.post(f"/v1/review/{item}", json={"verdict": "wrong", "correction": _correction(
        record, answer=record["answer"].replace("10个工作日", "3个工作日"))}, headers=reviewer).json()
    manager = _as(settings, "manager")
    url = f"/v1/kbs/mini/drafts/{verdict['draft_id']}"
    (listed,) = client.get("/v1/kbs/mini/drafts", headers=manager).json()["drafts"]
    drafted = listed["record"]
    edited = client.put(url, json={"record": {**drafted, "answer": drafted["answer"].replace("3个工作日", "5个工作日")},
                                   "note": "核实后为5个工作日", "edits": 0}, headers=manager).json()
    (edit,) = edited["edits"]
    archive = tmp_path / "mini.zip"
    manifest = export_kb(settings, client.app.state.store, "mini", archive, "tester")
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        exported = {n: zf.read(n).decode() for n in zf.namelist() if n.startswith("interactions/")}
    assert sorted(exported) == ["interactions/interaction_drafts.jsonl", "interactions/interaction_events.jsonl",
                                "interactions/interaction_feedback.jsonl", "interactions/interaction_reviews.jsonl"]
    assert set(exported) <= set(manifest["files"])
    assert PHONE not in "".join(exported.values()) and ID_NUMBER not in "".join(exported.values())

    fresh = Settings(data_dir=tmp_path / "fresh", embed_cache=settings.embed_cache_path,
                     corpus_dir=PROJECT_ROOT / "corpus", kbs=["mini"])
    store = open_store(fresh)
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from kb.drafts import drafts as drafts_table

    InteractionStore(store.engine)  # creates the interaction tables, as the service does at start-up
    with store.engine.begin() as c:  # another kb's draft already holds the imported draft's old number
        c.execute(insert(drafts_table).values(created=datetime.now(UTC), kb="other", library="answer", record_id="x",
                                              record="{}", proposed_by="someone"))
    import_kb(fresh, store, archive, "tester")
    imported = InteractionStore(store.engine)
    (row,) = imported.feedback("mini")
    assert row.question == "高龄津贴去哪里申请，我电话【手机号】，身份证【身份证号】" and row.rating == "wrong"
    assert [e.kind for e in imported.events("mini")] == ["reply"]
    assert imported.reviewed([f"f{row.id}"]) == {f"f{row.id}"}
    with store.engine.connect() as c:
        (draft,) = c.execute(select(drafts_table).where(drafts_table.c.kb == "mini")).mappings().all()
        (replayed,) = c.execute(select(audit).where(audit.c.action == "draft_edit")).mappings().all()
    assert (draft["record_id"], draft["status"], draft["item_id"]) == (ANSWER, "pending", f"f{row.id}")
    assert "5个工作日" in json.loads(draft["record"])["answer"] and draft["id"] != verdict["draft_id"]
    # the edit trail follows the draft to its new number, with who made it and when
    assert (replayed["actor"], replayed["kb"], replayed["details"]["draft_id"], replayed["details"]["fields"]) == (
        "test-manager", "mini", draft["id"], ["answer"])
    assert replayed["details"]["imported"] == {"from_kb": "mini", "draft_id": verdict["draft_id"],
                                                "seq": replayed["details"]["imported"]["seq"], "time": edit["time"],
                                                "by": "tester"}
    from kb.drafts import DraftDesk

    desk = DraftDesk(store, editor=None)  # reading a trail needs no editor
    (trail,) = desk.edits(desk.get("mini", draft["id"]))
    assert (trail["by"], trail["time"], trail["note"]) == ("test-manager", edit["time"], "核实后为5个工作日")


def test_classifications_are_stored_masked_and_sampled(sample_settings, sample_classifier):
    settings = sample_settings.model_copy(update={"review_sample_rate": 1.0})
    ticket = f"市民反映家中老人高龄津贴一直没有到账，联系电话{PHONE}，请核实。"
    with api_client(settings, "agent") as client:
        r = client.post("/v1/classify", json={"text": ticket, "kb": "minzheng"})
        assert r.status_code == 200, r.text
        decision = r.json()
        (event,) = client.app.state.interactions.events("minzheng", kinds=("classification",), limit=1)
        assert event.question == "市民反映家中老人高龄津贴一直没有到账，联系电话【手机号】，请核实。"
        assert event.kb_version == decision["model_version"]
        assert event.shown == {k: decision[k] for k in ("industry", "in_scope", "topic", "subtopic", "department",
                                                         "confidence", "needs_review", "filter_reason")}
        items = client.get("/v1/review/queue", params={"source": "sample", "kb": "minzheng"},
                           headers=_as(settings, "reviewer")).json()["items"]
        assert items[0]["id"] == f"e{event.id}" and items[0]["kind"] == "classification"
        assert PHONE not in json.dumps(items, ensure_ascii=False)
