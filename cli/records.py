"""``kb records``, ``kb keys`` and ``kb audit``: the knowledge manager's and the admin's commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kb.errors import KBError
from kb.settings import Settings

records_app = typer.Typer(no_args_is_help=True, help="记录库：查看、停用、恢复")
keys_app = typer.Typer(no_args_is_help=True, help="访问密钥与角色")
audit_app = typer.Typer(no_args_is_help=True, invoke_without_command=True, help="审计日志")
console = Console()
err = Console(stderr=True)


def _actor() -> str:
    """Who a CLI write is attributed to in the audit: KB_ACTOR, else the login name."""
    import getpass

    return os.environ.get("KB_ACTOR") or f"cli:{getpass.getuser()}"


def _fail(exc: KBError) -> None:
    err.print(f"[red]错误：[/red]{exc.message}")
    raise typer.Exit(2)


def _editor():
    from kb.editing import RecordEditor
    from kb.storefactory import open_store

    settings = Settings()
    return RecordEditor(settings, open_store(settings))


@records_app.command("list")
def list_records(kb: Annotated[str, typer.Option("--kb")] = "minzheng",
                 library: Annotated[str | None, typer.Option("--library", "-l")] = None,
                 q: Annotated[str | None, typer.Option("--q")] = None,
                 status: Annotated[str | None, typer.Option("--status")] = None) -> None:
    """列出记录。"""
    editor = _editor()
    total, states = editor.store.list(kb, library, q, status, page_size=500)
    table = Table(title=f"{kb}：共 {total} 条")
    for col in ("编号", "库", "标题", "状态", "版本", "更新时间", "更新人"):
        table.add_column(col)
    for s in states:
        table.add_row(s.id, s.library, s.title[:30], s.status, str(s.revision), s.updated[:19], s.updated_by)
    console.print(table)


@records_app.command("show")
def show(record_id: str, kb: Annotated[str, typer.Option("--kb")] = "minzheng") -> None:
    """显示一条记录的当前内容（JSON）。"""
    try:
        state = _editor().store.get(kb, record_id)
    except KBError as exc:
        _fail(exc)
    sys.stdout.write(json.dumps({**state.summary(), "record": state.content}, ensure_ascii=False, indent=1) + "\n")


@records_app.command("history")
def history(record_id: str, kb: Annotated[str, typer.Option("--kb")] = "minzheng") -> None:
    """列出一条记录的全部版本。"""
    try:
        revisions = _editor().store.history(kb, record_id)
    except KBError as exc:
        _fail(exc)
    table = Table(title=f"{record_id} 的版本")
    for col in ("版本", "时间", "作者", "操作", "状态", "原因"):
        table.add_column(col)
    for r in revisions:
        table.add_row(str(r["revision"]), r["time"][:19], r["author"], r["action"], r["status"], r["reason"])
    console.print(table)


@records_app.command("retire")
def retire(record_id: str, reason: Annotated[str, typer.Option("--reason", help="停用原因（必填）")],
           kb: Annotated[str, typer.Option("--kb")] = "minzheng") -> None:
    """停用一条记录（不删除，可恢复）。"""
    try:
        result = _editor().retire(kb, record_id, _actor(), reason)
    except KBError as exc:
        _fail(exc)
    console.print(f"已停用 {record_id}（第 {result.state.revision} 版）" + ("" if result.indexed else f"；索引未更新：{result.index_error}"))


@records_app.command("restore")
def restore(record_id: str, revision: Annotated[int, typer.Option("--revision")],
            reason: Annotated[str, typer.Option("--reason")] = "",
            kb: Annotated[str, typer.Option("--kb")] = "minzheng") -> None:
    """把一条记录恢复为某个历史版本（作为新版本保存）。"""
    try:
        result = _editor().restore(kb, record_id, revision, _actor(), reason)
    except KBError as exc:
        _fail(exc)
    console.print(f"已将 {record_id} 恢复为第 {revision} 版的内容，现为第 {result.state.revision} 版")


def _keys():
    from kb.keys import KeyStore
    from kb.storefactory import open_store

    return KeyStore(open_store(Settings()))


@keys_app.command("create")
def create_key(name: Annotated[str, typer.Option("--name")],
               role: Annotated[str, typer.Option("--role", help="agent|manager|reviewer|admin")]) -> None:
    """新建密钥；密钥只显示这一次，在输出的最后一行。"""
    try:
        key = _keys().create(name, role, actor=_actor())
    except KBError as exc:
        _fail(exc)
    err.print(f"已为 {name}（{role}）创建密钥；请妥善保存，系统只保存其摘要，无法再次显示：")
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def list_keys() -> None:
    """列出密钥（不显示密钥本身）。"""
    table = Table(title="访问密钥")
    for col in ("名称", "角色", "创建时间", "吊销时间"):
        table.add_column(col)
    for k in _keys().list():
        table.add_row(k["name"], k["role"], k["created"][:19], (k["revoked"] or "")[:19])
    console.print(table)


@keys_app.command("revoke")
def revoke_key(name: str) -> None:
    """吊销密钥；使用它的登录会话同时失效。"""
    try:
        _keys().revoke(name, actor=_actor())
    except KBError as exc:
        _fail(exc)
    console.print(f"已吊销 {name}")


@keys_app.command("ensure-local")
def ensure_local() -> None:
    """首次运行时创建本机管理员密钥，保存在 KB_DATA_DIR/admin.key（仅属主可读）。"""
    settings = Settings()
    path: Path = settings.data_dir / "admin.key"
    if path.exists() and path.read_text(encoding="utf-8").strip():
        try:
            _keys().authenticate(path.read_text(encoding="utf-8").strip())
            err.print(f"本机管理员密钥：{path}")
            return
        except KBError:
            pass
    import secrets

    name = "local-admin" if not any(k["name"] == "local-admin" for k in _keys().list()) else f"local-admin-{secrets.token_hex(3)}"
    key = _keys().create(name, "admin", actor="setup")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)
    err.print(f"已创建本机管理员密钥 {name}，保存在 {path}（仅属主可读）")


@audit_app.callback()
def audit(ctx: typer.Context, kb: Annotated[str | None, typer.Option("--kb")] = None,
          actor: Annotated[str | None, typer.Option("--actor")] = None,
          since: Annotated[str | None, typer.Option("--since")] = None,
          until: Annotated[str | None, typer.Option("--until")] = None,
          as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """显示审计日志；kb audit verify 校验哈希链。"""
    if ctx.invoked_subcommand:
        return
    from kb.storefactory import open_store

    entries = open_store(Settings()).audit_entries(kb, actor, since, until)
    if as_json:
        for e in entries:
            sys.stdout.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"审计日志（{len(entries)} 条）")
    for col in ("序号", "时间", "操作人", "操作", "知识库", "记录", "版本", "原因"):
        table.add_column(col)
    for e in entries:
        table.add_row(str(e.seq), e.time[:19], e.actor + (f"（提议：{e.proposed_by}）" if e.proposed_by else ""), e.action,
                      e.kb or "", e.record_id or "", str(e.revision or ""), e.reason[:40])
    console.print(table)


@audit_app.command("verify")
def verify() -> None:
    """校验审计日志的哈希链：任何条目被改动、删除或重排都会被发现。退出码 1 表示发现问题。"""
    from kb.storefactory import open_store

    n, problems = open_store(Settings()).verify_audit()
    if problems:
        for p in problems:
            err.print(f"[red]{p}[/red]")
        raise typer.Exit(1)
    console.print(f"审计链完整：共 {n} 条记录")


def register_handover(app: typer.Typer) -> None:
    @app.command("export")
    def export(kb: Annotated[str, typer.Option("--kb")], out: Annotated[Path, typer.Option("--out")]) -> None:
        """导出知识库的全部内容（各库文件、全部历史版本、审计日志、词典、向量）为一个 zip。"""
        from kb.exporting import export_kb
        from kb.storefactory import open_store

        settings = Settings()
        try:
            manifest = export_kb(settings, open_store(settings), kb, out, _actor())
        except KBError as exc:
            _fail(exc)
        console.print(f"已导出 {kb}：{manifest['records']} 条记录、{manifest['revisions']} 个版本、"
                      f"{len(manifest['files'])} 个文件 → {out}")

    @app.command("import")
    def import_(archive: Path, kb: Annotated[str | None, typer.Option("--kb", help="导入为此名称；默认沿用导出时的名称")] = None) -> None:
        """从导出文件新建知识库；嵌入模型一致时直接使用文件中的向量，不重新计算。"""
        from kb.exporting import import_kb
        from kb.storefactory import open_store

        settings = Settings()
        try:
            manifest, result, reused = import_kb(settings, open_store(settings), archive, _actor(), kb)
        except KBError as exc:
            _fail(exc)
        console.print(f"已导入 {kb or manifest['kb']}：{manifest['records']} 条记录，索引版本 {result.version}，"
                      f"{result.chunks} 个分块；复用向量 {reused} 个，新计算 {result.embedded} 个")



def register_check(app: typer.Typer) -> None:
    @app.command("check")
    def check(kb: Annotated[str, typer.Option("--kb")] = "minzheng",
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """检查知识库：失效引用、答复与条款金额不一致、电话不一致、长期未复核的记录。有问题时退出码为 1。"""
        from kb.checks import run_checks
        from kb.service import KnowledgeService
        from kb.storefactory import open_store

        settings = Settings()
        try:
            report = run_checks(kb, open_store(settings), KnowledgeService(settings).index(kb),
                                settings.unreviewed_days, settings.today)
        except KBError as exc:
            _fail(exc)
        if as_json:
            sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n")
        else:
            for item in report.stale_references:
                console.print(f"[red]失效引用[/red] {item['answer_id']} → {item['doc']} {item['article']}：{item['reason']}")
            for item in report.amount_conflicts:
                console.print(f"[yellow]金额不一致[/yellow] {item['answer_id']} 与 {item['policy_id']}（{item['context']}）："
                              f"{'、'.join(item['answer_values'])} ≠ {'、'.join(item['policy_values'])}")
            for item in report.phone_conflicts:
                console.print(f"[yellow]电话不一致[/yellow] {item['unit']}：通讯录 {item['directory_phone']}，"
                              f"{item['record_id']} 中为 {item['phone_in_record']}")
            for item in report.hours_conflicts:
                units = "、".join(f"{c['unit']}（{c['directory_hours']}）" for c in item["contacts"][:3])
                more = f" 等 {len(item['contacts'])} 处" if len(item["contacts"]) > 3 else ""
                console.print(f"[yellow]办公时间不一致[/yellow] {item['answer_id']} 中{item['office']}为 {item['hours_in_record']}，"
                              f"通讯录：{units}{more}")
            console.print(f"超过 {settings.unreviewed_days} 天未复核：{len(report.unreviewed)} 条")
            console.print(f"共 {report.problems} 个问题（{report.today}）")
        if report.problems:
            raise typer.Exit(1)


def register_versions(app: typer.Typer) -> None:
    @app.command("versions")
    def versions(kb: Annotated[str, typer.Option("--kb")] = "minzheng",
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """列出索引版本：在用、可回滚、损坏或未完成（被中断的导入）。"""
        from kb.index import IndexLayout
        from kb.versions import list_versions

        rows = list_versions(IndexLayout(Settings().data_dir, kb))
        if as_json:
            sys.stdout.write(json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=1) + "\n")
            return
        table = Table(title=f"{kb} 的索引版本（新→旧）")
        for col in ("版本", "状态", "类型", "基础版本", "创建时间", "分块", "记录库代数", "说明"):
            table.add_column(col)
        for r in rows:
            table.add_row(r.version, r.state, r.kind, r.base, r.created, str(r.chunks), str(r.store_generation), r.error)
        console.print(table)

    @app.command("rollback")
    def rollback_cmd(version: Annotated[str | None, typer.Argument(help="目标版本；省略时为在用版本之前最新的可用版本")] = None,
                     kb: Annotated[str, typer.Option("--kb")] = "minzheng",
                     reason: Annotated[str, typer.Option("--reason")] = "") -> None:
        """把在用索引切回更早的版本（原子切换，记入审计）；下一次修改或导入会按记录库重建索引。"""
        from kb.index import IndexLayout
        from kb.storefactory import open_store
        from kb.versions import rollback

        settings = Settings()
        try:
            target = rollback(IndexLayout(settings.data_dir, kb), open_store(settings), _actor(), version, reason)
        except KBError as exc:
            _fail(exc)
        console.print(f"已切换到索引版本 {target.version}（{target.kind}，{target.chunks} 个分块，反映记录库第 "
                      f"{target.store_generation} 代）。后台同步暂停，直到下一次修改或导入。")
