"""The reviewer's loop in a real browser (Debian chromium via Playwright) against the real app on 127.0.0.1.

On a private copy of the mini knowledge base, so that approving a correction changes no other test's data.
Screenshots go to tests/screenshots/review-*.png; timings to tests/screenshots/review_timings.json.
"""

from __future__ import annotations

import shutil
import time

import pytest

from ingest.pipeline import run_ingest
from tests.conftest import (
    CHROMIUM,
    MINI,
    SHOTS,
    ask,
    make_settings,
    new_page,
    open_console,
    save_timings,
    uvicorn_server,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="需要 /usr/bin/chromium（Debian chromium 包）才能运行浏览器测试"),
]
pytest.importorskip("playwright.sync_api", reason="需要安装 playwright（pip install playwright）")

TIMINGS = "review_timings.json"
ANSWER = "t-ans-allowance-002"
UNANSWERED = ["小区电梯坏了三天没人修", "我们楼的电梯老是坏谁来管", "电梯故障物业不修怎么办", "居民楼电梯维修找哪个部门"]


@pytest.fixture(scope="module")
def mini_server(tmp_path_factory):
    from api.app import create_app

    root = tmp_path_factory.mktemp("review-browser")
    shutil.copytree(MINI, root / "mini")
    settings = make_settings(root / "data", kbs=["mini"], store_sync_seconds=0.0, review_sample_rate=1.0)
    run_ingest(settings, "mini", [root / "mini"])
    with uvicorn_server(create_app(settings)) as (url, srv):
        yield url, srv, settings


@pytest.fixture()
def as_role(browser, mini_server):
    """A logged-in page per role; every page must finish without a console error."""
    url, _, settings = mini_server
    pages = []

    def open_as(role: str):
        pg = new_page(browser, url, settings, role, height=900, accept_downloads=True)
        pages.append(pg)
        return pg

    yield open_as
    for pg in pages:
        assert pg.errors == [], pg.errors
        pg.context.close()


def _painted(page) -> str:
    return page.evaluate("document.body.dataset.painted || '0'")


