"""Spoken questions in the written register, two-in-one splitting, table rows, office questions."""

from __future__ import annotations

import pytest

from kb.reply.directory import office_ask
from kb.reply.notknowledge import not_knowledge
from kb.reply.rows import pick_row
from kb.reply.spoken import parts, written

ALLOWANCE = ("您好，本市户籍年满80周岁的老年人可以领取高龄老年人津贴，按年龄段分档：80周岁至89周岁每人每月100元，"
             "90周岁至99周岁每人每月500元，100周岁及以上每人每月800元。津贴按月发到老人本人的北京通—养老助残卡。")
SUBSIDY = ("您好，本市户籍年满60周岁的困难老人可以享受困难老年人养老服务补贴：低保家庭老人和分散供养特困人员每人每月300元，"
           "低收入家庭老人每人每月200元。")


@pytest.mark.parametrize(("spoken", "plain"), [
    ("我妈82了高龄津贴怎么领", "我母亲82岁高龄津贴怎么领"),
    ("俺妈那个九十二了，就是说那个高龄的钱咋领啊", "我母亲92岁，高龄的钱怎么领"),
    ("嗯，那个，海淀哪儿能领结婚证啊", "海淀哪里能领结婚证"),
    ("你好，请问那个人是谁", "那个人是谁"),
    ("低保停了咋回事", "低保停了什么原因"),
    ("", ""),
])
def test_written_register(spoken, plain):
    assert written(spoken) == plain


def test_two_questions_are_split_and_context_travels_with_the_first():
    plain = written("俺家就俺跟俺闺女两口人，俺下岗好几年了，就是说能不能申请那个低保啊？咋申请？")
    assert parts(plain) == ["我家就我跟我女儿2口人，我下岗好几年了，能不能申请低保？", "怎么申请？"]
    assert parts(written("低保停了咋回事？还有临时救助咋申请")) == ["低保停了什么原因？", "还有临时救助怎么申请"]
    assert parts("高龄津贴怎么领") == ["高龄津贴怎么领"]
    assert parts("我家两口人，都没工作") == ["我家两口人，都没工作"]


@pytest.mark.parametrize(("question", "row", "kind"), [
    ("我母亲82岁高龄津贴怎么领", "80周岁至89周岁每人每月100元", "age"),
    ("我母亲92岁，每月多少", "90周岁至99周岁每人每月500元", "age"),
    ("老人103岁了每月多少", "100周岁及以上每人每月800元", "age"),
])
def test_age_picks_one_band(question, row, kind):
    pick = pick_row(question, ALLOWANCE)
    assert (pick.row, pick.kind) == (row, kind)


def test_category_picks_its_row_and_unclear_facts_pick_none():
    assert pick_row("我家是低收入家庭，老人能补多少", SUBSIDY).row == "低收入家庭老人每人每月200元"
    assert pick_row("老人75岁能领多少", ALLOWANCE) is None  # below every band
    assert pick_row("我爸82岁我妈91岁每月多少", ALLOWANCE) is None  # two ages: no single row
    assert pick_row("每月多少", ALLOWANCE) is None
    assert pick_row("92岁每月多少", "高龄津贴每人每月500元。") is None  # one amount is not a table


def test_grade_picks_its_row():
    text = "一级残疾人每月补贴400元，二级残疾人每月补贴300元，三级、四级残疾人每月补贴100元。"
    assert pick_row("我是2级残疾能领多少", text).row == "二级残疾人每月补贴300元"
    assert pick_row("三级的呢", text).row == "三级、四级残疾人每月补贴100元"


@pytest.mark.parametrize(("question", "fields"), [
    ("海淀哪里能领结婚证", ("address",)),
    ("丰台区的敬老院电话多少", ("phone",)),
    ("街道民政科几点上班", ("hours",)),
    ("去殡仪馆要不要预约", ("appointment",)),
    ("低保找谁办，在哪", ("address", "office")),
])
def test_office_questions(question, fields):
    assert office_ask(question).fields == fields


@pytest.mark.parametrize("question", ["低保申请要带什么材料", "高龄津贴多少钱", "我能不能申请低保", "残疾证怎么办理"])
def test_rule_questions_are_not_office_questions(question):
    assert office_ask(question) is None


