"""The console in a real browser (Debian chromium driven by Playwright) against the real app on 127.0.0.1.

Screenshots go to tests/screenshots/ (git-ignored); browser timings to tests/screenshots/timings.json.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, SHOTS, ask, key_for, new_page, open_console, save_timings

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "corpus" / "transcripts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="需要 /usr/bin/chromium（Debian chromium 包）才能运行浏览器测试"),
]
pytest.importorskip("playwright.sync_api", reason="需要安装 playwright（pip install playwright）")

QUESTION = "我妈82了高龄津贴怎么领"


@pytest.fixture()
def server(sample_server):
    return sample_server


@pytest.fixture()
def page(browser, server, sample_settings, request):
    role = None if "no_session" in request.keywords else "agent"
    pg = new_page(browser, server[0], sample_settings, role, accept_downloads=True)
    pg.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server[0])
    yield pg
    pg.context.close()
    assert pg.errors == [], pg.errors


def test_question_gives_reply_clause_and_contact_then_district_changes_contact(page, server):
    save_timings("timings.json", page_load_to_interactive_ms=round(open_console(page, server[0] + "/"), 1))
    assert page.evaluate("document.activeElement.id") == "q"
    ask(page, QUESTION)
    assert "免申即享" in page.inner_text("#reply-text")
    assert "《北京市老年人养老服务补贴津贴管理实施办法》（京民养老发〔2023〕118号）第十条" in page.inner_text("#reply-text")
    clause = page.locator('#clauses li[data-id="mz-pol-elderly-allowance-2023#第十条"]')
    assert clause.count() == 1
    assert "京民养老发〔2023〕118号" in clause.inner_text() and "现行有效" in clause.inner_text()
    assert page.locator("#clauses mark").count() > 0 and page.locator("#answers mark").count() > 0
    assert page.locator('#answers li[data-id="mz-ans-elderly-allowance-002"]').count() == 1
    assert "010-0753-5294" in page.inner_text("#contacts")
    page.screenshot(path=str(SHOTS / "console-reply.png"))

    page.select_option("#district", "东城区")
    page.select_option("#street", "东四街道")
    page.wait_for_function("document.querySelector('#contacts').innerText.includes('010-0697-2601')")
    assert "东四街道社会保障事务所" in page.inner_text("#contacts")
    assert page.inner_text("#place") == "东城区 · 东四街道"

    page.focus("#q")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.locator(".item.sel").count() == 1
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelector('#status').innerText === '已复制建议答复'")
    assert page.evaluate("navigator.clipboard.readText()").startswith("您好，高龄老年人津贴实行“免申即享”")
    page.screenshot(path=str(SHOTS / "console-district.png"))

    page.keyboard.press("Escape")
    assert page.input_value("#q") == "" and page.input_value("#district") == ""
    assert page.locator("#clauses li").count() == 0


def test_picking_a_district_asks_the_reply_again_with_that_districts_office(page, server):
    open_console(page, server[0] + "/")
    ask(page, QUESTION)
    assert "您可以联系：北京市民政局养老服务处，电话010-0753-5294" in page.inner_text("#reply-text")
    before = page.evaluate("document.body.dataset.painted")
    page.select_option("#district", "海淀区")
    page.wait_for_function(f"document.body.dataset.painted !== '{before}'", timeout=20000)
    reply = page.inner_text("#reply-text")
    assert "您可以联系：海淀区民政局养老服务科，电话010-0161-4077，地址：海淀区长春桥路17号" in reply
    assert "010-0753-5294" not in reply
    assert page.inner_text('#contacts li[data-id="mz-con-0077"] .phone') == "010-0161-4077"
    assert page.inner_text("#place") == "海淀区"
    page.screenshot(path=str(SHOTS / "console-district-reply.png"))
    before = page.evaluate("document.body.dataset.painted")
    page.select_option("#district", "西城区")
    page.wait_for_function(f"document.body.dataset.painted !== '{before}'", timeout=20000)
    assert "您可以联系：西城区民政局养老服务科，电话010-0510-5408" in page.inner_text("#reply-text")


def test_changes_strip_shows_an_edited_phone_first(page, server, sample_settings):
    import httpx

    manager = {"Authorization": f"Bearer {key_for(sample_settings, 'test-manager', 'manager')}"}
    url = server[0] + "/v1/kbs/minzheng/records/mz-con-0146"
    got = httpx.get(url, headers=manager)
    record = got.json()["record"]
    assert record["phone"] == "010-0978-9085"
    r = httpx.put(url, json={"record": {**record, "phone": "010-0978-9100"}, "reason": "换号"},
                  headers={**manager, "If-Match": got.headers["etag"]}, timeout=60)
    assert r.status_code == 200, r.text
    open_console(page, server[0] + "/")
    page.wait_for_selector("#changes .chg")
    first = page.locator("#changes .chg").first
    assert first.get_attribute("data-id") == "mz-con-0146"
    assert first.inner_text().split(" ", 2)[2] == "修改 密云区救助管理站：电话 010-0978-9085 → 010-0978-9100 test-manager"
    assert page.locator("#changes .chg").count() == 12
    assert page.inner_text("#changes .more").startswith("还有 ")
    page.screenshot(path=str(SHOTS / "console-changes.png"))


def test_street_named_in_question_fills_the_picker_and_big_font(page, server):
    open_console(page, server[0] + "/")
    ask(page, "住在景山那边，我妈九十二了高龄津贴一个月多少钱")
    assert page.input_value("#district") == "东城区"
    assert page.input_value("#street") == "景山街道"
    page.click("#bigfont")
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "18px"
    page.screenshot(path=str(SHOTS / "console-bigfont.png"))


def test_escalation_shows_banner(page, server):
    open_console(page, server[0] + "/")
    ask(page, "明年低保标准会不会涨")
    banner = page.inner_text(".escalate")
    assert banner.startswith("需登记转办：来电人询问的是政策调整预期，知识库只收录现行政策")


def test_feedback_click_is_stored_masked(page, server, sample_settings):
    open_console(page, server[0] + "/")
    ask(page, QUESTION + "，我电话13812345678")
    page.fill("#reply .note", "很准")
    page.click("#reply .fb button[data-rating='useful']")
    page.wait_for_selector("#reply .fb .ok")
    row = server[1].config.app.state.interactions.feedback("minzheng", limit=1)[0]
    assert (row.target, row.rating, row.note) == ("reply", "useful", "很准")
    assert row.question == QUESTION + "，我电话【手机号】"
    assert row.ids[:2] == ["mz-ans-elderly-allowance-002", "mz-pol-elderly-allowance-2023#第十条"]
    assert row.kb_version.startswith("v") or row.kb_version != ""
    page.click("#clauses li:first-child .fb button[data-rating='wrong']")
    page.wait_for_selector("#clauses li:first-child .fb .ok")
    assert server[1].config.app.state.interactions.feedback("minzheng", limit=1)[0].target == "result"


def test_keystroke_to_results_timing(page, server):
    open_console(page, server[0] + "/")
    questions = ["低保标准每月多少钱", "离婚冷静期多少天", "养老助残卡丢了怎么办", "高龄津贴怎么领", "临时救助怎么申请",
                 "特困人员供养标准", "殡葬补贴多少钱", "结婚登记要带什么", "居家养老服务", "残疾人两项补贴"] * 2
    for q in questions:
        ask(page, q)
    t = sorted(page.evaluate("window.__timings.keyToPaint"))
    assert len(t) == len(questions)
    save_timings("timings.json", keystroke_to_results_ms={
        "p50": round(statistics.median(t), 1), "p95": round(t[int(0.95 * (len(t) - 1))], 1), "n": len(t),
        "includes_debounce_ms": 250})


def test_follow_mode_replays_a_transcript(page, server):
    open_console(page, server[0] + "/")
    page.click("#follow")
    page.set_input_files("#transcript", str(TRANSCRIPTS / "elderly-allowance.jsonl"))
    page.wait_for_function("document.body.dataset.replayed === 'elderly-allowance.jsonl'", timeout=30000)
    page.wait_for_function("document.querySelector('#clauses li[data-id=\"mz-pol-elderly-allowance-2023#第十条\"]')",
                           timeout=30000)
    page.wait_for_function("document.querySelector('#district').value === '东城区'", timeout=30000)
    assert int(page.evaluate("document.body.dataset.suggested")) >= 2
    assert "高龄津贴" in page.inner_text("#live")
    page.screenshot(path=str(SHOTS / "console-follow.png"))
    page.set_input_files("#transcript", str(TRANSCRIPTS / "dibao-amount-urgent.jsonl"))
    page.wait_for_function("document.body.dataset.replayed === 'dibao-amount-urgent.jsonl'", timeout=30000)
    page.wait_for_function("!document.querySelector('#risk').hidden", timeout=30000)
    assert "自伤自杀倾向" in page.inner_text("#risk")
    t = sorted(page.evaluate("window.__timings.fragmentToPaint"))
    save_timings("timings.json", fragment_to_suggestion_painted_ms={
        "p50": round(statistics.median(t), 1), "max": round(t[-1], 1), "n": len(t)})
    page.screenshot(path=str(SHOTS / "console-follow-risk.png"))


@pytest.mark.no_session
def test_login_box_on_401_with_a_real_key_then_retry(page, server, sample_settings):
    page.goto(server[0] + "/")
    page.wait_for_selector("#login[open]")
    page.fill("#login-key", "kb_wrong-key")
    page.click("#login-form button")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    assert page.inner_text("#login-error") == "密钥无效或已被吊销"
    key = key_for(sample_settings, "test-agent", "agent")
    page.fill("#login-key", key)
    page.click("#login-form button")
    page.wait_for_function("document.querySelectorAll('#district option').length === 17")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["kb_session"]["httpOnly"] is True and cookies["kb_session"]["sameSite"] == "Strict"
    assert page.evaluate("JSON.stringify(localStorage)") == "{}"
    assert key not in page.url and key not in page.content()
    page.screenshot(path=str(SHOTS / "console-after-login.png"))
    # the 401s before logging in are the expected console errors; nothing else may appear
    assert page.errors and all("401" in e for e in page.errors), page.errors
    page.errors.clear()


def test_ticket_upload_table_filters_and_download(page, server, tmp_path):
    src = tmp_path / "工单.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["工单编号", "工单内容"])
        w.writerow(["T1", "市民来电反映其父亲八十五岁高龄津贴本月未到账，联系电话13812345678"])
        w.writerow(["T2", "市民来电反映小区门口道路坑洼积水，希望尽快修路"])
        w.writerow(["T3", ""])
    page.goto(server[0] + "/tickets")
    page.set_input_files("#file", str(src))
    page.wait_for_function("document.body.dataset.classified === '3'", timeout=30000)
    rows = page.locator("#table tbody tr")
    assert rows.count() == 3
    text = page.inner_text("#table")
    assert "13812345678" not in text and "【手机号】" in text
    assert "工单内容为空" in text
    page.screenshot(path=str(SHOTS / "tickets.png"), full_page=True)
    page.check("#f-out")
    assert all("其他" in r for r in page.locator("#table tbody tr").all_inner_texts())
    page.uncheck("#f-out")
    with page.expect_download() as dl:
        page.click("#download")
    assert dl.value.suggested_filename == "分类结果.xlsx"
    path = tmp_path / "result.xlsx"
    dl.value.save_as(path)
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ["工单编号", "工单内容（已脱敏）", "结论"]
    assert values[1][0] == "T1" and "【手机号】" in values[1][1] and "13812345678" not in values[1][1]
    page.fill("#ticket", "反映低保金本月没到账，电话13912345678")
    page.click("#one")
    page.wait_for_function("document.querySelectorAll('#table tbody tr').length === 1")
    assert "【手机号】" in page.inner_text("#table") and "13912345678" not in page.inner_text("#table")


REPORT_SAMPLE = Path(__file__).resolve().parent.parent / "corpus" / "reports" / "sample_minzheng.csv"


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def test_report_page_shows_the_figures_of_the_json_and_links_the_files(page, server):
    page.goto(server[0] + "/reports")
    assert page.locator('.top nav a[href="/reports"]').inner_text() == "报告材料"
    page.select_option("#kb", "minzheng")
    page.set_input_files("#file", str(REPORT_SAMPLE))
    page.select_option("#period", "month")
    page.fill("#date", "2026-03-15")
    with page.expect_response(lambda r: r.url.endswith("/v1/reports")) as resp:
        page.click("#make")
    page.wait_for_function("document.body.dataset.report && document.body.dataset.report !== 'error'", timeout=120000)
    body = resp.value.json()
    r = body["report"]
    assert body["period"]["start"] == "2026-03-01" and body["period"]["end"] == "2026-03-31"
    assert page.inner_text("#r-period") == "周期：月报 · 2026年3月（2026-03-01 至 2026-03-31）"
    assert page.inner_text("#r-total") == (f"工单总数 {body['total']} 件（其中剔除 {r['filtered_total']} 件，不计入三率）；"
                                           f"排除异常行 {body['excluded_rows']} 行")
    assert body["total"] == 1576 and body["excluded_rows"] == 5
    # the reasons are collapsed until opened
    reasons = page.locator("#r-excluded li")
    assert reasons.count() == len(r["excluded"]) == 5 and not reasons.first.is_visible()
    page.click("#r-excluded summary")
    assert reasons.all_inner_texts() == [f"第 {e['row']} 行：{e['reason']}" for e in r["excluded"]]

    flagged = {f["kpi"] for f in body["kpi_flags"]}
    assert flagged == {"response_rate"}  # 98.35% against the contract's 100%
    for kpi, name in [("response_rate", "响应率"), ("resolution_rate", "解决率"), ("satisfaction_rate", "满意率")]:
        card = page.locator(f'.kpi[data-kpi="{kpi}"]')
        d = r["kpi_detail"][kpi]
        assert card.locator(".kname").inner_text() == name
        assert card.locator(".kval").inner_text() == _pct(body["kpi"][kpi])
        assert card.locator(".meta").inner_text() == f"（{d['numerator']}/{d['denominator']}） 考核线 {_pct(d['threshold'], 0)}"
        below = kpi in flagged
        assert ("below" in card.get_attribute("class")) is below
        assert card.locator(".kflag").inner_text() == ("⚠ 低于考核线" if below else "达标")
    assert page.inner_text('.kpi[data-kpi="response_rate"] .kval') == "98.35%"
    assert page.evaluate("getComputedStyle(document.querySelector('.kpi.below .kval')).color") == "rgb(179, 38, 30)"

    type_rows = [t.split("\t") for t in page.locator("#r-type tbody tr").all_inner_texts()]
    assert type_rows == [[k, str(n)] for k, n in r["by_type"].items()]
    district_rows = [t.split("\t") for t in page.locator("#r-district tbody tr").all_inner_texts()]
    assert district_rows == [[k, str(n)] for k, n in r["by_district"].items()]

    hot = page.locator("#r-hot tbody tr")
    assert hot.count() == len(r["hot_issues"]) > 0
    first, h = hot.first.locator("td"), r["hot_issues"][0]
    assert first.nth(0).inner_text() == f"{h['count']} 新增热点" and h["count"] == 36
    assert first.nth(2).inner_text() == "东城区 36"
    assert first.nth(3).inner_text() == h["example"]
    # the server has the sample index: the hot issue carries the knowledge base's matching answer or clause
    assert first.nth(4).locator(".t").inner_text() == h["answer"]["title"] != ""

    risks = r["risks"]
    repeat = page.locator("#r-repeat tbody tr")
    assert repeat.count() == len(risks["repeat_callers"]) == 1
    assert repeat.first.locator("td").nth(0).inner_text() == risks["repeat_callers"][0]["caller"]
    assert risks["repeat_callers"][0]["caller"].startswith("来电人-")
    assert page.inner_text("#r-overdue-h") == f"超期未办结（{risks['overdue_count']} 件）"
    assert page.locator("#r-overdue tbody tr").count() == len(risks["overdue"])
    assert page.inner_text("#r-urgent-h") == f"紧急情况（{risks['urgent_count']} 件）"
    assert page.locator("#r-urgent tbody tr").count() == len(risks["urgent"])
    text = page.inner_text("#result")
    assert "13800009999" not in text and "19800009725" not in text

    links = page.locator("#r-files a")
    assert links.all_inner_texts() == ["report.docx", "report.xlsx", "report.html", "report.json"]
    href = page.get_attribute('#r-files a[data-file="report.docx"]', "href")
    assert href == body["files"]["report.docx"]
    got = page.context.request.get(href)
    assert got.status == 200
    assert got.headers["content-type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert got.body()[:2] == b"PK"
    page.screenshot(path=str(SHOTS / "reports.png"), full_page=True)


def test_report_page_shows_the_apis_chinese_error_for_a_missing_column(page, server, tmp_path):
    src = tmp_path / "缺列.csv"
    with open(REPORT_SAMPLE, encoding="utf-8-sig") as fh, open(src, "w", encoding="utf-8", newline="") as out:
        rows = list(csv.reader(fh))[:20]
        keep = [i for i, h in enumerate(rows[0]) if h != "满意度"]
        csv.writer(out).writerows([[row[i] for i in keep] for row in rows])
    page.goto(server[0] + "/reports")
    page.set_input_files("#file", str(src))
    with page.expect_response(lambda r: r.url.endswith("/v1/reports")) as resp:
        page.click("#make")
    page.wait_for_function("document.body.dataset.report === 'error'", timeout=60000)
    assert resp.value.status == 422
    detail = resp.value.json()["detail"]
    assert detail == "缺列.csv：缺少必需列“满意度”"
    assert page.inner_text("#status") == detail
    assert page.get_attribute("#status", "class") == "err"
    assert page.locator("#result").is_hidden()
    page.screenshot(path=str(SHOTS / "reports-error.png"))
    # the browser logs the 422 itself; nothing else may appear
    assert page.errors and all("422" in e for e in page.errors), page.errors
    page.errors.clear()
