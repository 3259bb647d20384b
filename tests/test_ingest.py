"""Ingestion: validation with located Chinese reasons, incremental updates, atomic switch, embedder guard."""

from __future__ import annotations

import csv

import pytest

from ingest.pipeline import run_ingest
from kb.errors import EmbedderMismatch, IngestFailed
from kb.index import IndexLayout, VersionWriter
from kb.search import SearchRequest
from kb.service import KnowledgeService


def _ids(settings, kb="mini"):
    return {c.doc_id for c in KnowledgeService(settings).index(kb).chunks}


def test_mini_corpus_ingests_all_libraries(mini_settings, mini_corpus):
    s = run_ingest(mini_settings, "mini", [mini_corpus])
    assert s.rejections == []
    assert (s.added, s.updated, s.unchanged, s.deleted) == (8, 0, 0, 0)
    index = KnowledgeService(mini_settings).index("mini")
    assert index.manifest["counts"] == {"policy": 6, "answer": 2, "contact": 3, "problem": 1}
    arts = {c.id: c for c in index.chunks if c.library == "policy"}
    assert arts["t-pol-allowance-2025#第二条"].chapter == "第一章　总则"
    assert arts["t-pol-allowance-2025#第二条"].doc_no == "测民老发〔2025〕3号"
    assert arts["t-pol-allowance-2019#第一条"].status == "已废止"


def test_second_run_changes_nothing_then_tracks_update_and_delete(mini_settings, mini_corpus):
    run_ingest(mini_settings, "mini", [mini_corpus])
    again = run_ingest(mini_settings, "mini", [mini_corpus])
    assert (again.added, again.updated, again.unchanged, again.deleted, again.embedded) == (0, 0, 8, 0, 0)

    answers = mini_corpus / "answers" / "elderly.yaml"
    answers.write_text(answers.read_text(encoding="utf-8").replace("10个工作日", "7个工作日"), encoding="utf-8")
    (mini_corpus / "problems" / "elderly.csv").unlink()
    third = run_ingest(mini_settings, "mini", [mini_corpus])
    assert (third.added, third.updated, third.unchanged, third.deleted) == (0, 1, 6, 0)
    assert "t-prob-001" in _ids(mini_settings), "a plain ingest never removes what is missing from the folder"
    listed = run_ingest(mini_settings, "mini", [mini_corpus], sync=True)
    assert (listed.pending_retire, listed.retired) == (["t-prob-001"], [])
    asked: list[list[str]] = []
    synced = run_ingest(mini_settings, "mini", [mini_corpus], sync=True, confirm=lambda ids: asked.append(ids) or True)
    assert (asked, synced.retired, synced.deleted) == ([["t-prob-001"]], ["t-prob-001"], 1)
    assert "t-prob-001" not in _ids(mini_settings)
    hit = KnowledgeService(mini_settings).search("mini", SearchRequest("高龄津贴去哪里申请", libraries=["answer"])).hits[0]
    assert hit.chunk.id == "t-ans-allowance-002" and "7个工作日" in hit.chunk.text


