"""One report from one ticket export: parse, choose the period, count, and write the four files.

Every figure lands in one JSON-ready dict first; the DOCX, XLSX and HTML renderers only
format that dict, so the numbers in the documents cannot drift from report.json.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from kb.classify.duties import DutyBook
from kb.classify.risk import RiskDetector
from kb.errors import InvalidQuery, KBError, PayloadTooLarge
from kb.privacy import mask
from kb.settings import Settings
from kb.taxonomy import Taxonomy, cached_taxonomy
from reports import kpi as kpimod
from reports import periods, risks
from reports.columns import BEIJING, ColumnMap, ParsedExport, Ticket, parse_export
from reports.hotspots import HotspotConfig, find_hotspots

log = logging.getLogger("kb.reports")
UNCLASSIFIED = "unclassified"
FILES = ("report.json", "report.docx", "report.xlsx", "report.html")


def size_text(n: int) -> str:
    """1.5 MB / 16 KB: a limit of a few KB (tests, tight deployments) must not read as 0.0 MB."""
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.0f} KB"


@dataclass(frozen=True)
class PeriodRequest:
    kind: str
    date: date | None = None
    start: date | None = None
    end: date | None = None
    title: str = ""


def choose_period(req: PeriodRequest, tickets: list[Ticket]) -> periods.Period:
    if req.kind == "special":
        if req.start is None or req.end is None:
            raise InvalidQuery("专报需要同时给出开始和结束日期（--from 与 --to）")
        return periods.special(req.start, req.end, req.title)
    if req.date is not None:
        return periods.period_for(req.kind, req.date)
    if not tickets:
        raise InvalidQuery("导出文件中没有可用的工单，无法确定报告周期，请用 --date 指定")
    periods.period_for(req.kind, tickets[0].day)  # refuses an unknown kind by name
    return periods.last_complete(req.kind, max(t.day for t in tickets))


def _covers(tickets: list[Ticket], p: periods.Period) -> bool:
    days = [t.day for t in tickets]
    return bool(days) and min(days) <= p.start and max(days) >= p.end


def _label(taxonomy: Taxonomy, code: str) -> str:
    if code == UNCLASSIFIED:
        return "未分类"
    if code.startswith("dept:"):
        dep = code[5:]
        return "非本行业：" + taxonomy.departments.get(dep, taxonomy.industries.get(dep, dep)).split("（")[0]
    return taxonomy.label(code) if code in taxonomy.subtopics else code


class ReportBuilder:
    """Counts one period of one export. Optional collaborators are used when present, skipped when not."""

    def __init__(self, settings: Settings, kb: str, classifier=None, service=None) -> None:
        if kb not in settings.kbs:
            raise InvalidQuery(f"未知的知识库“{kb}”，可选：{'、'.join(settings.kbs)}")
        self.settings, self.kb = settings, kb
        self.classifier, self.service = classifier, service
        self.taxonomy = cached_taxonomy(settings.taxonomy_path)
        folder = settings.corpus_dir / "reports"
        self.columns = ColumnMap.load(folder / "columns.yaml")
        self.cfg = kpimod.KpiConfig.load(folder / "kpi.yaml", kb)
        self.detector = RiskDetector(DutyBook.load(settings.corpus_dir / "duties").risks)
        self.key = risks.load_key(settings.report_key_file or settings.data_dir / "report_key")

    def parse(self, path: Path, data: bytes | None = None) -> ParsedExport:
        size = len(data) if data is not None else path.stat().st_size if path.exists() else 0
        if not path.exists() and data is None:
            raise InvalidQuery(f"文件不存在：{path}")
        limit = self.settings.report_max_upload_bytes
        if size > limit:
            raise PayloadTooLarge(f"工单导出文件过大（{size_text(size)}），上限为 {size_text(limit)}")
        return parse_export(path, self.columns, data)

    def _classify(self, tickets: list[Ticket]) -> dict[str, object]:
        from kb.classify.classifier import MAX_BATCH, MAX_TEXT

        out: dict[str, object] = {}
        for start in range(0, len(tickets), MAX_BATCH):
            part = tickets[start : start + MAX_BATCH]
            for t, d in zip(part, self.classifier.classify_many([t.content[:MAX_TEXT] for t in part], self.kb)):
                out[t.ticket_id] = d
        return out

    def build(self, parsed: ParsedExport, req: PeriodRequest, source: str) -> dict:
        started = time.perf_counter()
        period = choose_period(req, parsed.tickets)
        now = [t for t in parsed.tickets if period.contains(t.day)]
        excluded = [b for b in parsed.bad if b.received_at is None or period.contains(b.received_at.date())]
        need_model = not parsed.has_subtopic or parsed.has_confirmation or any(t.subtopic is None for t in now)
        decisions = self._classify(now) if self.classifier is not None and need_model and now else {}

        def subtopic_of(t: Ticket) -> str:
            if t.subtopic:
                return t.subtopic
            d = decisions.get(t.ticket_id)
            if d is None:
                return UNCLASSIFIED
            return d.subtopic if d.in_scope and d.subtopic else f"dept:{d.department or d.industry}"

        by_subtopic = kpimod.counts(subtopic_of(t) for t in now)
        computed = kpimod.rates(now, self.cfg)
        report = {
            "kb": self.kb,
            "kb_name": self.taxonomy.industries.get(self.kb, self.kb),
            "title": period.title or f"{self.taxonomy.industries.get(self.kb, self.kb)}接诉即办{period.name}（{period.label}）",
            "period": period.to_json(),
            "generated_at": datetime.now(BEIJING).isoformat(timespec="seconds"),
            "source": {"file": Path(source).name, "rows": parsed.rows, "valid_rows": len(parsed.tickets)},
            "total": len(now),
            "filtered_total": sum(t.filtered for t in now),
            "excluded_rows": len(excluded),
            "excluded": [b.to_json() for b in excluded],
            "excluded_by_reason": kpimod.counts(b.kind for b in excluded),
            "by_type": kpimod.counts(t.type for t in now),
            "by_district": kpimod.counts(t.district for t in now),
            "by_street": kpimod.by_street(now),
            "by_subtopic": by_subtopic,
            "subtopic_names": {c: _label(self.taxonomy, c) for c in by_subtopic},
            "subtopic_source": self._subtopic_source(parsed, now, decisions),
            "daily": self._daily(now, period),
            "kpi": {k: r.value for k, r in computed.items()},
            "kpi_detail": {k: r.to_json() for k, r in computed.items()},
            "kpi_flags": kpimod.flags(computed),
            "comparison": self._comparison(parsed.tickets, period, len(now)),
            "hot_issues": self._hotspots(parsed.tickets, now, period, subtopic_of),
            "risks": self._risks(parsed.tickets, now, period),
            "suggestions": self._suggestions(now, subtopic_of),
            "filtered": self._filtered(now, decisions),
            "definitions": self._definitions(),
        }
        report["took_seconds"] = round(time.perf_counter() - started, 3)
        return report

    def _subtopic_source(self, parsed: ParsedExport, now: list[Ticket], decisions: dict) -> dict:
        from_export = sum(t.subtopic is not None for t in now)
        by_model = sum(t.subtopic is None and t.ticket_id in decisions for t in now)
        missing = len(now) - from_export - by_model
        if not parsed.has_subtopic:
            note = "导出文件无“主题”列，主题由工单分类模型自动判定" if by_model else "导出文件无“主题”列，且工单分类模型未加载，主题统计为“未分类”"
        elif by_model or missing:
            note = f"{from_export} 件主题取自导出文件，{by_model} 件由工单分类模型判定，{missing} 件未分类"
        else:
            note = "主题取自导出文件“主题”列"
        return {"export": from_export, "classifier": by_model, "unclassified": missing, "note": note}

    @staticmethod
    def _daily(now: list[Ticket], period: periods.Period) -> dict[str, int]:
        per_day = Counter(t.day for t in now)
        days = (period.end - period.start).days + 1
        return {(period.start + timedelta(days=i)).isoformat(): per_day.get(period.start + timedelta(days=i), 0)
                for i in range(days)}

    def _comparison(self, tickets: list[Ticket], period: periods.Period, total: int) -> dict:
        out = {}
        for key, other in (("previous", periods.previous(period)), ("year_ago", periods.year_ago(period))):
            if not _covers(tickets, other):
                out[key] = None
                continue
            before = [t for t in tickets if other.contains(t.day)]
            out[key] = {"start": other.start.isoformat(), "end": other.end.isoformat(), "total": len(before),
                        "change": kpimod.change(total, len(before)),
                        "by_type": kpimod.counts(t.type for t in before)}
        return out

    def _hotspots(self, tickets: list[Ticket], now: list[Ticket], period: periods.Period, subtopic_of) -> list[dict]:
        cfg = HotspotConfig.from_dict(self.cfg.hotspot)
        trailing, p = [], period
        for _ in range(cfg.trailing_periods):
            p = periods.previous(p)
            if not _covers(tickets, p):
                break
            trailing.append([t for t in tickets if p.contains(t.day)])
        from kb.tokenize import get_tokenizer

        tokenizer = get_tokenizer(self.settings.corpus_dir, self.settings.data_dir / "cache")
        found = find_hotspots(now, trailing, cfg, subtopic_of, lambda c: _label(self.taxonomy, c), tokenizer.tokens)
        for h in found:
            h["ticket_ids"] = h["ticket_ids"][: self.cfg.max_listed]
            answer = self._answer(h["example"])
            if answer is not None:
                h["answer"] = answer
        return found

    def _answer(self, text: str) -> dict | None:
        if self.service is None:
            return None
        from kb.search import SearchRequest

        try:
            result = self.service.search(self.kb, SearchRequest(text[:200], top_k=1, libraries=["answer", "policy"]))
        except KBError as exc:
            log.info("no knowledge-base match for hot issues: %s", exc.message)
            self.service = None
            return None
        if not result.hits:
            return None
        c = result.hits[0].chunk
        return {"id": c.id, "title": c.title, "library": c.library, "doc_no": c.doc_no, "article": c.article,
                "text": mask(c.text)[:200]}

    def _risks(self, tickets: list[Ticket], now: list[Ticket], period: periods.Period) -> dict:
        urgent, attention = risks.urgent(now, self.detector)
        cap = self.cfg.max_listed
        overdue = risks.overdue(tickets, period.end_instant, self.cfg.overdue_days)
        repeat = risks.repeat_callers(now, self.key, self.cfg.repeat_caller_min)
        places = risks.place_clusters(now, self.cfg.place_complaints_min)
        return {
            "repeat_callers": repeat[:cap], "repeat_caller_count": len(repeat),
            "overdue": overdue[:cap], "overdue_count": len(overdue),
            "urgent": urgent[:cap], "urgent_count": len(urgent),
            "attention_count": attention,
            "place_clusters": places[:cap], "place_cluster_count": len(places),
        }

    def _suggestions(self, now: list[Ticket], subtopic_of) -> dict:
        sug = [t for t in now if t.type == "建议"]
        by_sub = kpimod.counts(subtopic_of(t) for t in sug)
        return {"count": len(sug), "by_subtopic": by_sub,
                "subtopic_names": {c: _label(self.taxonomy, c) for c in by_sub},
                "examples": [{"ticket_id": t.ticket_id, "district": t.district, "summary": t.masked_content[:100]}
                             for t in sug[:10]]}

    def _filtered(self, now: list[Ticket], decisions: dict) -> dict:
        out = [t for t in now if t.filtered]
        by_dep = Counter()
        for t in out:
            d = decisions.get(t.ticket_id)
            dep = (d.department or d.industry) if d is not None and not d.in_scope else None
            by_dep[_label(self.taxonomy, f"dept:{dep}").removeprefix("非本行业：") if dep else "（未判定）"] += 1
        disagree = []
        for t in now:
            d = decisions.get(t.ticket_id)
            if d is None or t.confirmation not in ("确认", "剔除"):
                continue
            if (t.confirmation == "确认") != d.in_scope:
                disagree.append({"ticket_id": t.ticket_id, "row": t.row, "recorded": t.confirmation,
                                 "classifier": "行业确认" if d.in_scope else "剔除申报",
                                 "department": _label(self.taxonomy, f"dept:{d.department}").removeprefix("非本行业：") if d.department else None,
                                 "confidence": d.confidence, "summary": t.masked_content[:80]})
        return {"count": len(out), "pending": sum(t.confirmation == "待确认" for t in now),
                "by_department": dict(by_dep.most_common()),
                "by_reason": kpimod.counts(t.filter_reason or "（未填写）" for t in out),
                "disagreements": disagree[: self.cfg.max_listed], "disagreement_count": len(disagree)}

    def _definitions(self) -> dict[str, str]:
        h = self.cfg.response_limit_hours
        return {
            "response_rate": f"首次响应时间不晚于受理时间后 {h:g} 小时的工单 ÷ 本期全部工单（不含剔除）；首次响应时间为空视为未响应",
            "resolution_rate": "是否解决=是 ÷ 是否解决为“是”或“否”的工单（不含剔除；空值为未评价，不计入）",
            "satisfaction_rate": "满意度为“满意”或“基本满意” ÷ 有满意度评价的工单（不含剔除）",
            "volume": "工单量含剔除工单；报告周期按北京时间（Asia/Shanghai）的受理日期划分，周报为周一至周日",
            "overdue": f"期末（{'周期最后一天 24:00'}）仍未办结且已超过 {self.cfg.overdue_days} 天的工单，含以前周期受理的工单",
            "repeat_callers": f"同一来电号码本期来电 ≥ {self.cfg.repeat_caller_min} 次；号码以密钥化假名显示",
        }


def write_report(report: dict, out_dir: Path) -> list[Path]:
    """The four files; the JSON goes last so a present report.json means a complete set."""
    from reports.charts import draw_charts
    from reports.render_docx import render_docx
    from reports.render_html import render_html
    from reports.render_xlsx import render_xlsx

    out_dir.mkdir(parents=True, exist_ok=True)
    charts = draw_charts(report)
    render_docx(report, charts, out_dir / "report.docx")
    render_xlsx(report, out_dir / "report.xlsx")
    render_html(report, charts, out_dir / "report.html")
    tmp = out_dir / "report.json.tmp"
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out_dir / "report.json")
    return [out_dir / f for f in FILES]


def optional_collaborators(settings: Settings, kb: str) -> tuple[object | None, object | None, list[str]]:
    """(classifier, knowledge service, notes): each present when built, None with a note when not.

    A report is still worth having without them: subtopics come from the export and hot
    issues go without a matching standard answer.
    """
    from kb.classify.classifier import TicketClassifier
    from kb.classify.training import model_dir
    from kb.index import IndexLayout

    notes = []
    try:
        classifier = TicketClassifier.load(model_dir(settings), settings.corpus_dir / "duties",
                                           cached_taxonomy(settings.taxonomy_path))
    except KBError as exc:
        classifier = None
        notes.append(exc.message)
    service = None
    if IndexLayout(settings.data_dir, kb).current() is not None:
        from kb.service import KnowledgeService

        service = KnowledgeService(settings)
    else:
        notes.append(f"知识库 {kb} 尚未建立索引，热点问题不附标准答复口径")
    return classifier, service, notes
