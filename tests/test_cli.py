"""The kb command as a knowledge manager and an agent use it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_ingest_reports_rejections_and_exits_non_zero(mini_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_EMBED_CACHE", str(tmp_path.parent / "shared-cache.sqlite"))
    ok = runner.invoke(app, ["ingest", "--kb", "mini", str(mini_corpus)])
    assert ok.exit_code == 0, ok.output
    (mini_corpus / "answers" / "bad.yaml").write_text("- id: BAD ID\n  question: 问\n", encoding="utf-8")
    bad = runner.invoke(app, ["ingest", "--kb", "mini", str(mini_corpus)])
    assert bad.exit_code == 1
    assert "编号“BAD ID”不合规" in bad.output
    missing = runner.invoke(app, ["ingest", str(mini_corpus)])
    assert missing.exit_code == 2 and "指定路径时必须同时给出 --kb" in missing.output


def test_search_json_and_unknown_kb(mini_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_EMBED_CACHE", str(tmp_path.parent / "shared-cache.sqlite"))
    assert runner.invoke(app, ["ingest", "--kb", "mini", str(mini_corpus)]).exit_code == 0
    out = runner.invoke(app, ["search", "九十岁老人每月津贴多少", "--kb", "mini", "--json", "-l", "answer"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["results"][0]["id"] == "t-ans-allowance-001"
    unknown = runner.invoke(app, ["search", "低保", "--kb", "nosuch"])
    assert unknown.exit_code == 2 and "知识库“nosuch”不存在" in unknown.output
