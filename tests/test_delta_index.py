"""Small edits publish a delta beside the live full version; compaction folds it back without losing writes."""

from __future__ import annotations

import json
import zipfile

import pytest

from kb import publish
from kb.exporting import export_kb
from kb.index import collection_name, read_manifest
from kb.publish import Publisher
from kb.search import SearchRequest
from kb.store import Change, record_title
from kb.vectorstore import chroma_client

ANSWER = "t-ans-allowance-002"
OTHER = "t-ans-allowance-001"


@pytest.fixture()
def kb_env(mini_editing):
    m = mini_editing
    return m.settings, m.store, m.service, m.editor, m.layout


def _edit(editor, store, rid: str, old: str, new: str):
    content = {**store.get("mini", rid).content}
    assert old in content["answer"]
    content["answer"] = content["answer"].replace(old, new)
    return editor.update("mini", rid, content, "test-manager", "测试修改", None)


def _live(layout) -> dict:
    return read_manifest(layout, layout.current())


def _chunks_of(index, doc_id: str) -> list[str]:
    return [c.text for c in index.chunks if c.doc_id == doc_id]


def test_an_edit_publishes_a_delta_that_search_and_dense_see(kb_env):
    settings, store, service, editor, layout = kb_env
    base = layout.current()
    size = service.index("mini").size
    result = _edit(editor, store, ANSWER, "社会保障事务所", "便民服务中心紫藤窗口")
    assert result.indexed is True
    live = _live(layout)
    assert (live["base"], live["hidden"], live["delta_chunks"]) == (base, [ANSWER], 1)
    index = service.index("mini")
    assert index.size == size
    texts = _chunks_of(index, ANSWER)
    assert len(texts) == 1 and "紫藤窗口" in texts[0] and "社会保障事务所" not in texts[0]
    for mode in ("bm25", "dense", "hybrid"):
        hits = service.search("mini", SearchRequest("紫藤窗口 便民服务中心", top_k=3, mode=mode)).hits
        assert hits[0].chunk.doc_id == ANSWER, mode
    lexical = service.search("mini", SearchRequest("社会保障事务所", top_k=5, mode="bm25")).hits
    assert ANSWER not in [h.chunk.doc_id for h in lexical]
    assert live["counts"] == read_manifest(layout, base)["counts"]


def test_a_delta_ranks_like_a_full_rebuild_of_the_same_store(kb_env):
    settings, store, service, editor, layout = kb_env
    _edit(editor, store, ANSWER, "10个工作日", "5个工作日")
    queries = ["高龄津贴去哪里申请", "八十岁老人每月领多少钱", "高龄津贴审核要几天", "户籍所在地街道社会保障事务所"]
    delta = {(q, m): [(h.chunk.id, round(h.score, 4)) for h in service.search("mini", SearchRequest(q, top_k=5, mode=m)).hits]
             for q in queries for m in ("dense", "bm25")}
    editor.publisher.reindex("mini", full=True)
    service.invalidate("mini")
    assert "base" not in _live(layout)
    full = {(q, m): [(h.chunk.id, round(h.score, 4)) for h in service.search("mini", SearchRequest(q, top_k=5, mode=m)).hits]
            for q in queries for m in ("dense", "bm25")}
    for key in delta:
        if key[1] == "dense":  # same vectors, exact versus HNSW on a tiny index: identical
            assert delta[key] == full[key], key
        else:  # same ranking; idf differs only by the edited record's old text still counted in the base
            assert [c for c, _ in delta[key]] == [c for c, _ in full[key]], key


