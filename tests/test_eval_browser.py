"""The evaluation page (/review/eval) in real chromium against the real app: run a retrieval eval, wait for it,
run a second configuration, compare the two, and see the figures over time drawn.

Uses the browser harness of tests/conftest.py (the session's chromium, a sample server, screenshots, timings);
its timings go to tests/screenshots/timings.json beside the console's.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import CHROMIUM, SHOTS, new_page, save_timings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="需要 /usr/bin/chromium（Debian chromium 包）才能运行浏览器测试"),
]
pytest.importorskip("playwright.sync_api", reason="需要安装 playwright（pip install playwright）")
RUN_TIMEOUT_MS = 600_000


def _page(browser, server, settings, role: str):
    page = new_page(browser, server[0], settings, role, height=900)
    return page.context, page, page.errors


def _fmt(v: float | int) -> str:
    """As evaluation.js shows a figure: whole numbers plain, others to four decimals."""
    return str(int(v)) if float(v).is_integer() else f"{v:.4f}"


def _loaded(page, before: int) -> None:
    page.wait_for_function(f"Number(document.body.dataset.loaded || 0) > {before}", timeout=30000)


def _run(page) -> tuple[str, float]:
    started = time.perf_counter()
    page.click("#run")
    page.wait_for_function("['done', 'failed', 'skipped', 'refused'].includes(document.body.dataset.run)",
                           timeout=RUN_TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.run") == "done", page.inner_text("#status")
    return page.evaluate("document.body.dataset.runId"), (time.perf_counter() - started) * 1000


def test_run_two_configurations_and_compare_them(browser, sample_server, sample_settings):
    context, page, errors = _page(browser, sample_server, sample_settings, "reviewer")
    started = time.perf_counter()
    page.goto(sample_server[0] + "/review/eval")
    _loaded(page, 0)
    save_timings("timings.json", eval_page_load_ms=round((time.perf_counter() - started) * 1000, 1))
    page.select_option("#kb", "canlian")
    _loaded(page, 1)

    a_id, a_ms = _run(page)
    save_timings("timings.json", eval_retrieval_run_ms=round(a_ms, 1))
    api = context.request
    a = api.get(f"{sample_server[0]}/v1/eval/runs/{a_id}").json()
    assert a["kb"] == "canlian" and a["config"] == {}
    assert page.inner_text("#cur-progress-text") == "已完成"
    shown = page.locator("#cur-figures tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText])")
    labels = {"queries": "查询数（queries）"}
    assert shown == [[labels.get(k, k), _fmt(v)] for k, v in a["figures"].items()]
    page.screenshot(path=str(SHOTS / "eval-run.png"), full_page=True)

    page.select_option("#fusion", "rrf")
    page.fill("#w-bm25", "1.5")
    b_id, b_ms = _run(page)
    save_timings("timings.json", eval_retrieval_run_rrf_ms=round(b_ms, 1))
    b = api.get(f"{sample_server[0]}/v1/eval/runs/{b_id}").json()
    assert b["config"] == {"fusion": "rrf", "weights": {"bm25": 1.5}}

    page.check(f'input[name="pick-a"][value="{a_id}"]')
    page.check(f'input[name="pick-b"][value="{b_id}"]')
    page.click("#compare")
    page.wait_for_selector("#comparison:not([hidden])")
    cmp = api.get(f"{sample_server[0]}/v1/eval/compare?a={a_id}&b={b_id}").json()
    for f in cmp["figures"]:
        cells = page.locator(f'#cmp-figures tr[data-name="{f["name"]}"] td').all_inner_texts()
        assert cells[1:3] == [_fmt(f["a"]), _fmt(f["b"])], (f, cells)
    assert page.inner_text("#cmp-diff-h") == f"结果不同的问题：{len(cmp['differing'])} 条（结果相同 {cmp['same']} 条）"
    shown = page.locator("#cmp-diff tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == [d["id"] for d in cmp["differing"]]

    hist = api.get(f"{sample_server[0]}/v1/eval/history?kb=canlian&suite=retrieval").json()
    assert page.locator("#chart-runs circle").count() == sum("recall@5" in r["figures"] for r in hist["runs"])
    assert page.locator("#chart-publish circle").count() == 2 * len(hist["publishes"])
    page.locator("#comparison").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "eval-compare.png"), full_page=True)
    context.close()
    assert errors == [], errors


def test_agent_sees_the_refusal_in_chinese(browser, sample_server, sample_settings):
    context, page, errors = _page(browser, sample_server, sample_settings, "agent")
    page.goto(sample_server[0] + "/review/eval")
    page.wait_for_function("document.querySelector('#status').innerText.length > 0")
    assert page.inner_text("#status").startswith("当前身份“test-agent”（")
    assert "无权执行此操作" in page.inner_text("#status")
    context.close()
    assert len(errors) == 2 and all("403" in e for e in errors), errors  # the two refused fetches, nothing else
