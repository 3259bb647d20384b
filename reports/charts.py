"""Charts for the documents, drawn by matplotlib with a CJK font.

Without a CJK font matplotlib draws Chinese as empty boxes and says nothing, so a
missing Noto Sans CJK is refused up front with the package to install.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache

from kb.errors import KBError

FONT_NAMES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK HK", "Noto Serif CJK SC")


class MissingFont(KBError):
    """No CJK font available for the charts."""


@lru_cache(maxsize=1)
def cjk_font() -> str:
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    for name in FONT_NAMES:
        if name in available:
            return name
    raise MissingFont("未找到中文字体 Noto Sans CJK，图表中文无法显示。请安装 fonts-noto-cjk（apt-get install fonts-noto-cjk）后重试")


def _figure(width: float = 7.0, height: float = 3.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = [cjk_font()]
    plt.rcParams["axes.unicode_minus"] = False
    return plt, plt.subplots(figsize=(width, height), dpi=110)


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _bars(title: str, data: dict[str, float], horizontal: bool = False, fmt: str = "{:g}") -> bytes:
    plt, (fig, ax) = _figure(7.0, max(2.6, 0.32 * len(data) + 1) if horizontal else 3.2)
    names, values = list(data), list(data.values())
    if horizontal:
        bars = ax.barh(names[::-1], values[::-1], color="#3b6ea5")
    else:
        bars = ax.bar(names, values, color="#3b6ea5")
        ax.tick_params(axis="x", labelrotation=30 if len(names) > 6 else 0)
    ax.bar_label(bars, labels=[fmt.format(v) for v in (values[::-1] if horizontal else values)], fontsize=8)
    ax.set_title(title)
    if fmt == "{:g}":  # counts of tickets: whole-number ticks
        from matplotlib.ticker import MaxNLocator

        (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(plt, fig)


def _daily(data: dict[str, int]) -> bytes:
    plt, (fig, ax) = _figure()
    days = list(data)
    ax.plot(range(len(days)), list(data.values()), color="#3b6ea5", marker="o" if len(days) <= 31 else None, markersize=3)
    step = max(1, len(days) // 10)
    ax.set_xticks(range(0, len(days), step), [d[5:] for d in days[::step]], rotation=30)
    ax.set_title("每日受理量（件）")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # ticket counts: never 0.2 件
    ax.spines[["top", "right"]].set_visible(False)
    return _png(plt, fig)


def _kpi(report: dict) -> bytes:
    plt, (fig, ax) = _figure(7.0, 2.8)
    detail = report["kpi_detail"]
    names = [d["name"] for d in detail.values()]
    values = [(d["value"] or 0) * 100 for d in detail.values()]
    colors = ["#c0392b" if d["below_threshold"] else "#2e8b57" for d in detail.values()]
    bars = ax.barh(names, values, color=colors)
    for i, d in enumerate(detail.values()):
        ax.plot([d["threshold"] * 100] * 2, [i - 0.4, i + 0.4], color="black", linestyle="--", linewidth=1)
    ax.bar_label(bars, labels=["—" if d["value"] is None else f"{d['value'] * 100:.2f}%" for d in detail.values()], fontsize=9)
    ax.set_xlim(0, 108)
    ax.set_title("三率与考核线（虚线）")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(plt, fig)


def draw_charts(report: dict) -> dict[str, bytes]:
    charts = {"kpi": _kpi(report), "daily": _daily(report["daily"])}
    if report["by_type"]:
        charts["by_type"] = _bars("诉求类型分布（件）", report["by_type"])
    if report["by_district"]:
        charts["by_district"] = _bars("各区工单量（件）", report["by_district"], horizontal=True)
    top = dict(list(report["by_subtopic"].items())[:10])
    if top:
        names = report["subtopic_names"]
        short = {k: re.sub(r"（[^（）]*）$", "", names[k]) or names[k] for k in top}  # 居（村）民委员会 keeps its middle
        charts["by_subtopic"] = _bars("主要诉求主题（前十，件）", {short[k]: v for k, v in top.items()}, horizontal=True)
    return charts
