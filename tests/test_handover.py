"""Handover: export a knowledge base and import it on a fresh machine, answering the same searches."""

from __future__ import annotations

import json
import zipfile

import pytest

from ingest.pipeline import run_ingest
from kb.errors import Conflict, InvalidQuery
from kb.exporting import export_kb, import_kb
from kb.publish import Publisher
from kb.search import SearchRequest
from kb.service import KnowledgeService
from kb.settings import PROJECT_ROOT, Settings
from kb.storefactory import open_store
from tests.conftest import api_client

QUERIES = ["高龄津贴去哪里申请", "东四街道高龄津贴找谁", "九十岁老人每月多少钱"]


def _top(settings, kb):
    service = KnowledgeService(settings)
    return [[h.chunk.id for h in service.search(kb, SearchRequest(q, top_k=5)).hits] for q in QUERIES]


def test_export_then_import_on_a_fresh_machine_answers_the_same_without_embedding(mini_settings, mini_corpus, tmp_path):
    run_ingest(mini_settings, "mini", [mini_corpus])
    store = open_store(mini_settings)
    store.retire("mini", "t-prob-001", "tester", "过时")
    Publisher(mini_settings, store).reindex("mini")
    archive = tmp_path / "mini.zip"
    manifest = export_kb(mini_settings, store, "mini", archive, "tester")
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        revisions = [json.loads(x) for x in zf.read("store/revisions.jsonl").decode().splitlines()]
    assert {"mini/answers/answers.yaml", "mini/contacts.csv", "mini/policies/t-pol-allowance-2025.md",
            "store/audit.jsonl", "shared/taxonomy.yaml", "index/vectors.npy", "manifest.json"} <= names
    assert "mini/problems/problems.csv" not in names  # the only problem entry is retired ...
    assert ("t-prob-001", 2, "已停用") in {(r["record_id"], r["revision"], r["status"]) for r in revisions}  # ... but kept
    assert manifest["records"] == 8

    fresh = Settings(data_dir=tmp_path / "fresh", embed_cache=tmp_path / "fresh-cache.sqlite",
                     corpus_dir=PROJECT_ROOT / "corpus", kbs=["mini"])
    _, result, reused = import_kb(fresh, open_store(fresh), archive, "tester")
    assert (result.embedded, reused, result.vectors, result.chunks) == (0, 17, 17, 11)
    assert _top(fresh, "mini") == _top(mini_settings, "mini")
    with pytest.raises(Conflict, match="记录库不为空"):
        import_kb(fresh, open_store(fresh), archive, "tester")
    # The exported files are what `kb ingest` reads: re-ingesting them changes nothing.
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "unpacked")
    again = run_ingest(fresh, "mini", [tmp_path / "unpacked" / "mini"])
    assert (again.added, again.updated, again.rejected) == (0, 0, 0)


def test_a_damaged_export_is_refused_by_name(mini_settings, mini_corpus, tmp_path):
    run_ingest(mini_settings, "mini", [mini_corpus])
    archive = tmp_path / "mini.zip"
    export_kb(mini_settings, open_store(mini_settings), "mini", archive, "tester")
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data.replace("高龄".encode(), "低龄".encode()) if item.filename == "mini/contacts.csv" else data)
    fresh = Settings(data_dir=tmp_path / "fresh", corpus_dir=PROJECT_ROOT / "corpus", kbs=["mini"])
    with pytest.raises(InvalidQuery, match="damaged.zip 中的 mini/contacts.csv 校验和不符"):
        import_kb(fresh, open_store(fresh), damaged, "tester")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(InvalidQuery, match="junk.zip 不是有效的导出文件"):
        import_kb(fresh, open_store(fresh), tmp_path / "junk.zip", "tester")


def test_export_over_http_is_for_admins_only(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as manager:
        assert manager.get("/v1/kbs/mini/export").status_code == 403
    with api_client(settings, "admin") as admin:
        r = admin.get("/v1/kbs/mini/export")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        assert r.content[:2] == b"PK"
        actions = [e["action"] for e in admin.get("/v1/audit", params={"kb": "mini"}).json()["entries"]]
        assert actions[-1] == "export"
