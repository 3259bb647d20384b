"""The manager's pages in a real browser (Debian chromium via Playwright) against the real app on 127.0.0.1.

The module has its own writable copy of the mini knowledge base (the session's sample kb stays untouched),
and each test edits different records, so the order of the tests does not change what they see.
Screenshots go to tests/screenshots/manage-*.png, timings to tests/screenshots/manage-timings.json.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import statistics
import time

import httpx
import pytest

from ingest.pipeline import run_ingest
from kb.lifecycle import beijing_today
from tests.conftest import (
    CHROMIUM,
    MINI,
    SHOTS,
    ask,
    key_for,
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

# The page shows these refusals on purpose (invalid or stale edits); chromium logs each failed fetch as an error.
EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (409|422)")


@pytest.fixture(scope="module")
def mini_site(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("manage-corpus") / "mini"
    shutil.copytree(MINI, corpus)
    settings = make_settings(tmp_path_factory.mktemp("manage-data"), kbs=["mini"], store_sync_seconds=0.0)
    run_ingest(settings, "mini", [corpus])
    return settings


@pytest.fixture(scope="module")
def server(mini_site):
    from api.app import create_app

    with uvicorn_server(create_app(mini_site)) as (url, _):
        yield url


@pytest.fixture()
def page(browser, server, mini_site):
    pg = new_page(browser, server, mini_site, "manager", height=900, expected=EXPECTED)
    yield pg
    pg.context.close()
    assert pg.errors == [], pg.errors


def _manager(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_for(settings, 'test-manager', 'manager')}"}


def _get(server, settings, record_id: str) -> httpx.Response:
    r = httpx.get(f"{server}/v1/kbs/mini/records/{record_id}", headers=_manager(settings))
    assert r.status_code == 200, r.text
    return r


def _put(server, settings, record_id: str, change: dict, reason: str) -> dict:
    got = _get(server, settings, record_id)
    r = httpx.put(f"{server}/v1/kbs/mini/records/{record_id}", json={"record": {**got.json()["record"], **change},
                  "reason": reason}, headers={**_manager(settings), "If-Match": got.headers["etag"]}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _edit_page(page, server, record_id: str) -> None:
    page.goto(f"{server}/manage/edit?kb=mini&id={record_id}")
    page.wait_for_selector("#revisions tbody tr[data-rev]")


def _percentiles(values: list[float]) -> dict:
    values = sorted(values)
    return {"p50": round(statistics.median(values), 1), "p95": round(values[int(0.95 * (len(values) - 1))], 1),
            "n": len(values)}


def test_records_list_filters_and_pages(page, server):
    page.goto(server + "/manage?kb=mini")
    page.wait_for_selector("#records tbody tr[data-id]")
    assert page.inner_text("#count") == "共 8 条记录"
    page.select_option("#filters select[name=library]", "answer")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelector('#count').innerText === '共 2 条记录'")
    assert page.locator("#records tbody tr[data-id]").evaluate_all("rs => rs.map(r => r.dataset.id)") == [
        "t-ans-allowance-001", "t-ans-allowance-002"]
    assert "库=answer" not in page.url and "library=answer" in page.url
    page.fill("#filters input[name=text]", "户口簿")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelector('#count').innerText === '共 1 条记录'")
    assert page.inner_text("#records tbody").startswith("t-ans-allowance-002\t标准化工作库\t高龄津贴去哪里申请？\t在用")
    page.screenshot(path=str(SHOTS / "manage-records.png"))
    page.click("#filters button[type=reset]")
    page.wait_for_function("document.querySelector('#count').innerText === '共 8 条记录'")
    page.fill("#filters input[name=not_reviewed_days]", "30")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelector('#count').innerText === '共 0 条记录'")
    assert page.inner_text("#records tbody") == "无"


def test_an_edit_on_manage_is_what_the_agent_page_answers(page, server, mini_site):
    open_console(page, server + "/")
    ask(page, "高龄津贴去哪里申请")
    assert "街道在10个工作日内完成审核" in page.inner_text("#reply-text")
    _edit_page(page, server, "t-ans-allowance-002")
    assert page.locator('.mnav a[aria-current="page"]').count() == 0
    assert page.input_value("#f-id") == "t-ans-allowance-002" and page.get_attribute("#f-id", "readonly") is not None
    assert page.inner_text('.field[data-field="answer"] .lbl') == "答复 *"
    text = page.input_value("#f-answer")
    assert "10个工作日" in text
    page.fill("#f-answer", text.replace("10个工作日", "3个工作日"))
    page.fill("#reason", "审核时限缩短为3个工作日")
    page.screenshot(path=str(SHOTS / "manage-edit.png"), full_page=True)
    started = time.perf_counter()
    page.click("#save")
    page.wait_for_function("document.querySelector('#saved').innerText.startsWith('已保存第 2 版，已进入检索')", timeout=60000)
    saved_ms = (time.perf_counter() - started) * 1000
    open_console(page, server + "/")
    ask(page, "高龄津贴去哪里申请")
    served_ms = (time.perf_counter() - started) * 1000
    assert "街道在3个工作日内完成审核" in page.inner_text("#reply-text")
    page.screenshot(path=str(SHOTS / "manage-edit-agent-page.png"))
    save_timings("manage-timings.json", save_click_to_saved_and_indexed_ms=round(saved_ms, 1),
                 save_click_to_agent_page_reply_painted_ms=round(served_ms, 1))
    record = _get(server, mini_site, "t-ans-allowance-002").json()
    assert (record["revision"], record["updated_by"]) == (2, "test-manager")


def test_an_invalid_edit_shows_the_reason_next_to_the_field_and_stores_nothing(page, server, mini_site):
    _edit_page(page, server, "t-con-0002")
    page.fill("#f-phone", "010-ABCD-0002")
    page.fill("#f-district", "")
    page.click("#save")
    page.wait_for_selector('.field.invalid[data-field="phone"]')
    assert page.inner_text("#e-phone") == "电话“010-ABCD-0002”格式无效，应如 010-6512-3456 或 12345"
    assert page.locator(".field.invalid").evaluate_all("fs => fs.map(f => f.dataset.field)") == ["phone"]
    assert page.inner_text("#form-error") == "未保存：1 处需要修改，见各字段旁的红字"
    assert page.input_value("#f-phone") == "010-ABCD-0002" and page.input_value("#f-district") == ""
    page.screenshot(path=str(SHOTS / "manage-edit-invalid.png"), full_page=True)
    page.fill("#f-phone", "010-0200-0222")
    page.click("#save")
    page.wait_for_function("document.querySelector('#form-error').innerText.includes('district')")
    assert page.inner_text("#form-error") == "记录未通过校验：(记录)：层级为“区”的单位必须填写 district"
    assert page.locator(".field.invalid").count() == 0 and page.inner_text("#e-phone") == ""
    record = _get(server, mini_site, "t-con-0002").json()
    assert (record["revision"], record["record"]["phone"], record["record"]["district"]) == (1, "010-0200-0002", "朝阳区")


def test_a_stale_edit_is_refused_clearly_and_keeps_the_input(page, server, mini_site):
    _edit_page(page, server, "t-con-0003")
    _put(server, mini_site, "t-con-0003", {"hours": "工作日 8:30-17:30"}, "同事改了办公时间")
    page.fill("#f-phone", "010-0300-0399")
    page.click("#save")
    page.wait_for_selector("#stale:not([hidden])")
    page.wait_for_function("document.querySelector('#stale-text').innerText.includes('最新为第 2 版')")
    assert page.inner_text("#stale-text").startswith(
        "记录“t-con-0003”已被他人修改：当前为第 2 版，您的修改基于第 1 版。请刷新后重新修改。 您填写的内容仍保留在下方表单中，尚未保存。")
    assert page.input_value("#f-phone") == "010-0300-0399"
    assert _get(server, mini_site, "t-con-0003").json()["record"]["phone"] == "010-0300-0003"
    page.screenshot(path=str(SHOTS / "manage-edit-stale.png"), full_page=True)
    page.click("#stale-overwrite")
    page.wait_for_function("document.querySelector('#saved').innerText.startsWith('已保存第 3 版')", timeout=60000)
    assert page.locator("#stale").is_hidden()
    assert _get(server, mini_site, "t-con-0003").json()["record"]["phone"] == "010-0300-0399"


def test_history_side_by_side_diff_and_restore(page, server, mini_site):
    _put(server, mini_site, "t-prob-001", {"handling": "告知高龄津贴以本市户籍为条件，外地户籍老人请回户籍地民政部门咨询。"}, "措辞")
    _edit_page(page, server, "t-prob-001")
    assert page.locator("#revisions tbody tr").evaluate_all("rs => rs.map(r => r.dataset.rev)") == ["2", "1"]
    assert page.inner_text('#revisions tr[data-rev="2"]').split("\t")[4:8] == ["修改", "措辞", "处理方式", "当前版本"]
    page.click("#compare")
    page.wait_for_selector("#diff:not([hidden])")
    changed = page.locator("#diff tr.changed").evaluate_all("rs => rs.map(r => r.dataset.field)")
    assert changed == ["handling"]
    row = page.locator('#diff tr[data-field="handling"]')
    assert row.locator("td.old").inner_text() == "告知高龄津贴以本市户籍为条件，外地户籍老人应回户籍地咨询。"
    assert row.locator("td.new").inner_text() == "告知高龄津贴以本市户籍为条件，外地户籍老人请回户籍地民政部门咨询。"
    assert (row.locator("del").inner_text(), row.locator("ins").inner_text()) == ("应回户籍地", "请回户籍地民政部门")
    assert page.locator('#diff tr.same[data-field="responsible"] td.old').inner_text() == "街道社会保障事务所"
    page.screenshot(path=str(SHOTS / "manage-history-diff.png"), full_page=True)
    page.once("dialog", lambda d: d.accept("按原措辞恢复"))
    page.click('#revisions tr[data-rev="1"] button.restore')
    page.wait_for_function("document.querySelector('#saved').innerText.startsWith('已恢复第 1 版内容（新版本 3）')", timeout=60000)
    assert page.input_value("#f-handling") == "告知高龄津贴以本市户籍为条件，外地户籍老人应回户籍地咨询。"
    assert page.inner_text('#revisions tr[data-rev="3"]').split("\t")[4:6] == ["恢复", "按原措辞恢复"]
    record = _get(server, mini_site, "t-prob-001").json()
    assert (record["revision"], record["record"]["handling"]) == (3, "告知高龄津贴以本市户籍为条件，外地户籍老人应回户籍地咨询。")


def test_upload_preview_shows_the_rejected_row_and_stores_nothing_until_confirmed(page, server, mini_site, tmp_path):
    rows = ["id,unit,level,district,street,phone,address,hours,duties,topics",
            "t-con-0100,朝阳区民政局社会救助科,区,朝阳区,,010-0200-0100,朝阳区示例路9号,工作日 9:00-17:00,办理朝阳区低保审核,elderly_allowance",
            "t-con-0101,朝阳区民政局婚姻登记处,区,朝阳区,,电话号码暂未公布,朝阳区示例路10号,工作日,婚姻登记,elderly_allowance"]
    upload = tmp_path / "联络库新增.csv"
    upload.write_bytes(("\r\n".join(rows) + "\r\n").encode("gbk"))
    page.goto(server + "/manage/upload?kb=mini")
    page.set_input_files("#files", str(upload))
    page.select_option("#upload-library", "contact")
    page.click("#preview")
    page.wait_for_selector("#preview-result:not([hidden])")
    assert page.inner_text("#preview-title") == "预览：以下内容尚未保存"
    assert page.inner_text("#preview-summary") == "文件 1 个：新增 1 条，更新 0 条，未变 0 条，拒收 1 条"
    cells = page.locator("#rejections tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["联络库新增.csv", "第3行", "t-con-0101", "phone", "电话“电话号码暂未公布”格式无效，应如 010-6512-3456 或 12345"]
    page.screenshot(path=str(SHOTS / "manage-upload-preview.png"), full_page=True)
    missing = httpx.get(f"{server}/v1/kbs/mini/records/t-con-0100", headers=_manager(mini_site))
    assert missing.status_code == 404
    page.click("#confirm")
    page.wait_for_function("document.querySelector('#preview-title').innerText === '已导入'", timeout=60000)
    assert page.inner_text("#preview-summary").startswith("文件 1 个：新增 1 条，更新 0 条，未变 0 条，拒收 1 条；索引版本 ")
    assert page.locator("#confirm").is_hidden()
    page.screenshot(path=str(SHOTS / "manage-upload-done.png"), full_page=True)
    stored = _get(server, mini_site, "t-con-0100").json()
    assert (stored["record"]["unit"], stored["record"]["phone"]) == ("朝阳区民政局社会救助科", "010-0200-0100")
    assert httpx.get(f"{server}/v1/kbs/mini/records/t-con-0101", headers=_manager(mini_site)).status_code == 404


def test_an_upload_with_no_valid_row_cannot_be_confirmed(page, server, mini_site, tmp_path):
    upload = tmp_path / "全错.csv"
    upload.write_bytes("id,unit,level,district,street,phone,topics\r\n"
                       "t-con-0200,某单位,省,,,010-0200-0200,elderly_allowance\r\n".encode("gbk"))
    page.goto(server + "/manage/upload?kb=mini")
    page.set_input_files("#files", str(upload))
    page.select_option("#upload-library", "contact")
    page.click("#preview")
    page.wait_for_selector("#preview-result:not([hidden])")
    assert page.inner_text("#preview-title") == "预览：没有可导入的新增或更新内容"
    assert page.inner_text("#preview-summary") == "文件 1 个：新增 0 条，更新 0 条，未变 0 条，拒收 1 条"
    cells = page.locator("#rejections tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["全错.csv", "第2行", "t-con-0200", "level", "取值“省”无效，可选：市、区、街乡镇"]
    assert page.locator("#confirm").is_hidden()
    page.screenshot(path=str(SHOTS / "manage-upload-refused.png"), full_page=True)
    assert httpx.get(f"{server}/v1/kbs/mini/records/t-con-0200", headers=_manager(mini_site)).status_code == 404


def test_an_agent_gets_the_chinese_refusal_on_the_manager_pages(browser, server, mini_site):
    context = browser.new_context(locale="zh-CN")
    assert context.request.post(server + "/v1/login", data={"key": key_for(mini_site, "test-agent", "agent")}).status == 200
    pg = context.new_page()
    pg.goto(server + "/manage?kb=mini")
    pg.wait_for_function("document.querySelector('#status').classList.contains('err')")
    assert pg.inner_text("#status") == "当前身份“test-agent”（坐席/工单处理）无权执行此操作，需要：知识管理员、系统管理员"
    assert pg.locator("#records tbody tr[data-id]").count() == 0
    pg.screenshot(path=str(SHOTS / "manage-agent-refused.png"))
    context.close()


def test_create_then_retire_with_a_reason(page, server, mini_site):
    page.goto(server + "/manage/edit?kb=mini&library=answer")
    page.wait_for_selector("#f-question")
    assert page.inner_text("#edit-title") == "新建记录 · 标准化工作库"
    page.fill("#f-id", "t-ans-card-001")
    page.fill("#f-topics", "elderly_allowance")
    page.fill("#f-question", "养老助残卡丢了怎么补办？")
    page.fill("#f-variants", "助残卡丢了咋办")
    page.fill("#f-answer", "您好，养老助残卡丢失后请先拨打客服电话挂失，再到社区服务站申请补卡。")
    page.click("#save")
    page.wait_for_selector('.field.invalid[data-field="variants"]')
    assert page.inner_text("#e-variants") == "至少需要 2 项"
    assert httpx.get(f"{server}/v1/kbs/mini/records/t-ans-card-001", headers=_manager(mini_site)).status_code == 404
    page.fill("#f-variants", "助残卡丢了咋办\n老人卡丢了去哪补")
    page.fill("#reason", "新增常见问题")
    page.click("#save")
    page.wait_for_function("document.querySelector('#saved').innerText.startsWith('已保存第 1 版，已进入检索')", timeout=60000)
    assert page.url.endswith("/manage/edit?kb=mini&id=t-ans-card-001")
    assert page.get_attribute("#f-id", "readonly") is not None
    assert _get(server, mini_site, "t-ans-card-001").json()["record"]["variants"] == ["助残卡丢了咋办", "老人卡丢了去哪补"]
    page.fill("#retire-reason", "并入其他答复")
    page.click("#retire")
    page.wait_for_function("document.querySelector('#saved').innerText === '已停用（第 2 版）'", timeout=60000)
    assert page.inner_text("#edit-meta").startswith("编号 t-ans-card-001 · 第 2 版 · 已停用")
    assert page.locator("#retire-form").is_hidden()
    assert page.inner_text('#revisions tr[data-rev="2"]').split("\t")[4:6] == ["停用", "并入其他答复"]
    page.screenshot(path=str(SHOTS / "manage-retired.png"), full_page=True)
    assert _get(server, mini_site, "t-ans-card-001").json()["status"] == "已停用"


def test_lifecycle_shows_the_expiring_policy_and_the_answers_citing_it(page, server, mini_site):
    expires = (beijing_today() + dt.timedelta(days=20)).isoformat()
    _put(server, mini_site, "t-pol-allowance-2025", {"expires": expires}, "到期")
    effective = (beijing_today() + dt.timedelta(days=10)).isoformat()
    page.goto(server + "/manage/edit?kb=mini&library=policy")
    page.wait_for_selector("#f-body")
    assert page.input_value("#f-status") == ""
    page.fill("#f-id", "t-pol-card-2027")
    page.fill("#f-topics", "elderly_allowance")
    page.fill("#f-title", "测试市养老助残卡管理办法")
    page.fill("#f-doc_no", "测民老发〔2026〕9号")
    page.fill("#f-effective", effective)
    page.fill("#f-body", "# 测试市养老助残卡管理办法\n\n第一条　养老助残卡丢失的，持卡人可以向社区服务站申请补办。\n")
    page.click("#save")
    page.wait_for_function("document.querySelector('#saved').innerText.startsWith('已保存第 1 版')", timeout=60000)
    created = _get(server, mini_site, "t-pol-card-2027").json()["record"]
    assert (created["status"], created["effective"], created["scope"]) == ("有效", effective, "北京市")
    page.goto(server + "/manage/lifecycle?kb=mini")
    page.wait_for_selector('#events tr[data-id="t-pol-allowance-2025"]')
    cells = page.locator('#events tr[data-id="t-pol-card-2027"] td').all_inner_texts()
    assert cells == [effective, "生效", "10 天", "测试市养老助残卡管理办法", "测民老发〔2026〕9号", "未生效", "无标准答复引用"]
    cells = page.locator('#events tr[data-id="t-pol-allowance-2025"] td').all_inner_texts()
    assert cells == [expires, "失效", "20 天", "测试市老年人津贴发放办法", "测民老发〔2025〕3号", "有效",
                     "高龄津贴的发放标准是多少？（第二条）\n高龄津贴去哪里申请？（第三条）"]
    page.screenshot(path=str(SHOTS / "manage-lifecycle.png"), full_page=True)
    page.fill("#life-filters input[name=days]", "9")
    page.click("#life-filters button")
    page.wait_for_function("document.querySelector('#events tbody').innerText === '无'")


def test_check_report_links_each_problem_to_its_record(page, server, mini_site):
    _put(server, mini_site, "t-ans-allowance-001", {"policy_refs": [{"doc": "t-pol-allowance-2019", "article": "第二条"}]},
         "误引旧办法")
    page.goto(server + "/manage/check?kb=mini")
    page.wait_for_selector("#stale-refs tbody tr a")
    cells = page.locator("#stale-refs tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["t-ans-allowance-001", "t-pol-allowance-2019", "第二条", "引用的政策已废止，应改为 t-pol-allowance-2025"]
    assert page.inner_text("#check-summary").endswith("处问题（失效引用 1，金额不一致 0，电话不一致 0，办公时间不一致 0，长期未复核 0）")
    page.screenshot(path=str(SHOTS / "manage-check.png"), full_page=True)
    page.click('#stale-refs a[data-id="t-ans-allowance-001"]')
    page.wait_for_selector("#revisions tbody tr[data-rev]")
    assert page.input_value("#f-policy_refs") == "t-pol-allowance-2019#第二条"


def test_audit_trail_filters_by_person_record_and_date(page, server, mini_site):
    _put(server, mini_site, "t-con-0001", {"hours": "工作日 9:00-17:30"}, "延长办公时间")
    page.goto(server + "/manage/audit?kb=mini")
    page.wait_for_selector("#audit tbody tr[data-seq]")
    page.fill("#audit-filters input[name=record_id]", "t-con-0001")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_function("document.querySelector('#audit-count').innerText === '2 条'")
    actions = page.locator("#audit tbody tr").evaluate_all("rs => rs.map(r => r.children[4].innerText + ' ' + r.children[2].innerText)")
    assert actions == ["修改 test-manager", "新建 ingest"]
    assert page.locator("#audit tbody tr").first.locator("td").nth(7).inner_text() == "延长办公时间"
    page.fill("#audit-filters input[name=record_id]", "")
    page.fill("#audit-filters input[name=actor]", "test-manager")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_function("document.location.search.includes('actor=test-manager')")
    page.wait_for_function("[...document.querySelectorAll('#audit tbody tr td:nth-child(3)')].every(td => td.innerText === 'test-manager')")
    assert "record_id" not in page.url
    page.screenshot(path=str(SHOTS / "manage-audit.png"), full_page=True)
    page.fill("#audit-filters input[name=since]", "2099-01-01")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_function("document.querySelector('#audit-count').innerText === '0 条'")


def test_page_load_times(page, server):
    ready = {
        "/manage?kb=mini": "#records tbody tr[data-id]",
        "/manage/edit?kb=mini&id=t-ans-allowance-002": "#revisions tbody tr[data-rev]",
        "/manage/upload?kb=mini": "#upload-form",
        "/manage/check?kb=mini": "#check-summary:not(:empty)",
        "/manage/audit?kb=mini": "#audit tbody tr[data-seq]",
        "/manage/lifecycle?kb=mini": "#life-today:not(:empty)",
    }
    loads = {}
    for path, selector in ready.items():
        times = []
        for _ in range(7):
            started = time.perf_counter()
            page.goto(server + path)
            page.wait_for_selector(selector)
            page.wait_for_function("document.body.dataset.ready === '1'")
            times.append((time.perf_counter() - started) * 1000)
        loads[path.split("?")[0]] = _percentiles(times)
    save_timings("manage-timings.json", page_load_to_data_ms=loads)
    page.goto(server + "/manage/edit?kb=mini")
    page.wait_for_selector("#f-question")
    page.screenshot(path=str(SHOTS / "manage-new.png"), full_page=True)
