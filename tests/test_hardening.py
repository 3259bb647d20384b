"""Hardening: bounded, validated input; masked output; safe spreadsheets and archives; readiness."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import PurePath

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.search import public_source
from kb.errors import PayloadTooLarge
from kb.privacy import mask
from kb.safezip import check_archive, read_member
from tests.conftest import api_client, key_for


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话１３８１２３４５６７８", "电话【手机号】"),
        ("手机138 1234 5678", "手机【手机号】"),
        ("手机138.1234.5678", "手机【手机号】"),
        ("手机0086 13812345678", "手机【手机号】"),
        ("手机+86-138-1234-5678", "手机【手机号】"),
        ("座机(010)6234 5678", "座机【电话】"),
        ("座机（010）6234　5678", "座机【电话】"),
        ("电话幺三八一二三四五六七八", "电话【手机号】"),
        ("电话一三八 一二三四 五六七八", "电话【手机号】"),
        ("老身份证110105491231002号", "老身份证【身份证号】号"),
        ("补贴3000-5000元", "补贴3000-5000元"),
        ("2024-05-01办理", "2024-05-01办理"),
        ("工单号20241201000123", "工单号20241201000123"),
        ("一二三四五楼", "一二三四五楼"),
        ("（请回电）", "（请回电）"),
    ],
)
def test_masking_normalises_then_masks(text, masked):
    assert mask(text) == masked


def test_public_source_hides_server_paths():
    corpus = PurePath("/srv/kb/corpus")
    assert public_source("/srv/kb/corpus/minzheng/a.yaml#第三条", corpus) == "minzheng/a.yaml#第三条"
    assert public_source("/home/op/upload/secret/b.docx", corpus) == "b.docx"
    assert public_source("../../etc/passwd", corpus) == "passwd"


def _bomb(entries: int, size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(entries):
            z.writestr(f"xl/{i}.xml", b"0" * size)
    return buf.getvalue()


def test_zip_bomb_is_refused_before_unpacking():
    bomb = _bomb(1, 50 * 1024 * 1024)
    assert len(bomb) < 200_000
    with pytest.raises(PayloadTooLarge) as exc:
        check_archive(io.BytesIO(bomb), max_unpacked_bytes=10 * 1024 * 1024)
    assert exc.value.message == "文件“上传文件”解压后约 50 MB，上限为 10 MB，拒绝读取"
    with pytest.raises(PayloadTooLarge) as exc:
        check_archive(io.BytesIO(_bomb(30, 1)), max_entries=20)
    assert exc.value.message == "文件“上传文件”包含 30 个条目，上限为 20 个，拒绝读取"
    with pytest.raises(PayloadTooLarge):
        read_member(check_archive(io.BytesIO(bomb)), "xl/0.xml", max_bytes=1024 * 1024)
    small = check_archive(io.BytesIO(_bomb(2, 10)))
    assert read_member(small, "xl/1.xml") == b"0" * 10


def test_batch_results_cannot_carry_formulas(tmp_path, sample_classifier):
    from openpyxl import load_workbook

    from kb.classify.batch import classify_file

    src = tmp_path / "tickets.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["工单编号", "工单内容"],
                                  ["=1+1", '=HYPERLINK("http://x","低保") 来电人13812345678咨询低保'],
                                  ["@SUM(A1)", "+申请临时救助 身份证110105491231002"]])
    out = tmp_path / "out.xlsx"
    classify_file(sample_classifier, src, "minzheng", out)
    ws = load_workbook(out).active
    cells = [c for row in ws.iter_rows(min_row=2) for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    values = [str(c.value) for c in cells]
    assert values[0] == "'=1+1"
    assert values[1].startswith("'=HYPERLINK(") and "【手机号】" in values[1] and "13812345678" not in values[1]
    assert not any("13812345678" in v or "110105491231002" in v for v in values)


@pytest.fixture(scope="module")
def client(sample_settings, sample_classifier):
    with api_client(sample_settings, "admin") as c:
        yield c


@pytest.mark.parametrize(
    ("path", "payload", "detail"),
    [
        ("/v1/search", {"query": "低保\x00"}, "query：文本中含有控制字符 U+0000，请删除后重试"),
        ("/v1/search", {"query": "低保\x1b[31m"}, "query：文本中含有控制字符 U+001B，请删除后重试"),
        ("/v1/search", {"query": "低保", "kb": "../x"}, "kb：格式无效（只能包含字母、数字、- 和 _）"),
        ("/v1/search", {"query": "低保", "kb": "a/b"}, "kb：格式无效（只能包含字母、数字、- 和 _）"),
        ("/v1/search", {"query": "低保", "kb": "k" * 10000}, "kb：内容过长"),
        ("/v1/search", {"query": "低保", "libraries": ["answer"] * 21}, "libraries：条目过多"),
        ("/v1/search", {"query": "低保", "topics": ["dibao"] * 21}, "topics：条目过多"),
        ("/v1/reply", {"question": "低保\x07"}, "question：文本中含有控制字符 U+0007，请删除后重试"),
        ("/v1/classify", {"texts": ["低保"] * 501}, "texts：条目过多"),
        ("/v1/classify", {"texts": ["低" * 5000] * 41},
         "请求体：一次提交的工单共 205000 字，超过上限 200000 字，请分批提交"),
    ],
)
def test_malformed_or_oversized_input_is_a_chinese_422(client, path, payload, detail):
    r = client.post(path, json=payload)
    assert r.status_code == 422
    assert r.json() == {"detail": detail, "error": "InvalidRequest"}


def test_lone_surrogate_is_a_422_not_a_500(client):
    r = client.post("/v1/search", content=b'{"query": "\\ud800\\u4f4e\\u4fdd"}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == "query：文本中含有不完整的 Unicode 字符，请删除后重试"


def test_unknown_topic_is_echoed_shortened(client):
    r = client.get("/v1/contacts", params={"topic": "t" * 100})
    assert r.status_code == 422
    assert r.json()["detail"] == f"未知的主题代码“{'t' * 40}…”，请使用 taxonomy.yaml 中的主题或子主题代码"


def test_limits_are_in_the_openapi_schema(client):
    s = client.get("/openapi.json").json()["components"]["schemas"]
    assert s["SearchBody"]["properties"]["libraries"]["anyOf"][0]["maxItems"] == 20
    assert s["ClassifyBody"]["properties"]["texts"]["anyOf"][0]["maxItems"] == 500
    assert s["SearchBody"]["properties"]["kb"]["maxLength"] == 64
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/reply"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReplyResponse"}


def test_search_source_is_relative_to_the_corpus(client, sample_settings):
    r = client.post("/v1/search", json={"query": "低保标准每月多少钱", "top_k": 5})
    sources = [x["source"] for x in r.json()["results"]]
    assert sources and all(not s.startswith("/") and str(sample_settings.data_dir) not in s for s in sources)
    # The store keeps each record's path under the folder it was ingested from.
    assert all(s.startswith(("answers/", "policies/", "contacts.csv", "problems/")) for s in sources), sources


def test_request_for_unloaded_part_is_503_not_a_wait(sample_settings):
    from api.readiness import Readiness

    app = create_app(sample_settings)
    with TestClient(app, headers={"Authorization": f"Bearer {key_for(sample_settings, 'test-admin', 'admin')}"}) as c:
        app.state.readiness = Readiness(sample_settings)  # as right after start-up, before the thread ran
        h = c.get("/healthz")
        assert h.status_code == 200
        assert h.json()["ready"] is False
        assert h.json()["loading"] == ["tokenizer", "embedder", "index:canlian", "index:minzheng", "classifier", "composer"]
        assert h.json()["kbs"] == {"canlian": {"state": "loading"}, "minzheng": {"state": "loading"}}
        assert h.json()["components"]["embedder"] == {"state": "loading", "seconds": None}
        r = c.post("/v1/search", json={"query": "低保"})
        assert r.status_code == 503
        assert r.json() == {"detail": "服务正在启动，分词器、向量模型尚未加载完成，请稍后再试", "error": "IndexNotReady"}
        assert c.post("/v1/classify", json={"text": "低保"}).json()["detail"] == "服务正在启动，工单分类模型尚未加载完成，请稍后再试"
        assert c.post("/v1/reply", json={"question": "低保"}).status_code == 503


def test_search_answers_while_the_classifier_is_still_loading(sample_settings):
    """The search path loads first; a reply waits for the classifier with a 503 that names it."""
    from api.readiness import Readiness

    app = create_app(sample_settings)
    with TestClient(app, headers={"Authorization": f"Bearer {key_for(sample_settings, 'test-admin', 'admin')}"}) as c:
        ready = Readiness(sample_settings)
        ready._load_search()  # the start-up thread's first half: tokenizer, embedder, every index
        app.state.readiness = ready
        body = c.get("/healthz").json()
        assert body["ready"] is False and body["loading"] == ["classifier", "composer"]
        assert {n: v["state"] for n, v in body["components"].items()} == {
            "tokenizer": "ready", "embedder": "ready", "index:canlian": "ready", "index:minzheng": "ready",
            "classifier": "loading", "composer": "loading"}
        assert all(v["seconds"] >= 0 for n, v in body["components"].items() if v["state"] == "ready")
        assert body["kbs"]["minzheng"]["state"] == "ready" and body["kbs"]["canlian"]["state"] == "ready"
        assert c.post("/v1/search", json={"query": "低保标准每月多少钱"}).status_code == 200
        r = c.post("/v1/reply", json={"question": "低保标准每月多少钱"})
        assert (r.status_code, r.json()["detail"]) == (503, "服务正在启动，答复生成模块尚未加载完成，请稍后再试")
        r = c.post("/v1/classify", json={"text": "低保"})
        assert (r.status_code, r.json()["detail"]) == (503, "服务正在启动，工单分类模型尚未加载完成，请稍后再试")


def test_serving_path_imports_no_torch_chromadb_or_numba(sample_settings):
    """Start-up cost: the default (bundled embedder, small index) path must not import torch,
    sentence-transformers, chromadb or bm25s/numba; checked in a fresh interpreter after a full load."""
    import subprocess
    import sys

    code = ("import sys; from api.readiness import Readiness; from kb.settings import Settings; "
            "r = Readiness(Settings()); r.load(); assert r.failed is None, r.failed; "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'chromadb', 'bm25s', 'numba') if m in sys.modules))")
    env = {**os.environ, "KB_DATA_DIR": str(sample_settings.data_dir),
           "KB_EMBED_CACHE": str(sample_settings.embed_cache_path),
           "PYTHONPATH": str(PurePath(__file__).parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_reply_sees_one_index_version(client, sample_settings, monkeypatch):
    """After the snapshot is taken, the live lookups are never consulted again during the request."""
    service = client.app.state.readiness.service
    composer = client.app.state.readiness.composer.composer
    calls = []
    for name in ("index", "search", "contacts", "searcher"):
        original = getattr(service, name)
        monkeypatch.setattr(service, name, lambda *a, _n=name, _o=original, **k: (calls.append(_n), _o(*a, **k))[1])
    result = composer.compose("低保标准每月多少钱", "minzheng")
    assert result.escalate is False
    assert calls == []


def test_standard_answers_are_segmented_in_the_background_once_up(client, caplog):
    """After start-up every kb's standard answers are segmented off the request path, so early callers do not pay it."""
    import threading

    for thread in [t for t in threading.enumerate() if t.name == "kb-warm-answers"]:
        thread.join(timeout=60)
    ready = client.app.state.readiness
    cached = {key[0] for key in ready.composer.composer._token_cache}
    for kb in ("minzheng", "canlian"):
        answers = {c.id for c in ready.service.index(kb).chunks if c.library == "answer"}
        assert answers and answers <= cached, kb
