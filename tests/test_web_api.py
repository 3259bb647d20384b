"""The console's JSON API over the real sample index: places, changes, feedback, assist (POST and socket)."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
from sqlalchemy import create_engine

from api.downloads import exports_dir, reports_dir
from kb.assist import CallState, Utterance, clean_spoken, parse_utterance, questions_in
from kb.changes import recent_changes
from kb.errors import InvalidQuery
from kb.interactions import InteractionStore
from kb.records import Chunk
from tests.conftest import api_client

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


def _chunk(id_: str, library: str, **kw) -> Chunk:
    return Chunk(id=id_, doc_id=id_.split("#")[0], kb="t", library=library, title=id_, text="", embed_texts=[],
                 bm25_text="", **kw)


def test_recent_changes_from_answer_and_policy_dates():
    chunks = [
        _chunk("ans-new", "answer", extra={"updated": "2026-11-28"}),
        _chunk("ans-old", "answer", extra={"updated": "2026-10-01"}),
        _chunk("pol-a#第一条", "policy", effective="2026-11-25", doc_no="京民〔2026〕1号"),
        _chunk("pol-a#第二条", "policy", effective="2026-11-25"),
        _chunk("pol-future#第一条", "policy", effective="2026-12-05"),
        _chunk("pol-gone#第一条", "policy", effective="2026-11-26", status="已废止", extra={"successor": "pol-a"}),
        _chunk("con-1", "contact"),
    ]
    got = [(c.id, c.change, c.successor) for c in recent_changes(chunks, date(2026, 12, 1), 7)]
    assert got == [("pol-future", "即将生效", None), ("ans-new", "更新", None), ("pol-gone", "已废止", "pol-a"),
                   ("pol-a", "生效", None)]


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


@pytest.mark.slow
def test_changes_endpoint_and_bad_days(client):
    body = client.get("/v1/changes", params={"kb": "minzheng", "days": 365}).json()
    assert body["days"] == 365 and body["count"] == len(body["changes"]) > 0
    assert all(c["library"] in ("answer", "policy") for c in body["changes"])
    r = client.get("/v1/changes", params={"kb": "minzheng", "days": 0})
    assert (r.status_code, r.json()["detail"]) == (422, "query.days：数值过小")


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
