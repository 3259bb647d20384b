"""Operator's view of index versions: list, roll back, survive a corrupt or orphaned version."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app
from ingest.pipeline import run_ingest
from kb.index import IndexLayout
from kb.publish import Publisher
from kb.search import SearchRequest
from kb.storefactory import open_store
from kb.storesync import StoreSync
from tests.conftest import api_client

ANSWER = "t-ans-allowance-002"
runner = CliRunner()


def _edit(editor, store, old: str, new: str):
    content = {**store.get("mini", ANSWER).content}
    content["answer"] = content["answer"].replace(old, new)
    return editor.update("mini", ANSWER, content, "test-manager", "测试", None)


def _answer_text(service) -> str:
    index = service.index("mini")
    return index.chunks[index.position[ANSWER]].text


def test_versions_and_rollback_from_the_cli_pin_until_the_next_write(mini_editing, monkeypatch):
    mini_settings, store, service, editor, layout = (mini_editing.settings, mini_editing.store, mini_editing.service,
                                                     mini_editing.editor, mini_editing.layout)
    monkeypatch.setenv("KB_DATA_DIR", str(mini_settings.data_dir))
    monkeypatch.setenv("KB_EMBED_CACHE", str(mini_settings.embed_cache_path))
    monkeypatch.setenv("KB_ACTOR", "ops-zhang")
    first = layout.current()
    _edit(editor, store, "10个工作日", "3个工作日")
    second = layout.current()
    listed = json.loads(runner.invoke(app, ["versions", "--kb", "mini", "--json"]).output)
    assert [(v["version"], v["state"], v["kind"], v["base"]) for v in listed] == [
        (second, "在用", "增量", first), (first, "可回滚", "完整", "")]
    out = runner.invoke(app, ["rollback", "--kb", "mini", "--reason", "新版答复有误"])
    assert out.exit_code == 0, out.output
    assert f"已切换到索引版本 {first}" in out.output
    assert layout.current() == first
    service.invalidate("mini")
    assert "10个工作日" in _answer_text(service)
    entry = store.audit_entries("mini")[-1]
    assert (entry.actor, entry.action, entry.reason) == ("ops-zhang", "rollback", "新版答复有误")
    assert entry.details["from"] == second and entry.details["to"] == first
    assert entry.details["reflects_generation"] < entry.details["store_generation"]
    sync = StoreSync(mini_settings, store, Publisher(mini_settings, store))
    assert sync.behind() == []  # pinned: the background sync leaves the operator's choice serving
    _edit(editor, store, "3个工作日", "4个工作日")  # the next write re-indexes from the store and lifts the pin
    assert layout.current() not in (first, second)
    assert "4个工作日" in _answer_text(service)
    again = runner.invoke(app, ["rollback", "nosuch", "--kb", "mini"])
    assert again.exit_code == 2 and "没有索引版本“nosuch”" in again.output


def test_a_new_version_that_cannot_load_leaves_the_old_one_serving_and_healthz_says_so(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0})
    run_ingest(settings, "mini", [mini_corpus])
    layout = IndexLayout(settings.data_dir, "mini")
    good = layout.current()
    with api_client(settings, "admin") as client:
        assert client.post("/v1/search", json={"query": "高龄津贴去哪里申请", "kb": "mini"}).status_code == 200
        bad = layout.new_version_id()
        (layout.version_dir(bad)).mkdir()
        (layout.version_dir(bad) / "manifest.json").write_text('{"kb": "mini", "coll', encoding="utf-8")
        layout.activate(bad)
        client.app.state.readiness.service.invalidate("mini")
        r = client.post("/v1/search", json={"query": "高龄津贴去哪里申请", "kb": "mini"})
        assert r.status_code == 200 and r.json()["results"][0]["id"] == ANSWER
        health = client.get("/healthz").json()
        assert health["status"] == "degraded"
        assert health["kbs"]["mini"]["state"] == "degraded" and health["kbs"]["mini"]["version"] == good
        assert health["kbs"]["mini"]["error"].startswith(f"新索引版本 {bad} 无法加载（知识库“mini”的索引版本 {bad} 的清单文件无法读取")
        assert health["kbs"]["mini"]["error"].endswith(f"继续使用版本 {good}")
    listed = json.loads(runner.invoke(app, ["versions", "--kb", "mini", "--json"], env={
        "KB_DATA_DIR": str(settings.data_dir)}).output)
    assert [(v["version"], v["state"]) for v in listed] == [(bad, "损坏"), (good, "可回滚")]
    # The next publish does not trust the unreadable live version: it rebuilds in full from the store.
    result = Publisher(settings, open_store(settings)).reindex("mini")
    assert layout.current() == result.version and bad not in {p.name for p in layout.versions.iterdir()}


def test_an_orphan_of_a_killed_ingest_is_cleaned_and_never_pushes_a_good_version_out(mini_editing):
    store, service, editor, layout = mini_editing.store, mini_editing.service, mini_editing.editor, mini_editing.layout
    first = layout.current()
    _edit(editor, store, "10个工作日", "9个工作日")
    second = layout.current()
    for _ in range(3):  # three crashed builds: directories without a manifest
        orphan = layout.version_dir(layout.new_version_id())
        orphan.mkdir()
        (orphan / "chunks.jsonl").write_text("{}", encoding="utf-8")
    assert sorted(layout.stale_versions()) == sorted(p.name for p in layout.versions.iterdir()
                                                     if p.name not in (first, second))
    _edit(editor, store, "9个工作日", "8个工作日")
    names = sorted(p.name for p in layout.versions.iterdir())
    assert names == sorted([first, second, layout.current()])
    assert "8个工作日" in _answer_text(service)
    assert service.search("mini", SearchRequest("高龄津贴去哪里申请", top_k=1)).hits[0].chunk.doc_id == ANSWER
