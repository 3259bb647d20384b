"""Hot issues, new hot issues, place clusters and pseudonyms on small hand-made ticket sets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kb.settings import PROJECT_ROOT
from kb.tokenize import get_tokenizer
from reports.columns import BEIJING, Ticket
from reports.hotspots import HotspotConfig, find_hotspots
from reports.risks import load_key, place_clusters, place_of, pseudonym, repeat_callers

SPIKE = ["东四南养老驿站老年餐桌停餐了，老人中午没地方吃饭", "东四南养老驿站的老年餐桌突然停餐，老人没地方吃饭",
         "老年餐桌停餐，东四南养老驿站的老人中午吃饭成问题", "东四南养老驿站老年餐桌停了好几天，老人没地方吃饭"]
OTHERS = ["结婚登记需要带户口本和身份证吗", "高龄津贴每个月什么时候发放", "残疾人证到期了怎么换领", "殡仪馆遗体接运电话是多少",
          "低保申请要准备哪些材料", "福利彩票投注站怎么申请开办", "社区开具居住证明要什么手续", "离婚冷静期是多少天",
          "婚姻登记档案丢了怎么补", "临时救助一年能申请几次"]


def _ticket(i: int, text: str, when: datetime, kind: str = "投诉", street: str = "东四街道", caller: str = "") -> Ticket:
    return Ticket(row=i + 2, ticket_id=f"H{i:03d}", received_at=when, content=text, type=kind, district="东城区",
                  street=street, caller=caller, unit="", responded_at=None, closed_at=None, resolved=None,
                  satisfaction=None, confirmation=None, filter_reason="", subtopic="home_care")


@pytest.fixture(scope="module")
def tokens():
    return get_tokenizer(PROJECT_ROOT / "corpus", PROJECT_ROOT / "data" / "cache").tokens


def _now(n_spike: int) -> list[Ticket]:
    start = datetime(2026, 3, 10, 9, tzinfo=BEIJING)
    texts = [SPIKE[i % len(SPIKE)] for i in range(n_spike)] + OTHERS
    return [_ticket(i, t, start + timedelta(hours=i)) for i, t in enumerate(texts)]


def test_similar_complaints_form_one_new_hot_issue(tokens):
    now = _now(8)
    past = [[_ticket(100 + k, SPIKE[k], datetime(2026, 2 - k, 5, tzinfo=BEIJING))] + [
        _ticket(200 + 10 * k + j, t, datetime(2026, 2 - k, 6, tzinfo=BEIJING)) for j, t in enumerate(OTHERS)]
        for k in range(1, 2)] + [[_ticket(300, SPIKE[0], datetime(2025, 12, 5, tzinfo=BEIJING))]]
    found = find_hotspots(now, past, HotspotConfig(), lambda t: t.subtopic, lambda c: "居家社区养老", tokens)
    assert [h["count"] for h in found] == [8]
    hot = found[0]
    assert hot["ticket_ids"] == [f"H{i:03d}" for i in range(8)]
    assert hot["districts"] == {"东城区": 8}
    assert hot["example"] in SPIKE
    assert hot["trailing_average"] == 1.0  # one such ticket in each of the two earlier periods
    assert hot["is_new"] is True
    assert hot["keywords"] == ["东四", "养老", "吃饭", "养老驿站", "老人"]


def test_no_history_leaves_new_unknown_and_small_groups_are_not_hot(tokens):
    assert find_hotspots(_now(8), [], HotspotConfig(), lambda t: None, str, tokens)[0]["is_new"] is None
    assert find_hotspots(_now(2), [], HotspotConfig(), lambda t: None, str, tokens) == []
    assert find_hotspots([], [], HotspotConfig(), lambda t: None, str, tokens) == []


def test_places_and_place_clusters():
    assert place_of("来电人反映东四南养老驿站老年餐桌停了") == "东四南养老驿站"
    assert place_of("我住在幸福家园小区，楼道灯坏了") == "幸福家园小区"
    assert place_of("低保什么时候发") is None
    when = datetime(2026, 3, 1, 9, tzinfo=BEIJING)
    tickets = [_ticket(i, SPIKE[i % 4], when) for i in range(3)] + [
        _ticket(9, SPIKE[0], when, kind="咨询"), _ticket(10, SPIKE[0], when, street="景山街道")]
    found = place_clusters(tickets, 3)
    assert [(p["street"], p["place"], p["count"]) for p in found] == [("东四街道", "东四南养老驿站", 3)]


def test_pseudonym_key_is_created_once_and_numbers_never_shown(tmp_path):
    key_file = tmp_path / "sub" / "report_key"
    key = load_key(key_file)
    assert len(key) == 32 and load_key(key_file) == key
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert pseudonym("138-0000-1111", key) == pseudonym("13800001111", key)
    assert pseudonym("13800001111", key) != pseudonym("13800001111", b"another key")
    when = datetime(2026, 3, 1, 9, tzinfo=BEIJING)
    tickets = [_ticket(i, "低保的事", when, caller=c) for i, c in
               enumerate(["13800001111", "138 0000 1111", "138-0000-1111", "13800002222", "", "123"])]
    found = repeat_callers(tickets, key, 3)
    assert [(c["count"], c["ticket_ids"]) for c in found] == [(3, ["H000", "H001", "H002"])]
    assert "1111" not in str(found)


def test_large_periods_cluster_within_subtopics(tokens):
    """Beyond direct_limit the spike is still found, clustered inside its own subtopic."""
    now = _now(8)
    found = find_hotspots(now, [], HotspotConfig(direct_limit=5), lambda t: t.subtopic if t.ticket_id < "H008" else "other",
                          str, tokens)
    assert [(h["count"], h["subtopic"]) for h in found] == [(8, "home_care")]
