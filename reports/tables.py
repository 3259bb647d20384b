"""The report's tables, shared by the DOCX, XLSX and HTML renderers so all three show the same rows.

Rates are rounded here, for display only; report.json keeps the unrounded fractions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list[object]]


def pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def change(value: float | None) -> str:
    return "—（无可比数据）" if value is None else f"{value * 100:+.1f}%"


def _share(n: int, total: int) -> str:
    return pct(n / total if total else None, 1)


def summary_lines(r: dict) -> list[str]:
    """The opening paragraph: volumes, the three rates against the contract, exclusions."""
    lines = [f"{r['period']['label']}共受理{r['kb_name']}类工单 {r['total']} 件，其中剔除 {r['filtered_total']} 件。"]
    comp = r["comparison"]
    lines.append(f"环比：{change(comp['previous']['change']) if comp['previous'] else '—（无上期数据）'}；"
                 f"同比：{change(comp['year_ago']['change']) if comp['year_ago'] else '—（无去年同期数据）'}。")
    rates = "；".join(f"{d['name']} {pct(d['value'])}（{d['numerator']}/{d['denominator']}，考核线 {pct(d['threshold'], 0)}"
                     f"{'，未达标' if d['below_threshold'] else ''}）" for d in r["kpi_detail"].values())
    lines.append(rates + "。")
    if r["excluded_rows"]:
        reasons = "，".join(f"{k} {v} 行" for k, v in r["excluded_by_reason"].items())
        lines.append(f"导出文件中有 {r['excluded_rows']} 行数据有误，未计入本报告各项统计（{reasons}），明细见“排除行”。")
    else:
        lines.append("导出文件中本期数据无错误行。")
    lines.append(r["subtopic_source"]["note"] + "。")
    risks = r["risks"]
    lines.append(f"风险预警：紧急信号 {risks['urgent_count']} 件，重点关注 {risks['attention_count']} 件，"
                 f"重复来电 {risks['repeat_caller_count']} 人，超期未办结 {risks['overdue_count']} 件，"
                 f"同一地点集中投诉 {risks['place_cluster_count']} 处。")
    return lines


def tables(r: dict) -> list[Table]:
    total = r["total"]
    names = r["subtopic_names"]
    out = [
        Table("kpi", "考核指标", ["指标", "比率", "分子", "分母", "考核线", "是否达标", "口径"],
              [[d["name"], pct(d["value"]), d["numerator"], d["denominator"], pct(d["threshold"], 0),
                "—" if d["value"] is None else ("未达标" if d["below_threshold"] else "达标"), r["definitions"][k]]
               for k, d in r["kpi_detail"].items()]),
        Table("kpi_flags", "未达标指标及拉低指标的工单", ["指标", "比率", "考核线", "工单数", "工单编号（前50）"],
              [[f["name"], pct(f["value"]), pct(f["threshold"], 0), len(f["tickets"]), "、".join(f["tickets"][:50])]
               for f in r["kpi_flags"]]),
        Table("by_type", "诉求类型", ["诉求类型", "件数", "占比"], [[k, v, _share(v, total)] for k, v in r["by_type"].items()]),
        Table("by_district", "各区工单量", ["区", "件数", "占比"], [[k, v, _share(v, total)] for k, v in r["by_district"].items()]),
        Table("by_street", "街乡镇工单量", ["区", "街乡镇", "件数"],
              [[d, s, n] for d, streets in r["by_street"].items() for s, n in streets.items()]),
        Table("by_subtopic", "诉求主题", ["主题代码", "主题", "件数", "占比"],
              [[k, names[k], v, _share(v, total)] for k, v in r["by_subtopic"].items()]),
        Table("hot_issues", "热点问题", ["序号", "件数", "主题", "关键词", "涉及区", "新增热点", "代表工单（已脱敏）", "知识库口径"],
              [[i, h["count"], h["subtopic_name"] or "", "、".join(h["keywords"]),
                "、".join(f"{d}{n}" for d, n in h["districts"].items()),
                "—" if h["is_new"] is None else ("是" if h["is_new"] else "否"), h["example"],
                f"{h['answer']['title']} {h['answer']['article']}".strip() if h.get("answer") else ""]
               for i, h in enumerate(r["hot_issues"], start=1)]),
        Table("urgent", "紧急风险信号工单", ["工单编号", "受理时间", "区", "街乡镇", "风险信号", "摘要（已脱敏）"],
              [[u["ticket_id"], u["received_at"][:16].replace("T", " "), u["district"], u["street"], "、".join(u["signals"]),
                u["summary"]] for u in r["risks"]["urgent"]]),
        Table("repeat_callers", "重复来电（同一号码本期≥3次）", ["来电人（假名）", "次数", "涉及区", "工单编号", "示例（已脱敏）"],
              [[c["caller"], c["count"], "、".join(c["districts"]), "、".join(c["ticket_ids"]), c["example"]]
               for c in r["risks"]["repeat_callers"]]),
        Table("overdue", "超期未办结工单", ["工单编号", "受理时间", "已开放天数", "区", "街乡镇", "承办单位", "摘要（已脱敏）"],
              [[o["ticket_id"], o["received_at"][:16].replace("T", " "), o["open_days"], o["district"], o["street"], o["unit"],
                o["summary"]] for o in r["risks"]["overdue"]]),
        Table("place_clusters", "同一地点集中投诉", ["区", "街乡镇", "地点", "件数", "工单编号", "示例（已脱敏）"],
              [[p["district"], p["street"], p["place"], p["count"], "、".join(p["ticket_ids"]), p["example"]]
               for p in r["risks"]["place_clusters"]]),
        Table("suggestions", "建议类诉求", ["主题", "件数"],
              [[r["suggestions"]["subtopic_names"][k], v] for k, v in r["suggestions"]["by_subtopic"].items()]),
        Table("filtered_reasons", "剔除理由", ["剔除理由", "件数"], [[k, v] for k, v in r["filtered"]["by_reason"].items()]),
        Table("filtered_departments", "剔除去向（分类模型判定）", ["部门", "件数"],
              [[k, v] for k, v in r["filtered"]["by_department"].items()]),
        Table("disagreements", "分类模型与行业确认结果不一致（待复核）", ["工单编号", "行号", "记录结果", "模型判断", "部门", "置信度", "摘要（已脱敏）"],
              [[d["ticket_id"], d["row"], d["recorded"], d["classifier"], d["department"] or "", d["confidence"], d["summary"]]
               for d in r["filtered"]["disagreements"]]),
        Table("excluded", "排除行（数据有误，未计入统计）", ["行号", "原因"], [[e["row"], e["reason"]] for e in r["excluded"]]),
    ]
    return out
