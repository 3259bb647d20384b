"""Knowledge management over HTTP: records, revisions, roles, sessions, audit, files vs edits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update

from ingest.pipeline import run_ingest
from kb.store import audit
from kb.storefactory import open_store
from tests.conftest import api_client, key_for

ANSWER = "t-ans-allowance-002"


@pytest.fixture()
def mini_app(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as client:
        yield settings, client


def _search(client, query: str) -> list[dict]:
    r = client.post("/v1/search", json={"query": query, "kb": "mini", "libraries": ["answer"], "top_k": 3})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_get_edit_and_search_the_new_text_at_once(mini_app):
    settings, client = mini_app
    r = client.get(f"/v1/kbs/mini/records/{ANSWER}")
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    body = r.json()
    assert (body["library"], body["revision"], body["status"]) == ("answer", 1, "在用")
    record = body["record"]
    record["answer"] = record["answer"].replace("10个工作日", "5个工作日")
    r = client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": record, "reason": "审核时限缩短"},
                   headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["indexed"], r.json()["updated_by"]) == (2, True, "test-manager")
    assert r.headers["etag"] == '"2"'
    hit = _search(client, "高龄津贴去哪里申请")[0]
    assert hit["id"] == ANSWER and "5个工作日" in hit["snippet"] + client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["record"]["answer"]
    reply = client.post("/v1/reply", json={"question": "高龄津贴去哪里申请", "kb": "mini"}).json()
    assert "5个工作日" in reply["reply"]


def test_update_needs_if_match_and_loses_on_a_stale_revision(mini_app):
    _, client = mini_app
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["record"]
    r = client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": record})
    assert r.status_code == 428
    assert r.json()["detail"] == "修改记录必须在请求头 If-Match 中给出所基于的版本号（先 GET 记录取得 ETag）"
    assert client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": record}, headers={"If-Match": "1"}).status_code == 200
    r = client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": record}, headers={"If-Match": "1"})
    assert r.status_code == 409
    assert r.json()["detail"] == f"记录“{ANSWER}”已被他人修改：当前为第 2 版，您的修改基于第 1 版。请刷新后重新修改。"


def test_concurrent_edits_of_one_record_exactly_one_wins(mini_app):
    _, client = mini_app
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["record"]

    def put(i: int) -> int:
        body = {"record": {**record, "answer": record["answer"] + f"（第{i}次修改）"}, "reason": f"并发{i}"}
        return client.put(f"/v1/kbs/mini/records/{ANSWER}", json=body, headers={"If-Match": "1"}).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(put, range(4)))
    assert codes == [200, 409, 409, 409]
    assert client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["revision"] == 2


def test_invalid_record_is_422_with_field_errors_from_the_ingest_validator(mini_app):
    _, client = mini_app
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["record"]
    bad = {**record, "topics": ["no_such_topic"], "policy_refs": [{"doc": "t-pol-allowance-2025", "article": "第九十九条"}]}
    r = client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": bad}, headers={"If-Match": "1"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "topics", "reason": "主题代码 no_such_topic 不在 taxonomy.yaml 的子主题中"}]
    bad = {**record, "policy_refs": [{"doc": "t-pol-allowance-2025", "article": "第九十九条"}]}
    r = client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": bad}, headers={"If-Match": "1"})
    assert r.json()["errors"] == [{"field": "policy_refs", "reason": "政策 t-pol-allowance-2025 中没有 第九十九条"}]
    r = client.post("/v1/kbs/mini/records", json={"library": "contact", "record": {"id": "t-con-9", "unit": "某单位",
                    "level": "区", "district": "火星区", "phone": "x", "topics": ["elderly_allowance"]}})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"district", "phone"}
    assert client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["revision"] == 1


def test_create_retire_restore_and_history(mini_app):
    _, client = mini_app
    new = {"id": "t-con-0009", "unit": "朝阳区民政局社会救助科", "level": "区", "district": "朝阳区",
           "phone": "010-0200-0009", "address": "朝阳区示例路9号", "hours": "工作日 9:00-17:00",
           "duties": "办理朝阳区低保审核", "topics": ["dibao"]}
    r = client.post("/v1/kbs/mini/records", json={"library": "contact", "record": new, "reason": "新增科室"})
    assert r.status_code == 201 and r.json()["revision"] == 1
    assert client.post("/v1/kbs/mini/records", json={"library": "contact", "record": new}).status_code == 409
    r = client.delete("/v1/kbs/mini/records/t-con-0009", params={"reason": "科室合并"})
    assert (r.status_code, r.json()["status"], r.json()["revision"]) == (200, "已停用", 2)
    contacts = client.post("/v1/search", json={"query": "朝阳区低保审核", "kb": "mini", "libraries": ["contact"]}).json()
    assert "t-con-0009" not in [h["id"] for h in contacts["results"]]
    assert client.delete("/v1/kbs/mini/records/t-con-0009").status_code == 422
    r = client.post("/v1/kbs/mini/records/t-con-0009/restore", json={"revision": 1, "reason": "撤销合并"})
    assert (r.status_code, r.json()["status"], r.json()["revision"]) == (200, "在用", 3)
    contacts = client.post("/v1/search", json={"query": "朝阳区低保审核", "kb": "mini", "libraries": ["contact"]}).json()
    assert "t-con-0009" in [h["id"] for h in contacts["results"]]
    hist = client.get("/v1/kbs/mini/records/t-con-0009/history").json()["revisions"]
    assert [(h["revision"], h["action"], h["author"], h["reason"]) for h in hist] == [
        (1, "create", "test-manager", "新增科室"), (2, "retire", "test-manager", "科室合并"),
        (3, "restore", "test-manager", "撤销合并")]
    assert hist[1]["diff"] == [] and {d["field"] for d in hist[0]["diff"]} >= {"unit", "phone"}
    listed = client.get("/v1/kbs/mini/records", params={"library": "contact", "q": "朝阳"}).json()
    assert [r["id"] for r in listed["records"]] == ["t-con-0002", "t-con-0009"]
    assert client.get("/v1/kbs/mini/records/nope").status_code == 404


def test_roles_keys_and_sessions(mini_app):
    settings, manager = mini_app
    with api_client(settings, "agent") as agent:
        assert agent.post("/v1/search", json={"query": "高龄津贴", "kb": "mini"}).status_code == 200
        r = agent.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": {}}, headers={"If-Match": "1"})
        assert r.status_code == 403
        assert r.json()["detail"] == "当前身份“test-agent”（坐席/工单处理）无权执行此操作，需要：知识管理员、系统管理员"
        assert agent.get("/v1/audit").status_code == 403
        agent.headers.pop("Authorization")
        r = agent.post("/v1/search", json={"query": "高龄津贴", "kb": "mini"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert agent.post("/v1/search", json={"query": "x", "kb": "mini"},
                          headers={"Authorization": "Bearer wrong"}).json()["detail"] == "密钥无效或已被吊销"
        r = agent.post("/v1/login", json={"key": key_for(settings, "test-agent", "agent")})
        assert r.status_code == 200 and r.json() == {"name": "test-agent", "role": "agent"}
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "kb_session=" in cookie
        assert agent.post("/v1/search", json={"query": "高龄津贴", "kb": "mini"}).status_code == 200
        agent.post("/v1/logout")
        assert agent.post("/v1/search", json={"query": "高龄津贴", "kb": "mini"}).status_code == 401
    assert manager.get("/v1/audit").status_code == 403
    with api_client(settings, "admin") as admin:
        entries = admin.get("/v1/audit", params={"actor": "test-agent"}).json()["entries"]
        assert [e["action"] for e in entries] == ["login", "logout"]


def test_failed_logins_are_slowed_down(mini_app):
    settings, client = mini_app
    import time

    client.app.state.settings = settings.model_copy(update={"login_failure_delay": 0.2})
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        assert client.post("/v1/login", json={"key": "guess"}).status_code == 401
        timings.append(time.perf_counter() - start)
    assert timings[0] < 0.2 <= timings[1] and timings[2] >= 0.4


def test_audit_chain_names_every_writer_and_detects_tampering(mini_app):
    settings, client = mini_app
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["record"]
    client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": {**record, "answer": record["answer"] + "。"},
                                                        "reason": "标点"}, headers={"If-Match": "1"})
    store = open_store(settings)
    entries = store.audit_entries(kb="mini", record_id=ANSWER)
    assert [(e.actor, e.action, e.revision, e.reason) for e in entries] == [
        ("ingest", "create", 1, ""), ("test-manager", "update", 2, "标点")]
    n, problems = store.verify_audit()
    assert problems == [] and n == len(store.audit_entries())
    with store.engine.begin() as c:
        c.execute(update(audit).where(audit.c.seq == entries[1].seq).values(reason="改过"))
    assert store.verify_audit()[1] == [f"第 {entries[1].seq} 条审计记录的内容被改动"]


def test_unchanged_file_keeps_the_api_edit_and_a_changed_file_wins_as_a_conflict(mini_app, mini_corpus):
    settings, client = mini_app
    record = client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["record"]
    client.put(f"/v1/kbs/mini/records/{ANSWER}", json={"record": {**record, "answer": record["answer"].replace(
        "10个工作日", "5个工作日")}, "reason": "界面修改"}, headers={"If-Match": "1"})
    again = run_ingest(settings, "mini", [mini_corpus])
    assert (again.kept_edits, again.conflicts, again.updated) == ([ANSWER], [], 0)
    assert "5个工作日" in client.get(f"/v1/kbs/mini/records/{ANSWER}").json()["record"]["answer"]
    answers = mini_corpus / "answers" / "elderly.yaml"
    answers.write_text(answers.read_text(encoding="utf-8").replace("10个工作日", "15个工作日"), encoding="utf-8")
    third = run_ingest(settings, "mini", [mini_corpus])
    assert third.conflicts == [ANSWER]
    current = client.get(f"/v1/kbs/mini/records/{ANSWER}").json()
    assert current["revision"] == 3 and "15个工作日" in current["record"]["answer"]
    hist = client.get(f"/v1/kbs/mini/records/{ANSWER}/history").json()["revisions"]
    assert [h["action"] for h in hist] == ["create", "update", "ingest"]
    assert hist[2]["reason"] == "文件与界面修改冲突：以文件为准，界面修改保留在历史中"


def test_auth_off_is_refused_off_loopback(mini_settings):
    from api.app import check_binding

    open_settings = mini_settings.model_copy(update={"auth": "off"})
    check_binding(open_settings, "127.0.0.1")
    with pytest.raises(SystemExit, match="KB_AUTH=off 只允许在本机回环地址上使用，当前绑定 0.0.0.0"):
        check_binding(open_settings, "0.0.0.0")
    check_binding(mini_settings, "0.0.0.0")


def test_healthz_reveals_no_paths_or_counts_to_anonymous_callers(mini_app):
    _, client = mini_app
    anonymous = client.get("/healthz", headers={"Authorization": ""}).json()
    components = {name: {"state": state} for name, state in (("tokenizer", "ready"), ("embedder", "ready"),
                  ("index:mini", "ready"), ("classifier", anonymous["components"]["classifier"]["state"]),
                  ("composer", "ready"))}
    assert anonymous == {"status": "ok", "ready": True, "loading": [], "kbs": {"mini": {"state": "ready"}},
                         "components": components}
    assert anonymous["components"]["classifier"]["state"] in ("ready", "absent")
    detailed = client.get("/healthz").json()
    assert detailed["kbs"]["mini"]["chunks"] == 12 and "embedder" in detailed
