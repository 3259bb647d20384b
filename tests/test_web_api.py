"""The console's JSON API over the real sample index: places, changes, feedback, assist (POST and socket)."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from sqlalchemy import create_engine, update

from api.downloads import exports_dir, reports_dir
from kb.assist import CallState, Utterance, clean_spoken, parse_utterance, questions_in
from kb.changes import describe_field, recent_changes
from kb.errors import InvalidQuery
from kb.interactions import InteractionStore
from kb.lifecycle import beijing_today
from kb.store import Change as StoreChange
from kb.store import RecordStore, make_engine, revisions
from tests.conftest import api_client, key_for

UNKNOWN_KB = "知识库“nosuch”不存在，请先执行 `kb ingest --kb nosuch <目录>` 建立索引"


@pytest.fixture(scope="module")
def client(sample_settings, sample_classifier):
    with api_client(sample_settings, "agent") as c:
        yield c


def _utt(text: str, final: bool = True, speaker: str = "caller", t: float = 0.0) -> dict:
    return {"type": "utterance", "speaker": speaker, "text": text, "t": t, "final": final}


# ---- pure parts -------------------------------------------------------------------------------

def test_call_state_searches_on_final_or_enough_new_words_only():
    state = CallState(lambda text: [w for w in text.replace("，", " ").split() if w])
    assert state.add(parse_utterance(_utt("嗯 那个", final=False))) is False  # fillers only
    assert state.add(parse_utterance(_utt("低保 标准", final=False))) is False  # 2 new words, partial
    assert state.add(parse_utterance(_utt("低保 标准 每月 多少", final=False))) is True  # 4 new words
    state.mark_searched()
    assert state.add(parse_utterance(_utt("低保 标准 每月 多少"))) is False  # final, but nothing new
    assert state.add(parse_utterance(_utt("多少 钱", speaker="agent"))) is False  # the agent speaking
    assert state.add(parse_utterance(_utt("东四 街道"))) is True  # final with new words
    assert state.caller_text() == "低保 标准 每月 多少。东四 街道"
    assert state.count == 6


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("text", "消息应为 JSON 对象"),
        ({"type": "hello"}, "不支持的消息类型“hello”，应为 utterance"),
        ({**_utt("x"), "speaker": "robot"}, "speaker 应为 caller（来电人）或 agent（坐席）"),
        ({**_utt("x"), "text": 5}, "text 应为文本"),
        (_utt("问" * 2001), "单条话语过长（2001 字），上限为 2000 字"),
        ({**_utt("x"), "t": "soon"}, "t 应为秒数"),
        ({**_utt("x"), "final": "yes"}, "final 应为 true 或 false"),
    ],
)
def test_bad_utterances_are_refused_in_chinese(message, reason):
    with pytest.raises(InvalidQuery) as exc:
        parse_utterance(message)
    assert exc.value.message == reason


def test_spoken_text_cleaning_and_questions():
    assert clean_spoken("嗯，那个，就是我妈，我妈八十二了") == "我妈,我妈82了"
    assert questions_in("喂您好。我妈八十二了。高龄津贴怎么领啊？住东四") == ["高龄津贴怎么领"]
    assert Utterance("caller", "a", 1.0, True) == parse_utterance(_utt("a", t=1))


def _contact(phone: str) -> dict:
    return {"id": "con-1", "unit": "东四街道社会保障事务所", "level": "街乡镇", "district": "东城区", "street": "东四街道",
            "phone": phone, "topics": ["dibao"]}


def _backdate(store: RecordStore, record_id: str, days: int) -> None:
    """Move a record's revisions ``days`` into the past (the store stamps writes with the real clock)."""
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with store.transaction() as conn:
        conn.execute(update(revisions).where(revisions.c.record_id == record_id).values(time=when))


