"""Suggested replies: grounded in the knowledge base, cited, local, and escalated when unsure."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from kb.reply.composer import ESCALATION_TEXT
from kb.reply.facts import check_grounding
from kb.reply.service import ReplyService
from tests.conftest import api_client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replies(sample_service, sample_settings, sample_classifier):
    return ReplyService(sample_service, sample_settings)


def test_answer_with_clause_and_street_office(replies):
    r = replies.reply("我妈今年九十二了，住在景山那边，高龄津贴每个月能领多少？")
    assert not r.escalate
    assert "500元" in r.reply
    assert r.basis[0]["type"] == "answer" and r.basis[0]["id"].startswith("mz-ans-elderly-allowance-")
    policy = [b for b in r.basis if b["type"] == "policy"]
    assert policy[0]["doc_id"] == "mz-pol-elderly-allowance-2023" and policy[0]["article"].startswith("第")
    assert f"《{policy[0]['title']}》（{policy[0]['doc_no']}）{policy[0]['article']}" in r.reply
    assert (r.district, r.street) == ("东城区", "景山街道")
    assert r.contacts[0]["street"] == "景山街道" and r.contacts[0]["phone"] in r.reply
    assert not any("哪个区" in q for q in r.follow_up)


def test_district_from_request_and_citywide_fallback(replies):
    local = replies.reply("离婚冷静期是多少天", district="朝阳区")
    assert local.contacts[0]["district"] == "朝阳区"
    anywhere = replies.reply("离婚冷静期是多少天")
    assert all(c["level"] == "市" for c in anywhere.contacts)
    assert anywhere.follow_up[0].startswith("请问您（或当事人）的户籍或居住地在哪个区")


@pytest.mark.parametrize("question", ["今晚从首都机场飞上海的航班延误了没有？", "我是朝阳区的，退休养老金今年什么时候调整，能涨多少？",
                                      "明年低保标准会不会涨，能涨到多少？"])
def test_unanswerable_questions_escalate_without_policy_facts(replies, question):
    r = replies.reply(question)
    assert r.escalate and r.escalate_reason
    assert r.reply == ESCALATION_TEXT
    assert r.basis == [] and not re.search(r"\d", r.reply)


def test_repealed_policies_are_never_cited(replies):
    for q in ["低保标准现在是多少", "特困人员照料护理费多少钱", "高龄津贴标准是多少", "残疾儿童康复救助标准"]:
        kb = "canlian" if "残疾儿童" in q else "minzheng"
        r = replies.reply(q, kb)
        index = replies.composer.service.index(kb)
        for b in r.basis:
            if b["type"] == "policy":
                assert index.chunks[index.position[b["id"]]].in_force, b["id"]


def test_same_question_same_reply(replies):
    first = replies.reply("孤儿基本生活费每月多少钱").to_json()
    again = replies.reply("孤儿基本生活费每月多少钱").to_json()
    first.pop("took_ms"), again.pop("took_ms")
    assert first == again


def test_grounding_check_names_invented_facts():
    sources = ["高龄津贴：90至99周岁每人每月500元。", "东城区民政局养老服务科，电话010-0640-1234"]
    ok = check_grounding("您好，您母亲92岁，每月可领500元，可拨打010-0640-1234咨询。", sources + ["92岁"])
    assert ok.ok
    bad = check_grounding("您好，每月可领600元，自2026年1月1日起发放，电话010-0640-9999，依据京民养老发〔2099〕1号。", sources)
    assert bad.unsupported == {"amount": ["600元"], "date": ["2026年1月1日"], "phone": ["01006409999"],
                               "doc_no": ["老发〔2099〕1号"]}


class _FakeLLM(BaseHTTPRequestHandler):
    reply_text = ""

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        body = {"id": "x", "object": "chat.completion", "created": 0, "model": "default",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": type(self).reply_text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def llm_url():
    pytest.importorskip("llama_index.llms.openai_like")
    server = HTTPServer(("127.0.0.1", 0), _FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_generated_reply_is_used_only_when_every_fact_is_cited(sample_service, sample_settings, sample_classifier, llm_url):
    settings = sample_settings.model_copy(update={"llm_url": llm_url})
    service = ReplyService(sample_service, settings)
    template = ReplyService(sample_service, sample_settings).reply("九十二岁老人高龄津贴每月多少钱").reply

    _FakeLLM.reply_text = "您好，九十岁到九十九岁的老人，每个月的高龄津贴是500元，不用专门申请。"
    good = service.reply("九十二岁老人高龄津贴每月多少钱")
    assert good.generation == {"used": True, "check": {"ok": True, "unsupported": {}}}
    assert good.reply == _FakeLLM.reply_text

    _FakeLLM.reply_text = "您好，每个月能领650元，请拨打010-0999-8888。"
    bad = service.reply("九十二岁老人高龄津贴每月多少钱")
    assert bad.generation["used"] is False
    assert bad.generation["check"]["unsupported"] == {"amount": ["650元"], "phone": ["01009998888"]}
    assert bad.reply == template


def test_reply_endpoint(sample_settings, sample_classifier):
    with api_client(sample_settings) as client:
        r = client.post("/v1/reply", json={"question": "结婚登记要带什么材料", "kb": "minzheng", "district": "海淀"})
        assert r.status_code == 200
        body = r.json()
        assert set(body) >= {"reply", "basis", "contacts", "follow_up", "confidence", "escalate", "took_ms"}
        assert body["contacts"][0]["district"] == "海淀区"
        assert client.post("/v1/reply", json={"question": " "}).json()["detail"] == "问题不能为空，请输入来电人的问题"


def test_conflicting_current_sources_prefer_the_newer_and_are_flagged(mini_settings, mini_corpus):
    from ingest.pipeline import run_ingest
    from kb.service import KnowledgeService

    answers = mini_corpus / "answers" / "elderly.yaml"
    # An answer last updated before the policy took effect still quotes an older amount.
    answers.write_text(answers.read_text(encoding="utf-8").replace(
        "90至99周岁每月500元", "90至99周岁每月300元").replace("updated: 2025-03-01", "updated: 2024-01-01", 1),
        encoding="utf-8")
    run_ingest(mini_settings, "mini", [mini_corpus])
    r = ReplyService(KnowledgeService(mini_settings), mini_settings).reply("高龄津贴的发放标准是多少？", "mini")
    assert not r.escalate
    (conflict,) = r.conflicts
    assert (conflict["answer_id"], conflict["policy_id"], conflict["preferred"]) == (
        "t-ans-allowance-001", "t-pol-allowance-2025#第二条", "policy")
    assert "300元" in conflict["answer_values"] and "500元" in conflict["policy_values"]
    assert "具体标准以《测试市老年人津贴发放办法》（测民老发〔2025〕3号）第二条的规定为准" in r.reply


def test_an_escalation_still_carries_where_to_transfer_and_what_to_check(replies):
    forecast = replies.reply("明年低保标准会不会涨，能涨到多少？")
    assert forecast.escalate and forecast.reply == ESCALATION_TEXT and forecast.basis == []
    assert forecast.contacts[0]["unit"] == "北京市民政局社会救助处"
    assert [(b["type"], b["doc_id"]) for b in forecast.references][:1] == [("answer", "mz-ans-dibao-002")]
    assert {b["type"] for b in forecast.references} == {"answer", "policy"}
    assert all(b["note"].endswith("请核实后使用") for b in forecast.references)
    other = replies.reply("我是朝阳区的，退休养老金今年什么时候调整，能涨多少？")
    assert other.escalate and other.contacts == []
    assert [(b["type"], b["title"]) for b in other.references] == [("department", "转办：人力资源和社会保障（养老金、社保、就业、工资拖欠、职工丧葬补助金）")]


def test_callers_facts_pick_the_row_that_leads(replies):
    r = replies.reply("俺妈那个九十二了，住在景山那边，就是说高龄津贴一个月给多少钱啊")
    assert r.kind == "answer" and not r.escalate
    assert r.reply.startswith("按您说的年龄，90周岁至99周岁每人每月500元。")
    assert "80周岁至89周岁每人每月100元" in r.reply  # the whole rule stays as the basis
    assert "92" not in r.reply  # the caller's age is not read back as a fact


def test_office_question_answered_from_the_directory(replies):
    r = replies.reply("西城区婚姻登记处电话多少")
    assert (r.kind, r.escalate) == ("directory", False)
    assert [c["id"] for c in r.contacts] == ["mz-con-0051"]
    assert r.reply.startswith("您好，您可以联系：西城区婚姻登记处，电话010-0676-7694，地址：西城区西直门南小街甲26号")
    assert [b["type"] for b in r.basis] == ["contact"]
    sources = [f"{c['unit']} {c['phone']} {c['address']} {c['hours']}" for c in r.contacts]
    assert check_grounding(r.reply, sources).ok


def test_two_questions_in_one_never_read_the_callers_numbers_back(replies):
    r = replies.reply("我们两口子结婚十年没孩子了，我老公五十二了，现在想收养一个，得啥条件？要去哪儿办？")
    assert not r.escalate
    assert "10年" not in r.reply and "52" not in r.reply and "十年" not in r.reply
    assert r.basis[0]["id"].startswith("mz-ans-adoption-")


@pytest.mark.parametrize("question", ["明年高龄津贴涨不涨啊", "我上个月交的低保申请，到现在批了没有",
                                      "社区主任收了我五百块钱才给开证明，这算不算受贿，能判几年"])
def test_what_no_library_answers_is_transferred(replies, question):
    r = replies.reply(question)
    assert (r.kind, r.escalate, r.basis) == ("escalation", True, [])
    assert r.reply == ESCALATION_TEXT


def test_office_question_keeps_the_rule_on_the_offices_own_business(replies):
    r = replies.reply("朝阳区婚姻登记处在哪，离婚冷静期多少天")
    assert r.kind == "directory" and not r.escalate
    assert r.reply.startswith("您好，您可以联系：朝阳区婚姻登记处，电话010-0958-4396")
    types = [b["type"] for b in r.basis]
    assert "contact" in types and types[0] == "answer"
    contact_topics = {t for b in r.basis if b["type"] == "contact" for t in b["topics"]}
    assert set(r.basis[0]["topics"]) & contact_topics


def test_office_clause_and_rule_clause_are_both_answered(replies):
    r = replies.reply("海淀区婚姻登记处电话多少，结婚要带啥材料")
    assert (r.kind, r.escalate) == ("directory", False)
    assert r.reply.startswith("您好，您可以联系：海淀区婚姻登记处，电话010-0788-4446")
    assert "\n关于您问的第二个问题：" in r.reply and "身份证" in r.reply
    assert [b["type"] for b in r.basis][:2] == ["contact", "answer"]
    assert r.basis[1]["topics"] == ["marriage_reg"]


def test_a_figure_about_something_no_answer_mentions_is_transferred(replies):
    r = replies.reply("顺义这边公墓墓碑刻字一个字多少钱")
    assert (r.kind, r.escalate, r.basis) == ("escalation", True, [])
    assert r.escalate_reason.startswith("来电人询问的具体信息（金额、比例、日期或数量）不在标准答复中（答复未提到“")
    assert "刻字" in r.escalate_reason
    assert r.district == "顺义区" and r.contacts and r.contacts[0]["district"] == "顺义区"


def test_a_street_office_called_by_its_everyday_name_is_that_streets_office(replies):
    r = replies.reply("牛街街道社保所几点开门")
    assert (r.kind, r.escalate) == ("directory", False)
    assert [c["id"] for c in r.contacts] == ["mz-con-0184"]
    assert r.reply.startswith("您好，您可以联系：牛街街道社会保障事务所，电话010-0494-4748")


def test_a_transfer_elsewhere_still_names_this_kbs_office_for_the_part_that_is_ours(replies):
    r = replies.reply("德胜街道这边，我那个低保到底批没批？还有医保卡丢了去哪补")
    assert r.escalate and r.street == "德胜街道"
    assert r.contacts[0]["id"] == "mz-con-0176" and {c["district"] for c in r.contacts} == {"西城区"}