def test_bad_records_are_rejected_with_location_and_good_ones_kept(mini_settings, mini_corpus):
    with open(mini_corpus / "contacts.csv", "a", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t-con-0004", "海淀区民政局", "区", "", "", "010-0400-0004", "", "", "缺区名", "elderly_allowance"])
        w.writerow(["t-con-0005", "某单位", "区", "火星区", "", "not-a-phone", "", "", "", "no_such_topic"])
        fh.write("t-con-0006,只有三列,市\n")
    (mini_corpus / "answers" / "broken.yaml").write_text(
        "- id: t-ans-bad-001\n  question: 缺少答复\n  variants: [一, 二]\n  topics: [elderly_allowance]\n"
        "- id: t-ans-bad-002\n  question: 引用不存在的条款\n  variants: [甲, 乙]\n  answer: 您好，这是一条引用了不存在条款的答复。\n"
        "  policy_refs: [{doc: t-pol-allowance-2025, article: 第九十九条}]\n  topics: [elderly_allowance]\n",
        encoding="utf-8",
    )
    s = run_ingest(mini_settings, "mini", [mini_corpus])
    reasons = {(r.record_id, r.field): (r.location, r.reason) for r in s.rejections}
    assert reasons[("t-con-0004", "(记录)")] == ("第5行", "Value error, 层级为“区”的单位必须填写 district".removeprefix("Value error, "))
    assert reasons[("t-con-0005", "district")][1] == "区名“火星区”无效，应为北京市16个区之一（如 朝阳区）"
    assert reasons[("t-con-0005", "phone")][1] == "电话“not-a-phone”格式无效，应如 010-6512-3456 或 12345"
    assert reasons[("t-con-0005", "topics")][1] == "主题代码 no_such_topic 不在 taxonomy.yaml 的子主题中"
    assert reasons[("", "")] == ("第7行", "列数为 3，表头为 10 列（可能有未加引号的逗号）")
    assert reasons[("t-ans-bad-001", "answer")] == ("第1行", "缺少必填字段")
    assert reasons[("t-ans-bad-002", "policy_refs")] == ("第5行", "政策 t-pol-allowance-2025 中没有 第九十九条")
    assert all(r.file.endswith(("contacts.csv", "broken.yaml")) for r in s.rejections)
    assert s.rejected == 5
    assert (s.added, s.deleted) == (8, 0)
    assert {"t-con-0001", "t-con-0002", "t-con-0003", "t-ans-allowance-001"} <= _ids(mini_settings)
    with open(s.report_path, encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == len(s.rejections)


def test_gbk_and_bom_files_are_decoded_and_binary_garbage_is_refused(mini_settings, mini_corpus):
    reg = "北京市示例救助办法\n第一条　为了做好最低生活保障和临时救助工作，制定本办法。\n第二条　低保申请由街道受理。\n"
    (mini_corpus / "policies" / "gbk-reg.txt").write_bytes(reg.encode("gbk"))
    (mini_corpus / "policies" / "bom-reg.md").write_bytes(b"\xef\xbb\xbf" + reg.replace("示例", "样例").encode("utf-8"))
    (mini_corpus / "policies" / "garbage.txt").write_bytes(bytes(range(128, 256)) * 20)
    s = run_ingest(mini_settings, "mini", [mini_corpus])
    assert [(r.file.rsplit("/", 1)[-1], r.reason) for r in s.rejections] == [
        ("garbage.txt", "无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8、GBK/GB18030），请另存为 UTF-8 后重试")
    ]
    titles = {c.title for c in KnowledgeService(mini_settings).index("mini").chunks}
    assert {"北京市示例救助办法", "北京市样例救助办法"} <= titles
    assert sorted(s.inferred_topics.values())[0][0] == "dibao"


def test_oversized_and_unsupported_files_are_rejected_by_name(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"max_upload_bytes": 4096})
    (mini_corpus / "policies" / "huge.md").write_text("北京市超大文件\n" + "第一条　" + "很长的内容。" * 2000, encoding="utf-8")
    (mini_corpus / "policies" / "scan.tiff").write_bytes(b"II*\x00")
    s = run_ingest(settings, "mini", [mini_corpus])
    by_file = {r.file.rsplit("/", 1)[-1]: r.reason for r in s.rejections}
    assert by_file["huge.md"].startswith("文件过大（0.0 MB）") or by_file["huge.md"].startswith("文件过大")
    assert by_file["scan.tiff"].startswith("不支持的文件类型“.tiff”")
    assert s.added == 8


def test_nothing_valid_keeps_previous_index(mini_settings, mini_corpus, tmp_path):
    run_ingest(mini_settings, "mini", [mini_corpus])
    before = IndexLayout(mini_settings.data_dir, "mini").current()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "bad.yaml").write_text("- : [\n", encoding="utf-8")
    with pytest.raises(IngestFailed, match="没有可导入的有效记录"):
        run_ingest(mini_settings, "mini", [empty])
    assert IndexLayout(mini_settings.data_dir, "mini").current() == before


