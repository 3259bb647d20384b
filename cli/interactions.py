"""``kb interactions purge``: delete stored questions, answers, feedback and reviews past retention."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from kb.settings import Settings

interactions_app = typer.Typer(no_args_is_help=True, help="坐席问答记录、反馈与评审记录（已脱敏）")
console = Console()


@interactions_app.command("purge")
def purge(days: Annotated[int | None, typer.Option("--days", min=1,
                                                   help="保留天数；默认 KB_INTERACTION_RETENTION_DAYS（730）")] = None) -> None:
    """删除超过保留期的问答、反馈、评审记录和已处理的草稿；知识库记录不受影响。"""
    from kb.interactions import InteractionStore
    from kb.storefactory import open_store

    settings = Settings()
    keep = days or settings.interaction_retention_days
    removed = InteractionStore(open_store(settings).engine).purge(keep)
    names = {"interaction_feedback": "反馈", "interaction_events": "问答", "interaction_reviews": "评审",
             "interaction_drafts": "已处理草稿"}
    console.print(f"已删除 {keep} 天前的记录：" + "，".join(f"{names[k]} {v} 条" for k, v in removed.items()))
