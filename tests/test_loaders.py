"""Every supported format loads into records that know where they came from."""

from __future__ import annotations

import json

import pytest

from ingest.loaders import load_file
from kb.problems import LoadError

REG_LINES = ["北京市示例殡葬服务办法", "第一章　总则", "第一条　为规范殡葬服务，制定本办法。", "第二条　基本殡葬服务费用予以减免。"]


def _assert_regulation(records):
    (rec,) = records
    assert rec.library == "policy"
    assert rec.parsed.title == "北京市示例殡葬服务办法"
    assert [a.number for a in rec.parsed.articles] == ["第一条", "第二条"]
    assert rec.parsed.articles[1].text == "第二条　基本殡葬服务费用予以减免。"


def test_docx(tmp_path):
    import docx

    doc = docx.Document()
    for line in REG_LINES:
        doc.add_paragraph(line)
    path = tmp_path / "reg.docx"
    doc.save(str(path))
    _assert_regulation(load_file(path, 10**7))


def test_pdf(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path / "reg.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("STSong-Light", 12)
    for i, line in enumerate(REG_LINES):
        c.drawString(72, 760 - 20 * i, line)
    c.save()
    _assert_regulation(load_file(path, 10**7))


def test_html(tmp_path):
    path = tmp_path / "reg.html"
    body = "".join(f"<p>{line}</p>" for line in REG_LINES[1:])
    path.write_text(f"<html><head><title>{REG_LINES[0]}</title><script>var x=1;</script></head><body>{body}</body></html>", encoding="utf-8")
    _assert_regulation(load_file(path, 10**7))


def test_xlsx_contacts_keep_sheet_rows(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["id", "unit", "level", "district", "street", "phone", "address", "hours", "duties", "topics"])
    ws.append(["x-con-1", "朝阳区民政局", "区", "朝阳区", None, "010-0500-0001", "示例路", "工作日", "低保", "dibao"])
    ws.append([None] * 10)
    ws.append(["x-con-2", "海淀区民政局", "区", "海淀区", None, "010-0500-0002", "示例路", "工作日", "低保", "dibao"])
    path = tmp_path / "directory.xlsx"
    wb.save(str(path))
    records = load_file(path, 10**7)
    assert [(r.library, r.location, r.data["unit"]) for r in records] == [
        ("contact", "第2行", "朝阳区民政局"), ("contact", "第4行", "海淀区民政局")]


def test_jsonl_answers_and_a_malformed_line(tmp_path):
    path = tmp_path / "answers.jsonl"
    good = {"id": "x-ans-1", "question": "低保怎么申请", "variants": ["a", "b"], "answer": "到街道申请。", "topics": ["dibao"]}
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    records = load_file(path, 10**7)
    assert records[0].library == "answer" and records[0].data["id"] == "x-ans-1"
    assert records[1].location == "第2行" and records[1].data["__invalid__"].startswith("JSON 格式错误")


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("- id: a\n  question: [未闭合\n", encoding="utf-8")
    with pytest.raises(LoadError) as info:
        load_file(path, 10**7)
    assert info.value.rejection.location == "第3行"
    assert info.value.rejection.reason.startswith("YAML 格式错误")


def test_csv_with_unknown_columns_is_refused(tmp_path):
    path = tmp_path / "misc.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(LoadError, match="无法判断表格属于哪个库"):
        load_file(path, 10**7)
