"""Masking of callers' personal data, and proof that none reaches the logs."""

from __future__ import annotations

import logging

import pytest

from kb.privacy import MaskingFilter, luhn_ok, mask, mask_names, valid_id_number


def id_number(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def luhn_number(prefix: str, length: int) -> str:
    for last in "0123456789":
        candidate = prefix + "0" * (length - len(prefix) - 1) + last
        if luhn_ok(candidate):
            return candidate
    raise AssertionError


VALID_ID = id_number("11010519491231002")
CARD = luhn_number("622202", 19)


def test_valid_id_numbers_are_masked_and_invalid_ones_are_not():
    assert valid_id_number(VALID_ID)
    wrong = VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1")
    assert mask(f"身份证号{VALID_ID}。") == "身份证号【身份证号】。"
    assert mask(f"编号{wrong}") == f"编号{wrong}"


def test_realistic_ticket_is_fully_masked():
    ticket = (f"市民张女士（联系电话13900001234，备用电话010-6512-3456）反映：其母亲身份证号{VALID_ID.lower()}，"
              f"低保金打到银行卡{CARD}上没到账，请回复至zhang.nvshi@example.com。")
    masked = mask(ticket)
    assert masked == ("市民某女士（联系电话【手机号】，备用电话【电话】）反映：其母亲身份证号【身份证号】，"
                      "低保金打到银行卡【银行卡号】上没到账，请回复至【邮箱】。")


def test_mobile_numbers_with_country_code_and_separators():
    assert mask("+86 139-0000-1234 和 86 13800001234") == "【手机号】 和 【手机号】"


def test_amounts_dates_and_work_order_numbers_stay_readable():
    text = "补贴12345678元，2024年3月1日受理，工单号20240301123456，第12345号文，拨打12345"
    assert mask(text) == text


def test_card_named_in_context_is_masked_even_without_luhn():
    number = "6222020200112233445"
    assert not luhn_ok(number)
    assert mask(f"卡号{number}") == "卡号【银行卡号】"


def test_no_raw_number_reaches_the_logs(caplog):
    logger = logging.getLogger("kb.test.privacy")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="kb.test.privacy"):
        logger.info("ticket from %s id %s card %s", "13800001234", VALID_ID, CARD)
    assert caplog.messages == ["ticket from 【手机号】 id 【身份证号】 card 【银行卡号】"]
    for raw in ("13800001234", VALID_ID, CARD):
        assert raw not in caplog.text


# Callers name themselves the way tickets and transcripts write it; each case is a sentence from that style.
NAMED = [
    ("来电人孙女士（13800001111）咨询：母亲的高龄津贴这个月没到账。", "来电人某女士（【手机号】）咨询：母亲的高龄津贴这个月没到账。"),
    ("朝阳区劲松街道居民李女士来电反映，低保金未按时发放。", "朝阳区劲松街道居民某女士来电反映，低保金未按时发放。"),
    ("市民赵先生来电称，其父亲住在养老院，伙食太差。", "市民某先生来电称，其父亲住在养老院，伙食太差。"),
    ("喂，你好，我叫王建国，住在海淀区，想问问低保怎么申请。", "喂，你好，我叫王某某，住在海淀区，想问问低保怎么申请。"),
    ("我姓李，木子李，我妈今年八十二了。", "我姓某，木子李，我妈今年八十二了。"),
    ("本人张三咨询残疾人两项补贴的标准。", "本人张某某咨询残疾人两项补贴的标准。"),
    ("来电人刘女士反映社区工作人员态度不好。", "来电人某女士反映社区工作人员态度不好。"),
    ("联系人：陈建国，与老人系父子关系。", "联系人：陈某某，与老人系父子关系。"),
    ("老人叫孙桂兰今年九十一岁，独居在东四街道。", "老人叫孙某某今年九十一岁，独居在东四街道。"),
    ("我是李大爷，上回打过电话的。", "我是某大爷，上回打过电话的。"),
    ("市民欧阳娜娜女士来电，询问婚姻登记预约。", "市民欧阳某某女士来电，询问婚姻登记预约。"),
    ("母亲刘桂兰女士去年去世，想问丧葬补贴。", "母亲刘某某女士去年去世，想问丧葬补贴。"),
    ("我叫王某某，这个已经是化名了。", "我叫王某某，这个已经是化名了。"),
]


@pytest.mark.parametrize(("text", "expected"), NAMED)
def test_callers_names_are_masked(text, expected):
    assert mask(text) == expected


# Office, street and policy names, staff titles and ordinary words that start with a surname character.
NOT_NAMES = [
    "朝阳区民政局社会救助科负责低保审核，王府井街道办事处在东城区。",
    "来电人咨询：本人高中毕业多年，左小腿截肢，想了解残疾人职业培训。",
    "我是石景山的，我是高中生，本人是江苏人，想问北京市最低生活保障办法。",
    "申请人管理办法第十条；市民政局社会事务处处长接听市民咨询。",
    "回龙观街道、金融街街道、石景山区八宝山殡仪馆、马家堡街道、高龄津贴、孙河乡。",
    "老百姓关心的养老服务驿站由爷爷奶奶带孩子，街道一名女士来电，出租车师傅反映。",
    "北京市民政局（办公室）负责解答民政业务办理渠道咨询。",
]


@pytest.mark.parametrize("text", NOT_NAMES)
def test_places_offices_and_words_are_not_names(text):
    assert mask_names(text) == text


def test_a_name_from_the_record_is_masked_without_a_cue():
    text = "陈建国反映养老助残卡丢失，街道请陈建国本人到场补办。"
    assert mask(text, known_names=("陈建国",)) == "陈某某反映养老助残卡丢失，街道请陈某某本人到场补办。"
    assert mask(text) == text  # no cue, no record: a bare full name is not guessed at


def test_names_reach_no_log():
    logger = logging.getLogger("kb.test.privacy.names")
    logger.addFilter(MaskingFilter())
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger.addHandler(handler)
    logger.warning("来电：%s", "我叫王建国，电话13800001234")
    assert records == ["来电：我叫王某某，电话【手机号】"]
