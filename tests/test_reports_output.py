"""The four output files: same numbers, Chinese charts, and no caller's number anywhere."""

from __future__ import annotations

import csv
import html
import json
import re
import zipfile
from pathlib import Path

import pytest

from reports.build import PeriodRequest, ReportBuilder, write_report
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "reports" / "march.csv"


def _raw_numbers() -> set[str]:
    """Every caller number, ID number and phone in the fixture, in the spellings a leak could take."""
    found = set()
    with FIXTURE.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            found.add(row["来电号码"])
            found.add(re.sub(r"\D", "", row["来电号码"]))
            found.update(re.findall(r"1[3-9]\d{9}|\d{17}[\dX]|0\d{2,3}-\d{4}-\d{4}", row["诉求内容"]))
    return {n for n in found if len(n) >= 7}


# Callers named the three ways exports do: a title after 来电人, a self-introduction, and a bare full name
# that only the export's 来电人姓名 column gives away. Each is (text replacing the leading 来电人, name column).
PLANTED = (("来电人孙女士", "孙丽华"), ("我叫王建华，", "王建华"), ("陈建国", "陈建国"))
NAMES = ("孙女士", "孙丽华", "王建华", "陈建国")


def _named_copy(folder: Path) -> Path:
    """The fixture with a 来电人姓名 column and a caller's name planted in every ticket's text."""
    with FIXTURE.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    out = folder / "march-named.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(rows[0] + ["来电人姓名"])
        for i, row in enumerate(rows[1:]):
            text, name = PLANTED[i % len(PLANTED)]
            row[2] = row[2].replace("来电人", text, 1)
            writer.writerow(row + [name])
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("out")
    source = _named_copy(root)
    builder = ReportBuilder(make_settings(root / "data"), "minzheng")
    report = builder.build(builder.parse(source), PeriodRequest("month"), str(source))
    write_report(report, root / "report")
    return report, root / "report"


def _texts(folder: Path) -> dict[str, str]:
    """Each output file as searchable text: docx/xlsx are zip archives of XML."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".docx", ".xlsx"):
            with zipfile.ZipFile(path) as z:
                xml = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
                out[path.name] = html.unescape(xml)  # openpyxl writes Chinese as &#NNNNN; references
        else:
            out[path.name] = path.read_text(encoding="utf-8")
    return out


def test_four_files_are_written(written):
    _, folder = written
    assert sorted(p.name for p in folder.iterdir()) == ["report.docx", "report.html", "report.json", "report.xlsx"]


def test_no_caller_number_or_name_in_any_output(written):
    _, folder = written
    numbers = _raw_numbers()
    assert {"13800001111", "138-0000-1111", "110101196503071236", "010-6512-3456", "13300001234"} <= numbers
    texts = _texts(folder)
    assert sorted(texts) == ["report.docx", "report.html", "report.json", "report.xlsx"]
    for name, text in texts.items():
        leaked = sorted(n for n in numbers if n in text)
        assert leaked == [], f"{name} leaks {leaked}"
        leaked_names = sorted(n for n in NAMES if n in text)
        assert leaked_names == [], f"{name} leaks {leaked_names}"
        # The masked forms are there: the tickets' texts did reach this file, masked.
        for masked in ("某女士", "王某某", "陈某某"):
            assert masked in text, (name, masked)
    assert "【手机号】" in texts["report.json"]


def test_json_on_disk_is_the_built_report(written):
    report, folder = written
    on_disk = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert on_disk["kpi"] == {"response_rate": 11 / 13, "resolution_rate": 9 / 11, "satisfaction_rate": 0.8}
    assert on_disk == json.loads(json.dumps(report, ensure_ascii=False))


def test_documents_show_the_same_rounded_rates_and_exclusions(written):
    _, folder = written
    texts = _texts(folder)
    for name in ("report.docx", "report.html", "report.xlsx"):
        for expected in ("84.62%", "81.82%", "80.00%", "是否解决无法识别：应为 是/否/空，收到“也许”"):
            assert expected in texts[name], (name, expected)
    assert "导出文件中有 4 行数据有误，未计入本报告各项统计" in texts["report.docx"]


def test_xlsx_keeps_numbers_as_numbers(written):
    from openpyxl import load_workbook

    _, folder = written
    wb = load_workbook(folder / "report.xlsx")
    assert wb.sheetnames[:4] == ["概览", "考核指标", "未达标指标及拉低指标的工单", "诉求类型"]
    types = {r[0]: r[1] for r in wb["诉求类型"].iter_rows(min_row=2, values_only=True)}
    assert types == {"咨询": 7, "投诉": 3, "求助": 2, "举报": 1, "建议": 1, "表扬": 1}
    overview = [r for r in wb["概览"].iter_rows(values_only=True) if r[0] == "响应率"]
    assert overview == [("响应率", 11 / 13, 11, 13, 1.0)]


def test_docx_embeds_charts_and_a_cjk_font(written):
    _, folder = written
    with zipfile.ZipFile(folder / "report.docx") as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
        document = z.read("word/document.xml").decode("utf-8")
    assert len(media) == 5  # daily, kpi, by_type, by_district, by_subtopic
    assert 'w:eastAsia="Noto Sans CJK SC"' in document


def test_missing_cjk_font_is_a_clear_error(monkeypatch):
    from matplotlib import font_manager

    from reports import charts

    charts.cjk_font.cache_clear()
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name])
    with pytest.raises(charts.MissingFont) as exc:
        charts.cjk_font()
    assert exc.value.message == "未找到中文字体 Noto Sans CJK，图表中文无法显示。请安装 fonts-noto-cjk（apt-get install fonts-noto-cjk）后重试"
    charts.cjk_font.cache_clear()


def test_docx_pages_render_with_a_cjk_font(written, tmp_path):
    """The DOCX as the office opens it: LibreOffice renders it; the pages are saved as PNG for a look by eye."""
    import shutil
    import subprocess

    if not (shutil.which("soffice") and shutil.which("pdftoppm") and shutil.which("pdffonts")):
        pytest.skip("libreoffice / poppler-utils not installed")
    _, folder = written
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(folder / "report.docx")], check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "report.pdf"
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "NotoSansCJK" in fonts.replace(" ", "") or "Noto Sans CJK" in fonts
    shots = Path(__file__).parent / "screenshots"
    shots.mkdir(exist_ok=True)
    for old in shots.glob("report-docx-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(shots / "report-docx")], check=True, timeout=120)
    pages = sorted(shots.glob("report-docx-*.png"))
    assert len(pages) >= 3 and all(p.stat().st_size > 10_000 for p in pages)