def _goto(page, url: str) -> float:
    """Navigate and wait for the page's first render of its data; milliseconds."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function("(document.body.dataset.painted || '0') !== '0'", timeout=20000)
    return round((time.perf_counter() - started) * 1000, 1)


def test_wrong_reply_is_corrected_approved_and_served(as_role, mini_server):
    url = mini_server[0]
    agent = as_role("agent")
    open_console(agent, url)
    ask(agent, "高龄津贴去哪里申请")
    assert "10个工作日" in agent.inner_text("#reply-text")
    agent.fill("#reply .note", "时限已改为3个工作日")
    agent.click("#reply .fb button[data-rating='wrong']")
    agent.wait_for_selector("#reply .fb .ok")

    reviewer = as_role("reviewer")
    save_timings(TIMINGS, review_page_load_ms=_goto(reviewer, url + "/review"))
    card = reviewer.locator(".rv")
    assert card.count() == 1
    assert card.locator("h3").inner_text() == "高龄津贴去哪里申请"
    assert "有误" in card.inner_text() and "坐席备注：时限已改为3个工作日" in card.inner_text()
    assert "10个工作日" in card.locator(".shown").inner_text()
    reviewer.screenshot(path=str(SHOTS / "review-queue.png"), full_page=True)
    card.locator(".fix summary").click()
    reviewer.wait_for_selector(".rv .answer-field:not([hidden])")
    assert reviewer.input_value(".rv .rid") == ANSWER
    fixed = reviewer.input_value(".rv .answer").replace("10个工作日", "3个工作日")
    reviewer.fill(".rv .answer", "太短")
    reviewer.click(".rv button[data-verdict='needs_fix']")
    reviewer.wait_for_selector(".rv .fielderr div")
    assert reviewer.inner_text(".rv .fielderr").startswith("answer：")
    reviewer.screenshot(path=str(SHOTS / "review-invalid-correction.png"), full_page=True)
    assert reviewer.errors == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]
    reviewer.errors.clear()  # the refused correction, on purpose
    reviewer.fill(".rv .answer", fixed)
    reviewer.fill(".rv .note", "审核时限已缩短")
    corrected_at = time.perf_counter()
    reviewer.click(".rv button[data-verdict='needs_fix']")
    reviewer.wait_for_selector(".rv .done")
    assert "已生成草稿 #" in reviewer.inner_text(".rv .done")
    reviewer.screenshot(path=str(SHOTS / "review-corrected.png"), full_page=True)

    ask(agent, "高龄津贴去哪里申请？")
    assert "3个工作日" not in agent.inner_text("#reply-text")  # not before a manager approves

    manager = as_role("manager")
    save_timings(TIMINGS, drafts_page_load_ms=_goto(manager, url + "/manage/drafts"))
    draft = manager.locator(".rv.draft")
    assert draft.count() == 1
    assert "提出人 test-reviewer" in draft.inner_text() and "基于第 1 版" in draft.inner_text()
    assert draft.locator("table.diff tbody tr").count() == 1
    field = draft.locator("table.diff tbody th")
    assert field.inner_text() == "答复" and field.get_attribute("title") == "answer"  # the label, the code in its tip
    assert draft.locator(".meta .tag").first.inner_text() == "标准化工作库"
    assert "3个工作日" in draft.locator("td.new").inner_text() and "10个工作日" in draft.locator("td.old").inner_text()
    manager.screenshot(path=str(SHOTS / "review-drafts.png"), full_page=True)

    # The manager revises the draft before approving: the same form and validator as /manage/edit.
    draft.locator("button.edit").click()
    form = draft.locator("form.draft-edit")
    form.wait_for()
    answer = form.locator('[name="answer"]')
    assert "3个工作日" in answer.input_value() and form.locator('[name="id"]').get_attribute("readonly") is not None
    answer.fill("太短")
    form.locator('button[type="submit"]').click()
    manager.wait_for_selector(".draft-edit .field.invalid")
    assert form.locator('[data-field="answer"] .field-err').inner_text() != ""
    assert form.locator(".form-error").inner_text().startswith("未保存：")
    manager.screenshot(path=str(SHOTS / "review-draft-edit-invalid.png"), full_page=True)
    assert manager.errors == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]
    manager.errors.clear()  # the refused revision, on purpose
    answer.fill(fixed.replace("3个工作日", "5个工作日"))
    form.locator(".note").fill("核实后为5个工作日")
    form.locator('button[type="submit"]').click()
    manager.wait_for_selector(".rv.draft .edits")
    assert manager.locator(".rv.draft form").count() == 0
    edits = draft.locator(".edits").inner_text()
    assert "test-manager 于" in edits and "改了 答复（核实后为5个工作日）" in edits
    assert "5个工作日" in draft.locator("td.new").inner_text()
    manager.screenshot(path=str(SHOTS / "review-draft-edited.png"), full_page=True)
    ask(agent, "高龄津贴去哪里申请啊")
    assert "5个工作日" not in agent.inner_text("#reply-text")  # a revised draft is still a draft

    approved_at = time.perf_counter()
    manager.click(".rv.draft button.approve")
    manager.wait_for_selector(".rv.draft .done")
    save_timings(TIMINGS, approval_click_to_published_ms=round((time.perf_counter() - approved_at) * 1000, 1))
    assert manager.inner_text(".rv.draft .done") == "已批准，发布为第 2 版，坐席即可查到"
    manager.screenshot(path=str(SHOTS / "review-drafts-approved.png"), full_page=True)

    ask(agent, "高龄津贴去哪里申请呢")
    served_at = time.perf_counter()
    assert "5个工作日" in agent.inner_text("#reply-text")
    agent.screenshot(path=str(SHOTS / "review-agent-corrected.png"))
    save_timings(TIMINGS, approval_click_to_corrected_answer_ms=round((served_at - approved_at) * 1000, 1),
                 correction_click_to_corrected_answer_ms=round((served_at - corrected_at) * 1000, 1),
                 agent_ask_includes_debounce_ms=250)


def test_unanswered_questions_appear_as_a_gap_and_become_a_draft(as_role, mini_server):
    url = mini_server[0]
    agent = as_role("agent")
    open_console(agent, url)
    for q in UNANSWERED:
        ask(agent, q)
    manager = as_role("manager")
    first = _goto(manager, url + "/review/gaps")  # embeds the new questions
    again = _goto(manager, url + "/review/gaps")  # their vectors now cached
    save_timings(TIMINGS, gaps_page_load_first_ms=first, gaps_page_load_ms=again)
    gap = manager.locator(".rv.gap").first
    assert gap.locator("h3").inner_text().startswith("来电 4 次 · ")
    assert sorted(gap.locator("ol.examples li").all_inner_texts()) == sorted(UNANSWERED)
    assert "最接近的记录：" in gap.locator(".closest").inner_text()
    assert manager.get_attribute("#export", "href") == "/v1/kbs/mini/gaps.xlsx"
    manager.screenshot(path=str(SHOTS / "review-gaps.png"), full_page=True)
    with manager.expect_download() as download:
        manager.click("#export")
    assert download.value.suggested_filename.startswith("knowledge-gaps-mini-")
    gap.locator(".answer").fill("您好，住宅电梯故障请先联系物业服务企业报修，物业不处理的可向所在街道反映。")
    gap.locator("button.todraft").click()
    manager.wait_for_selector(".rv.gap .done")
    assert "已生成草稿 #" in gap.locator(".done").inner_text()
    manager.screenshot(path=str(SHOTS / "review-gap-drafted.png"), full_page=True)
    _goto(manager, url + "/manage/drafts")
    assert manager.locator(".rv.draft").count() == 1
    assert "新建记录" in manager.locator(".rv.draft").inner_text()
    manager.screenshot(path=str(SHOTS / "review-gap-draft-pending.png"), full_page=True)


def test_sample_queue_and_wrong_role_in_the_browser(as_role, mini_server):
    url = mini_server[0]
    reviewer = as_role("reviewer")
    _goto(reviewer, url + "/review")
    before = _painted(reviewer)
    reviewer.click("button.src[data-source='sample']")
    reviewer.wait_for_function(f"document.body.dataset.painted !== '{before}'")
    n = reviewer.locator(".rv").count()
    kinds = reviewer.locator(".rv .tag.kind").all_inner_texts()
    assert n >= 1 and set(kinds) <= {"建议答复", "工单分类"}
    assert reviewer.inner_text("#status") == f"{n} 条待评审（抽检比例 100%）"
    reviewer.screenshot(path=str(SHOTS / "review-sample.png"), full_page=True)
    agent = as_role("agent")
    _goto(agent, url + "/review")
    assert agent.inner_text("#queue") == ("当前身份“test-agent”（坐席/工单处理）无权执行此操作，需要：质检评审、系统管理员")
    assert agent.errors == ["Failed to load resource: the server responded with a status of 403 (Forbidden)"]
    agent.errors.clear()  # the refusal is what this checks