def test_retire_hides_the_base_chunks_and_restore_brings_them_back_without_a_delta(kb_env):
    settings, store, service, editor, layout = kb_env
    editor.retire("mini", ANSWER, "test-manager", "测试停用")
    assert _live(layout)["hidden"] == [ANSWER] and _live(layout)["delta_chunks"] == 0
    assert _chunks_of(service.index("mini"), ANSWER) == []
    hits = service.search("mini", SearchRequest("高龄津贴去哪里申请", top_k=5, libraries=["answer"])).hits
    assert ANSWER not in [h.chunk.doc_id for h in hits]
    editor.restore("mini", ANSWER, 1, "test-manager", "恢复")
    live = _live(layout)
    assert (live["hidden"], live["delta_chunks"]) == ([], 0)
    assert len(_chunks_of(service.index("mini"), ANSWER)) == 1


def test_old_deltas_go_but_the_base_they_stand_on_stays(kb_env):
    settings, store, service, editor, layout = kb_env
    base = layout.current()
    _edit(editor, store, ANSWER, "街道在", "街道第0次在")
    for i in range(1, 4):
        _edit(editor, store, ANSWER, f"街道第{i - 1}次在", f"街道第{i}次在")
    versions = sorted(p.name for p in layout.versions.iterdir())
    assert base in versions and len(versions) == 3
    assert _live(layout)["base"] == base
    collection = chroma_client(settings).get_collection(collection_name("mini", base))
    assert collection.count() == read_manifest(layout, base)["vectors"]
    assert "街道第3次在" in _chunks_of(service.index("mini"), ANSWER)[0]


def test_compaction_folds_the_delta_and_keeps_a_write_made_while_it_built(kb_env):
    settings, store, service, editor, layout = kb_env
    old_base = layout.current()
    _edit(editor, store, ANSWER, "10个工作日", "7个工作日")
    publisher = Publisher(settings, store)

    def write_meanwhile(kb: str) -> None:
        current = store.get(kb, OTHER)
        content = {**current.content, "answer": current.content["answer"].replace("每月100元", "每月120元")}
        store.update(kb, Change("answer", OTHER, content, record_title("answer", content), "并发修改"), "other-manager",
                     current.revision)

    publisher.after_full_build = write_meanwhile
    result = publisher.compact("mini")
    live = _live(layout)
    assert result is not None and live["base"] != old_base
    assert (live["hidden"], live["delta_chunks"]) == ([OTHER], 1)
    service.invalidate("mini")
    index = service.index("mini")
    assert "7个工作日" in _chunks_of(index, ANSWER)[0] and "每月120元" in _chunks_of(index, OTHER)[0]
    assert old_base not in {p.name for p in layout.versions.iterdir()}
    names = {c.name for c in chroma_client(settings).list_collections()}
    assert collection_name("mini", old_base) not in names and collection_name("mini", live["base"]) in names
    publisher.after_full_build = None
    publisher.compact("mini")
    assert "base" not in _live(layout)
    assert publisher.compact("mini") is None  # nothing to fold


def test_a_large_change_writes_a_full_version(kb_env, monkeypatch):
    settings, store, service, editor, layout = kb_env
    monkeypatch.setattr(publish, "DELTA_HARD_CHUNKS", 0)
    monkeypatch.setattr(publish, "DELTA_HARD_SHARE", 0.0)
    _edit(editor, store, ANSWER, "10个工作日", "6个工作日")
    assert "base" not in _live(layout)
    assert "6个工作日" in _chunks_of(service.index("mini"), ANSWER)[0]


def test_export_of_a_delta_version_carries_every_live_chunk_once(kb_env, tmp_path):
    settings, store, service, editor, layout = kb_env
    _edit(editor, store, ANSWER, "10个工作日", "8个工作日")
    archive = tmp_path / "mini.zip"
    export_kb(settings, store, "mini", archive, "test-admin")
    with zipfile.ZipFile(archive) as zf:
        chunks = [json.loads(line) for line in zf.read("index/chunks.jsonl").decode().splitlines()]
    ids = [c["id"] for c in chunks]
    assert len(ids) == len(set(ids)) == service.index("mini").size
    assert "8个工作日" in next(c["text"] for c in chunks if c["doc_id"] == ANSWER)