@pytest.mark.parametrize(("question", "word"), [
    ("明年高龄津贴涨不涨", "政策调整预期"),
    ("听说明年低保要全部取消了，是真的吗", "政策调整预期"),
    ("网上说老年卡坐公交要收费了", "传闻"),
    ("我上个月交的低保申请，到现在批了没有", "办理进度"),
    ("第一社会福利院现在还有空床位吗", "实时情况"),
    ("社区主任收了我500块钱才开证明，这算不算受贿", "法律判断"),
    ("听人讲过两年特困和低保要并到一块发", "政策调整预期"),
    ("给我家老人报的居家养老服务，这都俩月了咋还没人上门", "办理进度"),
    ("我的临时救助批了，啥时候能到我卡上", "办理进度"),
    ("残疾人辅具中心现在有现货的助行器吗", "实时情况"),
    ("街道那个办低保的态度太差，她叫啥名字，我要投诉", "投诉具体工作人员"),
    ("物业不让装坡道，这事到底谁有理", "法律判断"),
    ("朝阳那几家养老院哪家条件好，给推荐一个", "评价或推荐"),
    ("小汤山那边的公墓靠谱吗", "评价或推荐"),
    ("你们接电话的一天得接多少个电话呀", "工作人员自身"),
])
def test_questions_no_library_answers(question, word):
    assert word in not_knowledge(written(question))


@pytest.mark.parametrize("question", ["高龄津贴每月多少钱", "我妈刚满80岁，高龄津贴怎么还没到账", "低保申请要带什么材料",
                                      "离婚冷静期是多少天", "残疾人两项补贴每月几号打到卡上", "社会组织办协会变更要什么材料",
                                      "低保申请交了材料以后怎么查进度", "养老机构的名录在哪里能查到",
                                      "春节期间婚姻登记处放假吗", "社区工作者工资由谁发"])
def test_rule_questions_are_knowledge(question):
    assert not_knowledge(written(question)) is None


def test_damaged_calibration_file_is_a_chinese_error(tmp_path):
    from kb.reply.calibration import Calibration

    assert Calibration.load(tmp_path / "absent.json") is None
    bad = tmp_path / "reply_calibration.json"
    bad.write_text("{不是 JSON", encoding="utf-8")
    with pytest.raises(ValueError, match="答复可靠度模型文件损坏"):
        Calibration.load(bad)
    bad.write_text('{"features": ["cosine"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0, "threshold": 0.5,'
                   ' "trained_on": {}}', encoding="utf-8")
    with pytest.raises(ValueError, match="特征"):
        Calibration.load(bad)


def test_shipped_calibration_was_fitted_on_dev_only():
    from kb.reply.calibration import FEATURES, Calibration
    from kb.settings import PROJECT_ROOT

    cal = Calibration.load(PROJECT_ROOT / "corpus" / "reply_calibration.json")
    assert tuple(cal.features) == FEATURES
    assert cal.trained_on["splits"] == ["dev", "dev2", "dev3"]  # never test
    assert cal.trained_on["questions"] == 505
    assert 0.0 < cal.threshold < 1.0


def test_a_callers_own_number_is_not_a_question_for_a_phone_number():
    assert office_ask(written("高龄津贴在哪领，我电话13812345678")).fields == ("address",)
    assert office_ask(written("我电话：13812345678")) is None
    assert written("。我妈82了高龄津贴怎么领") == "我母亲82岁高龄津贴怎么领"
    assert written("我妈82了高龄津贴怎么领，我电话13812345678") == "我母亲82岁高龄津贴怎么领，我电话"


def _tokens(text: str) -> list[str]:
    import jieba

    return [t for t in jieba.lcut(text) if t.strip()]


@pytest.mark.parametrize(("question", "terms"), [
    ("顺义这边公墓墓碑刻字一个字多少钱", ["墓碑", "刻字"]),  # the place is not the subject
    ("高龄津贴每月多少钱", ["高龄", "津贴"]),
    ("我母亲92岁一个月能领多少", []),  # who asks is not what is asked about; 领多少 names no subject
    ("我需要我父母七几年的结婚登记档案，去哪里查", []),  # 七几年 is a year, not a question for a count
    ("社工证考试一共考几门", ["社工", "考试"]),
])
def test_the_subject_of_an_asked_figure(question, terms):
    from kb.reply.asked import asked_terms

    assert asked_terms(written(question), _tokens, lambda t: True) == terms


def test_an_answer_lacking_the_asked_subject_does_not_hold_the_figure():
    from kb.reply.asked import missing_terms

    answer = "公墓墓位价格按公墓公示执行，节地生态安葬免费。"
    assert missing_terms(["墓碑", "刻字"], answer, {"公墓", "墓位"}, lambda t: []) == ["墓碑", "刻字"]
    assert missing_terms(["老年卡"], "养老助残卡补办请到银行网点。", set(), lambda t: ["养老助残卡"]) == []
    assert missing_terms(["墓位"], answer, set(), lambda t: []) == []