def test_recent_changes_from_the_store_revisions(tmp_path):
    store = RecordStore(make_engine(f"sqlite:///{tmp_path}/store.sqlite"))
    today = beijing_today()
    store.create("t", StoreChange("contact", "con-old", _contact("010-1111-0000"), "很久以前的记录"), "ingest")
    _backdate(store, "con-old", 10)  # outside a 7-day window
    store.create("t", StoreChange("contact", "con-1", _contact("010-0697-2601"), "东四街道社会保障事务所"), "ingest")
    store.update("t", StoreChange("contact", "con-1", _contact("010-0697-2999"), "东四街道社会保障事务所", "换号"),
                 "张三", 1)
    answer = {"id": "ans-1", "question": "低保标准多少", "variants": ["a", "b"], "topics": ["dibao"],
              "answer": "本市城乡低保标准为每人每月1395元，由街道（乡镇）受理申请并入户调查核实。"}
    store.create("t", StoreChange("answer", "ans-1", answer, "低保标准多少"), "ingest")
    store.update("t", StoreChange("answer", "ans-1", {**answer, "answer": answer["answer"].replace("1395元", "1450元")},
                                  "低保标准多少"), "李四", 1)
    effective = (today - dt.timedelta(days=3)).isoformat()
    policy = {"id": "pol-1", "title": "低保办法", "doc_no": "京民〔2026〕1号", "effective": effective, "status": "有效"}
    store.create("t", StoreChange("policy", "pol-1", policy, "低保办法"), "ingest")
    _backdate(store, "pol-1", 30)  # written long ago, but came into force inside the window
    gone = {**policy, "id": "pol-2", "title": "旧办法", "effective": "2020-01-01"}
    store.create("t", StoreChange("policy", "pol-2", gone, "旧办法"), "ingest")
    store.update("t", StoreChange("policy", "pol-2", {**gone, "status": "已废止", "successor": "pol-1"}, "旧办法"), "王五", 1)
    store.create("t", StoreChange("contact", "con-2", {**_contact("010-0697-3000"), "id": "con-2"}, "新开的窗口"), "ingest")
    store.retire("t", "con-1", "赵六", "机构撤并")

    got = [(c.id, c.kind, c.change, c.by) for c in recent_changes(store, "t", dt.datetime.now(dt.UTC), today, 7)]
    assert got == [
        ("con-1", "停用", "停用（机构撤并）", "赵六"),
        ("con-2", "新增", "新增", "ingest"),
        ("pol-2", "修改", "状态 有效 → 已废止；替代文件 （空） → pol-1", "王五"),
        ("ans-1", "修改", "答复金额变更 1395元 → 1450元", "李四"),
        ("pol-1", "生效", f"{effective} 起施行", "ingest"),
    ]
    assert describe_field("phone", "010-0697-2601", "010-0697-2999") == "电话 010-0697-2601 → 010-0697-2999"
    assert [c.id for c in recent_changes(store, "t", dt.datetime.now(dt.UTC), today, 2)][-1] == "ans-1"


def test_feedback_store_masks_question_and_note(tmp_path):
    store = InteractionStore(create_engine(f"sqlite:///{tmp_path}/s.sqlite"))
    row_id = store.add_feedback("minzheng", "reply", ["a", "b"], "wrong", "我电话13812345678", "v1", "身份证110101199003074514")
    (row,) = store.feedback()
    assert (row.id, row.ids, row.rating, row.kb_version) == (row_id, ["a", "b"], "wrong", "v1")
    assert row.question == "我电话【手机号】"
    assert row.note == "身份证【身份证号】"
    with pytest.raises(ValueError):
        store.add_feedback("minzheng", "reply", [], "great", "q")


# ---- HTTP -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_places_lists_16_districts_and_detects_the_street(client):
    body = client.get("/v1/places", params={"kb": "minzheng", "text": "我住在东四那边"}).json()
    assert len(body["districts"]) == 16
    assert body["districts"][0]["name"] == "东城区"
    assert "东四街道" in body["districts"][0]["streets"]
    assert (body["detected_district"], body["detected_street"]) == ("东城区", "东四街道")
    r = client.get("/v1/places", params={"kb": "nosuch"})
    assert (r.status_code, r.json()["detail"]) == (404, UNKNOWN_KB)


def _manager(settings) -> dict:
    return {"Authorization": f"Bearer {key_for(settings, 'test-manager', 'manager')}"}


