"""Masking of callers' personal data, and proof that none reaches the logs."""

from __future__ import annotations

import logging

from kb.privacy import MaskingFilter, luhn_ok, mask, valid_id_number


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
    assert masked == ("市民张女士（联系电话【手机号】，备用电话【电话】）反映：其母亲身份证号【身份证号】，"
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
