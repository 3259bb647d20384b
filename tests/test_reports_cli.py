"""``kb report`` from the command line: files written, bad input refused with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

FIXTURE = Path(__file__).parent / "fixtures" / "reports" / "march.csv"


def test_report_command_writes_the_four_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["report", "--kb", "minzheng", "--input", str(FIXTURE), "--period", "week",
                                      "--date", "2026-03-04", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert (report["period"]["start"], report["period"]["end"]) == ("2026-03-02", "2026-03-08")
    assert report["total"] == 4  # T01 T02 T03 T04
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.docx", "report.html", "report.json", "report.xlsx"]


def test_report_command_refuses_a_bad_date(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["report", "--input", str(FIXTURE), "--date", "3月4日", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--date 应为 YYYY-MM-DD 格式的日期，收到“3月4日”" in result.output