def edit_phone(client, settings, record_id: str, phone: str) -> str:
    """Change a contact's phone through the records API as a manager; returns the old phone."""
    r = client.get(f"/v1/kbs/minzheng/records/{record_id}", headers=_manager(settings))
    assert r.status_code == 200, r.text
    record, old = r.json()["record"], r.json()["record"]["phone"]
    r = client.put(f"/v1/kbs/minzheng/records/{record_id}", json={"record": {**record, "phone": phone}, "reason": "换号"},
                   headers={**_manager(settings), "If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    return old


@pytest.mark.slow
def test_changes_list_an_edited_phone_first_and_refuse_bad_days(client, sample_settings):
    old = edit_phone(client, sample_settings, "mz-con-0147", "010-0584-1999")
    assert old == "010-0584-1773"
    body = client.get("/v1/changes", params={"kb": "minzheng"}).json()
    assert body["days"] == 7  # KB_CHANGES_DAYS
    first = body["changes"][0]
    assert (first["id"], first["library"], first["title"], first["kind"], first["change"], first["by"]) == \
           ("mz-con-0147", "contact", "密云区殡仪馆", "修改", "电话 010-0584-1773 → 010-0584-1999", "test-manager")
    # The session's ingest of the sample corpus created every record today: each is 新增 once, capped at 20.
    total = sample_settings_total(client)
    assert (body["count"], len(body["changes"]), body["more"]) == (total, 20, total - 20)
    assert all(c["kind"] == "新增" for c in body["changes"][1:])
    assert len({c["id"] for c in client.get("/v1/changes", params={"kb": "minzheng", "limit": 500}).json()["changes"]}) \
           == min(total, 500)
    r = client.get("/v1/changes", params={"kb": "minzheng", "days": 0})
    assert (r.status_code, r.json()["detail"]) == (422, "query.days：数值过小")
    r = client.get("/v1/changes", params={"kb": "nosuch"})
    assert (r.status_code, r.json()["detail"]) == (404, UNKNOWN_KB)


def sample_settings_total(client) -> int:
    """Every record of the sample kb, retired or not (all were written by this session's ingest)."""
    return client.app.state.store.list("minzheng", page_size=1)[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("patch", "status", "detail"),
    [
        ({"rating": "great"}, 422, "rating：评价应为 useful（有用）、useless（没用）或 wrong（有误）"),
        ({"question": "  "}, 422, "question：问题不能为空"),
        ({"target": "page"}, 422, "target：评价对象应为 reply（建议答复）或 result（检索结果）"),
        ({"kb": "nosuch"}, 404, UNKNOWN_KB),
        ({"extra": 1}, 422, "extra：不支持的字段"),
    ],
)
def test_bad_feedback_is_refused(client, patch, status, detail):
    body = {"kb": "minzheng", "target": "reply", "ids": ["a"], "rating": "useful", "question": "q", **patch}
    r = client.post("/v1/feedback", json=body)
    assert (r.status_code, r.json()["detail"]) == (status, detail)


@pytest.mark.slow
def test_feedback_is_stored_masked(client):
    r = client.post("/v1/feedback", json={"kb": "minzheng", "target": "result", "ids": ["mz-ans-dibao-002"],
                                          "rating": "useless", "question": "低保多少钱 回电13812345678",
                                          "kb_version": "v9", "note": "不准"})
    assert r.status_code == 200 and r.json()["stored"] is True
    row = client.app.state.interactions.feedback("minzheng", limit=1)[0]
    assert (row.id, row.target, row.ids, row.rating, row.kb_version, row.note) == \
           (r.json()["id"], "result", ["mz-ans-dibao-002"], "useless", "v9", "不准")
    assert row.question == "低保多少钱 回电【手机号】"


@pytest.mark.slow
def test_assist_snapshot_finds_clause_answer_contact(client):
    r = client.post("/v1/assist", json={"kb": "minzheng", "transcript": [
        _utt("喂您好，嗯，那个", t=0), _utt("我妈八十二了高龄津贴怎么领啊，住东四", t=3)]})
    assert r.status_code == 200
    b = r.json()
    assert b["clause"]["id"] == "mz-pol-elderly-allowance-2023#第十条"
    assert b["answer"]["id"] == "mz-ans-elderly-allowance-002"
    assert (b["district"], b["street"], b["topic"]) == ("东城区", "东四街道", "elderly_allowance")
    assert b["contact"]["phone"] == "010-0697-2601"
    assert b["reply"]["escalate"] is False
    bad = client.post("/v1/assist", json={"kb": "minzheng", "transcript": [_utt("a", speaker="robot")]})
    assert (bad.status_code, bad.json()["detail"]) == (422, "第1条话语：speaker 应为 caller（来电人）或 agent（坐席）")
    assert client.post("/v1/assist", json={"kb": "nosuch", "transcript": []}).json()["detail"] == UNKNOWN_KB


@pytest.mark.slow
def test_socket_suggests_when_text_changes_and_survives_bad_messages(client):
    with client.websocket_connect("/v1/assist/stream?kb=minzheng") as ws:
        ws.send_text("not json")
        assert ws.receive_json() == {"type": "error", "detail": "消息不是合法的 JSON"}
        ws.send_json({"type": "hello"})
        assert ws.receive_json() == {"type": "error", "detail": "不支持的消息类型“hello”，应为 utterance"}
        ws.send_text("x" * 20000)
        assert ws.receive_json() == {"type": "error", "detail": "消息过大（20000 字节），上限为 16384 字节"}
        ws.send_json(_utt("嗯那个", final=False))
        assert ws.receive_json() == {"type": "ack", "fragment": 1}
        ws.send_json(_utt("低保标准一个月多少钱", t=1))
        m = ws.receive_json()
        assert (m["type"], m["seq"], m["fragment"]) == ("suggestions", 1, 2)
        assert m["clause"]["id"] == "mz-pol-dibao-standard-2024#第二条"
        assert m["risk"]["level"] == "none"
        ws.send_json(_utt("低保标准一个月多少钱", t=2))  # repeated: no new search
        assert ws.receive_json() == {"type": "ack", "fragment": 3}
        ws.send_json(_utt("再不解决我真的活不下去了", t=3))
        m = ws.receive_json()
        assert m["seq"] == 2 and m["risk"]["level"] == "urgent"
        assert [s["id"] for s in m["risk"]["signals"]] == ["self_harm"]
    with client.websocket_connect("/v1/assist/stream?kb=nosuch") as ws:
        assert ws.receive_json() == {"type": "error", "detail": UNKNOWN_KB}


@pytest.mark.slow
def test_pages_are_served(client):
    r = client.get("/")
    assert r.status_code == 200 and "坐席助手" in r.text and "/static/console.js" in r.text
    assert "工单分类" in client.get("/tickets").text
    r = client.get("/reports")
    assert r.status_code == 200 and "/static/reports.js" in r.text and '<a href="/reports">报告材料</a>' in r.text
    assert client.get("/static/reports.js").status_code == 200
    assert client.get("/static/api.js").status_code == 200


# ---- downloads expire (KB_EXPORT_TTL_HOURS) -----------------------------------------------------

def _age(path, hours: float) -> None:
    """Make ``path`` look written ``hours`` ago: expiry goes by modification time, so no test sleeps."""
    when = time.time() - hours * 3600
    os.utime(path, (when, when))


EXPIRED = "下载链接已过期（生成的文件只保留 24 小时），请重新上传生成"


@pytest.mark.slow
def test_classified_file_link_expires_and_new_exports_sweep_old_ones(client, sample_settings):
    folder = exports_dir(sample_settings)
    folder.mkdir(parents=True, exist_ok=True)
    stale, recent = folder / f"{'0' * 32}.xlsx", folder / f"{'1' * 32}.xlsx"
    for path, hours in ((stale, 25), (recent, 23)):
        path.write_bytes(b"old")
        _age(path, hours)
    csv = "工单编号,工单内容\nT1,反映低保金本月没到账\n".encode()
    r = client.post("/v1/classify/file", files={"file": ("工单.csv", csv, "text/csv")}, data={"kb": "minzheng"})
    assert r.status_code == 200, r.text
    assert (stale.exists(), recent.exists()) == (False, True)
    link = r.json()["download"]
    assert client.get(link).status_code == 200
    result = folder / f"{link.rsplit('/', 1)[1]}.xlsx"
    _age(result, 24.01)
    r = client.get(link)
    assert (r.status_code, r.json()["detail"]) == (410, EXPIRED)
    assert not result.exists()
    r = client.get(link)
    assert (r.status_code, r.json()["detail"]) == (404, "分类结果文件不存在或已过期，请重新上传")


@pytest.mark.slow
def test_report_link_expires(client, sample_settings):
    folder = reports_dir(sample_settings) / "20260101000000-abcdef12"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text("{}", encoding="utf-8")
    assert client.get("/v1/reports/20260101000000-abcdef12/report.json").status_code == 200
    _age(folder, 30)
    r = client.get("/v1/reports/20260101000000-abcdef12/report.json")
    assert (r.status_code, r.json()["detail"]) == (410, EXPIRED)
    r = client.get("/v1/reports/20260101000000-abcdef12/report.json")
    assert (r.status_code, r.json()["detail"]) == \
           (404, "报告文件不存在或已过期：20260101000000-abcdef12/report.json，请重新生成")


def test_start_up_removes_expired_downloads(mini_settings):
    settings = mini_settings.model_copy(update={"export_ttl_hours": 2.0, "store_sync_seconds": 0.0})
    old_file, new_file = exports_dir(settings) / "a.xlsx", exports_dir(settings) / "b.xlsx"
    old_report = reports_dir(settings) / "20260101000000-00000000"
    old_report.mkdir(parents=True)
    exports_dir(settings).mkdir()
    (old_report / "report.json").write_text("{}", encoding="utf-8")
    for path in (old_file, new_file):
        path.write_bytes(b"x")
    _age(old_file, 2.5)
    _age(new_file, 1.5)
    _age(old_report, 3)
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings)):
        assert (old_file.exists(), new_file.exists(), old_report.exists()) == (False, True, False)