@pytest.mark.parametrize("method", ["write", "write_delta"])  # a full version, and the delta a small change writes
def test_failure_while_writing_leaves_previous_index_live(mini_settings, mini_corpus, monkeypatch, method):
    run_ingest(mini_settings, "mini", [mini_corpus])
    layout = IndexLayout(mini_settings.data_dir, "mini")
    live = layout.current()
    original = getattr(VersionWriter, method)

    def write_then_crash(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(VersionWriter, method, write_then_crash)
    if method == "write":
        monkeypatch.setattr("kb.publish.DELTA_HARD_CHUNKS", 0)
        monkeypatch.setattr("kb.publish.DELTA_HARD_SHARE", 0.0)
    contacts = mini_corpus / "contacts.csv"
    contacts.write_text(contacts.read_text(encoding="utf-8").replace("010-0300-0003", "010-0300-0099"), encoding="utf-8")
    with pytest.raises(IngestFailed, match="原索引保持不变"):
        run_ingest(mini_settings, "mini", [mini_corpus])
    assert layout.current() == live
    assert sorted(p.name for p in layout.versions.iterdir()) == [live]
    hits = KnowledgeService(mini_settings).search("mini", SearchRequest("东四街道高龄津贴找谁", libraries=["contact"])).hits
    assert hits[0].chunk.id == "t-con-0003" and "010-0300-0003" in hits[0].chunk.text
    monkeypatch.setattr(VersionWriter, method, original)
    # The store took the write; the next run sees the index is behind the store and catches up.
    caught_up = run_ingest(mini_settings, "mini", [mini_corpus])
    assert (caught_up.updated, caught_up.unchanged) == (0, 8) and caught_up.version != live
    hits = KnowledgeService(mini_settings).search("mini", SearchRequest("东四街道高龄津贴找谁", libraries=["contact"])).hits
    assert "010-0300-0099" in hits[0].chunk.text


def test_index_built_by_another_embedder_is_refused(mini_settings, mini_corpus):
    run_ingest(mini_settings, "mini", [mini_corpus])
    manifest_path = IndexLayout(mini_settings.data_dir, "mini").version_dir(
        IndexLayout(mini_settings.data_dir, "mini").current()) / "manifest.json"
    manifest_path.write_text(manifest_path.read_text(encoding="utf-8").replace('"e5-small-q4"', '"st:other-model"'), encoding="utf-8")
    with pytest.raises(EmbedderMismatch, match="kb ingest --kb mini --rebuild"):
        run_ingest(mini_settings, "mini", [mini_corpus])
    with pytest.raises(EmbedderMismatch, match="st:other-model"):
        KnowledgeService(mini_settings).index("mini")
    rebuilt = run_ingest(mini_settings, "mini", [mini_corpus], rebuild=True)
    assert (rebuilt.added, rebuilt.unchanged) == (0, 8)
    assert KnowledgeService(mini_settings).index("mini").manifest["embedder"]["name"] == "e5-small-q4"


def test_two_folders_ingested_one_after_the_other_are_both_searchable(mini_settings, mini_corpus, tmp_path):
    """The data-loss case: ingesting a second folder must not drop the first one's documents."""
    national, beijing = tmp_path / "national", tmp_path / "beijing"
    national.mkdir()
    beijing.mkdir()
    (national / "reg.txt").write_text("全国示例救助条例\n第一条　为了做好最低生活保障和临时救助工作，制定本条例。\n第二条　低保申请由县级民政部门审批。\n", encoding="utf-8")
    (beijing / "reg.txt").write_text("北京市示例救助办法\n第一条　为了做好本市最低生活保障工作，制定本办法。\n第二条　低保申请由街道受理。\n", encoding="utf-8")
    first = run_ingest(mini_settings, "laws", [national])
    second = run_ingest(mini_settings, "laws", [beijing])
    assert (first.added, second.added, second.deleted) == (1, 1, 0)
    titles = {c.title for c in KnowledgeService(mini_settings).index("laws").chunks}
    assert titles == {"全国示例救助条例", "北京市示例救助办法"}
    # Same relative path and title in both folders would collide; different titles give different stable ids.
    again = run_ingest(mini_settings, "laws", [national])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)


def test_editing_a_plain_file_is_an_update_with_a_new_revision(mini_settings, tmp_path):
    from kb.storefactory import open_store

    folder = tmp_path / "regs"
    folder.mkdir()
    reg = folder / "reg.txt"
    reg.write_text("北京市示例救助办法\n第一条　为了做好最低生活保障工作，制定本办法。\n第二条　低保申请由街道受理。\n", encoding="utf-8")
    run_ingest(mini_settings, "laws", [folder])
    reg.write_text(reg.read_text(encoding="utf-8").replace("街道受理", "街道（乡镇）受理"), encoding="utf-8")
    s = run_ingest(mini_settings, "laws", [folder])
    assert (s.added, s.updated, s.deleted) == (0, 1, 0)
    store = open_store(mini_settings)
    (state,) = store.all_active("laws")
    assert state.revision == 2 and "街道（乡镇）受理" in state.content["body"]
    assert [h["action"] for h in store.history("laws", state.id)] == ["create", "ingest"]
