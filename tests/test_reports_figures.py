"""The report's figures on a hand-made export whose every number was counted by hand (see the comments)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from kb.errors import InvalidQuery, PayloadTooLarge
from reports.build import PeriodRequest, ReportBuilder
from reports.columns import ColumnMap, parse_export, parse_time
from reports.periods import last_complete, period_for, previous, year_ago
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "reports" / "march.csv"


@pytest.fixture(scope="module")
def builder(tmp_path_factory) -> ReportBuilder:
    return ReportBuilder(make_settings(tmp_path_factory.mktemp("reports")), "minzheng")


@pytest.fixture(scope="module")
def march(builder) -> dict:
    return builder.build(builder.parse(FIXTURE), PeriodRequest("month"), str(FIXTURE))


def test_period_is_the_last_complete_month_in_beijing_time(march):
    # T13 (2026-04-01 00:10) starts April, which the file does not cover to its end.
    assert march["period"]["start"] == "2026-03-01"
    assert march["period"]["end"] == "2026-03-31"


def test_volumes_count_filtered_tickets_and_leave_out_bad_rows(march):
    # 21 data rows: T13 is April, T17 February, four rows are malformed → 15 March tickets, 2 of them 剔除.
    assert march["total"] == 15
    assert march["filtered_total"] == 2
    assert march["by_type"] == {"咨询": 7, "投诉": 3, "求助": 2, "举报": 1, "建议": 1, "表扬": 1}
    assert march["by_district"] == {"东城区": 6, "西城区": 2, "丰台区": 1, "大兴区": 1, "昌平区": 1, "朝阳区": 1,
                                    "海淀区": 1, "石景山区": 1, "通州区": 1}
    assert march["by_street"]["东城区"] == {"东四街道": 5, "景山街道": 1}
    assert march["by_subtopic"] == {"dibao": 4, "care_institution": 3, "unclassified": 2, "elderly_allowance": 1,
                                    "home_care": 1, "marriage_reg": 1, "org_supervision": 1, "staff_conduct": 1,
                                    "temp_aid": 1}
    assert march["subtopic_source"]["note"] == "13 件主题取自导出文件，0 件由工单分类模型判定，2 件未分类"


def test_malformed_rows_are_listed_with_row_numbers_and_reasons(march):
    assert march["excluded_rows"] == 4
    assert march["excluded_by_reason"] == {"受理时间无法识别": 1, "区无法识别": 1, "是否解决无法识别": 1, "诉求类型无法识别": 1}
    assert march["excluded"] == [
        {"row": 15, "reason": "受理时间无法识别：“2026-13-45 10:00”"},
        {"row": 16, "reason": "区无法识别：“火星区”"},
        {"row": 17, "reason": "诉求类型无法识别：“闲聊”不在 咨询/求助/投诉/举报/建议/表扬/其他 之中"},
        {"row": 21, "reason": "是否解决无法识别：应为 是/否/空，收到“也许”"},
    ]


def test_three_rates_are_exact_fractions_without_filtered_tickets(march):
    # 13 non-剔除 tickets. Late or never responded: T03 (25 h), T07 (empty) → 11/13.
    # 是/否 recorded on 11, 否 on T03 and T19 → 9/11. 满意度 on 10, 不满意 on T03 and T10 → 8/10.
    assert march["kpi"] == {"response_rate": 11 / 13, "resolution_rate": 9 / 11, "satisfaction_rate": 8 / 10}
    assert march["kpi_detail"]["response_rate"]["numerator"] == 11
    assert march["kpi_detail"]["response_rate"]["denominator"] == 13
    assert march["kpi_flags"] == [
        {"kpi": "response_rate", "name": "响应率", "value": 11 / 13, "threshold": 1.0, "tickets": ["T03", "T07"]},
        {"kpi": "resolution_rate", "name": "解决率", "value": 9 / 11, "threshold": 0.9, "tickets": ["T03", "T19"]},
        {"kpi": "satisfaction_rate", "name": "满意率", "value": 0.8, "threshold": 0.95, "tickets": ["T03", "T10"]},
    ]


def test_no_earlier_data_means_null_comparisons(march):
    assert march["comparison"] == {"previous": None, "year_ago": None}


def test_risks_repeat_caller_overdue_and_urgent(march):
    repeat = march["risks"]["repeat_callers"]
    assert [(c["count"], c["ticket_ids"]) for c in repeat] == [(5, ["T01", "T02", "T03", "T09", "T21"])]
    assert march["risks"]["repeat_caller_count"] == 1
    assert repeat[0]["caller"].startswith("来电人-") and len(repeat[0]["caller"]) == 12
    # Open at 2026-04-01 00:00 +08: T17 since 02-27 10:00 (32.6 days), T07 since 03-12 09:00 (19.6 days);
    # T12 (03-31 23:30) is open too but only for half an hour.
    assert [(o["ticket_id"], o["open_days"]) for o in march["risks"]["overdue"]] == [("T17", 32), ("T07", 19)]
    assert [(u["ticket_id"], u["signals"]) for u in march["risks"]["urgent"]] == [("T07", ["老人无人照料面临危险"])]


def test_filtered_summary(march):
    assert march["filtered"]["count"] == 2
    assert march["filtered"]["pending"] == 1
    assert march["filtered"]["by_reason"] == {"属于人社部门职责": 1, "属于医保部门职责": 1}


def test_pseudonym_is_stable_for_one_key(builder, march):
    again = builder.build(builder.parse(FIXTURE), PeriodRequest("month"), str(FIXTURE))
    assert again["risks"]["repeat_callers"][0]["caller"] == march["risks"]["repeat_callers"][0]["caller"]


def test_a_day_report_at_the_month_boundary(builder):
    day = builder.build(builder.parse(FIXTURE), PeriodRequest("day", date(2026, 3, 31)), str(FIXTURE))
    assert day["total"] == 1  # T12 at 23:30 Beijing time, 15:30 UTC; T13 at 00:10 is the next day
    assert day["excluded"] == [{"row": 15, "reason": "受理时间无法识别：“2026-13-45 10:00”"}]


def test_special_report_needs_its_dates(builder):
    parsed = builder.parse(FIXTURE)
    special = builder.build(parsed, PeriodRequest("special", start=date(2026, 3, 25), end=date(2026, 3, 29), title="养老专报"),
                            str(FIXTURE))
    assert special["title"] == "养老专报"
    assert special["total"] == 4  # T11 (03-25), T18, T19, T21 (03-29); T20 (03-28) is malformed
    assert special["excluded"] == [{"row": 15, "reason": "受理时间无法识别：“2026-13-45 10:00”"},
                                   {"row": 21, "reason": "是否解决无法识别：应为 是/否/空，收到“也许”"}]
    with pytest.raises(InvalidQuery) as exc:
        builder.build(parsed, PeriodRequest("special", start=date(2026, 3, 25)), str(FIXTURE))
    assert exc.value.message == "专报需要同时给出开始和结束日期（--from 与 --to）"


def test_beijing_time_and_periods():
    assert parse_time("2026-03-31 23:30").isoformat() == "2026-03-31T23:30:00+08:00"
    assert parse_time("2026-03-31T15:30:00+00:00").isoformat() == "2026-03-31T23:30:00+08:00"
    assert parse_time("2026-03-31T16:30:00Z").date() == date(2026, 4, 1)
    week = period_for("week", date(2026, 3, 4))
    assert (week.start, week.end) == (date(2026, 3, 2), date(2026, 3, 8))
    assert (period_for("quarter", date(2026, 5, 9)).start, period_for("quarter", date(2026, 5, 9)).end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert period_for("half", date(2026, 8, 1)).label == "2026年下半年"
    assert previous(period_for("month", date(2026, 3, 5))).start == date(2026, 2, 1)
    assert year_ago(period_for("month", date(2024, 2, 29))).end == date(2023, 2, 28)
    assert last_complete("week", date(2026, 3, 8)).start == date(2026, 3, 2)
    assert last_complete("week", date(2026, 3, 7)).start == date(2026, 2, 23)
    with pytest.raises(InvalidQuery) as exc:
        period_for("fortnight", date(2026, 3, 1))
    assert exc.value.message.startswith("未知的报告周期“fortnight”")


def _columns(builder) -> ColumnMap:
    return builder.columns


def test_missing_column_is_named(tmp_path, builder):
    text = FIXTURE.read_text(encoding="utf-8").replace("满意度", "评分", 1)
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidQuery) as exc:
        parse_export(bad, _columns(builder))
    assert exc.value.message == "bad.csv：无法识别的列“评分”。请改为标准表头，或在 corpus/reports/columns.yaml 中登记该写法"
    header, _, rest = FIXTURE.read_text(encoding="utf-8").partition("\n")
    (tmp_path / "missing.csv").write_text(header.replace(",满意度", "") + "\n" + rest, encoding="utf-8")
    with pytest.raises(InvalidQuery) as exc:
        parse_export(tmp_path / "missing.csv", _columns(builder))
    assert exc.value.message == "missing.csv：缺少必需列“满意度”"


def test_other_header_spellings_are_accepted(tmp_path, builder):
    text = FIXTURE.read_text(encoding="utf-8").replace("受理时间", "来电时间", 1).replace("街乡镇", "街道", 1)
    (tmp_path / "alias.csv").write_text(text, encoding="utf-8")
    assert len(parse_export(tmp_path / "alias.csv", _columns(builder)).tickets) == 17


def test_gbk_and_bom_csv_give_the_same_tickets(tmp_path, builder):
    text = FIXTURE.read_text(encoding="utf-8")
    (tmp_path / "gbk.csv").write_bytes(text.encode("gbk"))
    (tmp_path / "bom.csv").write_bytes(text.encode("utf-8-sig"))
    base = parse_export(FIXTURE, _columns(builder))
    for name in ("gbk.csv", "bom.csv"):
        parsed = parse_export(tmp_path / name, _columns(builder))
        assert parsed.tickets == base.tickets
        assert [b.row for b in parsed.bad] == [15, 16, 17, 21]


def test_xlsx_export_with_native_datetimes(tmp_path, builder):
    import csv

    from openpyxl import Workbook

    rows = list(csv.reader(FIXTURE.open(encoding="utf-8")))
    wb = Workbook()
    ws = wb.active
    for i, row in enumerate(rows):
        if i and row[1] == "2026-03-31 23:30":
            row[1] = parse_time(row[1]).replace(tzinfo=None)
        ws.append(row)
    wb.save(tmp_path / "march.xlsx")
    report = builder.build(builder.parse(tmp_path / "march.xlsx"), PeriodRequest("month"), "march.xlsx")
    assert report["total"] == 15
    assert report["kpi"]["resolution_rate"] == 9 / 11


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty.csv：文件为空"),
    ("工单编号,受理时间\n".encode(), "empty.csv：缺少必需列“诉求内容”“诉求类型”“区”“街乡镇”“来电号码”“承办单位”“首次响应时间”“办结时间”“是否解决”“满意度”"),
    (b"\x80\x81\xfe\xff\x00\x01" * 50, "empty.csv：无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8、GBK/GB18030），请另存为 UTF-8 后重试"),
])
def test_empty_and_undecodable_files(tmp_path, builder, content, message):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidQuery) as exc:
        parse_export(path, _columns(builder))
    assert exc.value.message == message


def test_header_only_and_broken_xlsx(tmp_path, builder):
    header = FIXTURE.read_text(encoding="utf-8").splitlines()[0]
    (tmp_path / "head.csv").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(InvalidQuery) as exc:
        parse_export(tmp_path / "head.csv", _columns(builder))
    assert exc.value.message == "head.csv：只有表头，没有工单数据"
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InvalidQuery) as exc:
        parse_export(tmp_path / "broken.xlsx", _columns(builder))
    assert exc.value.message.startswith("broken.xlsx：无法读取 XLSX 文件")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InvalidQuery) as exc:
        parse_export(tmp_path / "notes.txt", _columns(builder))
    assert exc.value.message == "notes.txt：不支持的文件类型“.txt”，请使用 CSV 或 XLSX"


def test_huge_file_is_refused_by_its_own_limit(tmp_path):
    settings = make_settings(tmp_path, report_max_upload_bytes=2048)
    big = tmp_path / "big.csv"
    shutil.copy(FIXTURE, big)
    with pytest.raises(PayloadTooLarge) as exc:
        ReportBuilder(settings, "minzheng").parse(big)
    assert exc.value.message == f"工单导出文件过大（{big.stat().st_size / 1024:.0f} KB），上限为 2 KB"


def test_unknown_kb_is_refused(tmp_path):
    with pytest.raises(InvalidQuery) as exc:
        ReportBuilder(make_settings(tmp_path), "gongan")
    assert exc.value.message == "未知的知识库“gongan”，可选：minzheng、canlian"
