"""Deterministic synthetic ticket exports for the report feature (see README.md in this folder).

    python corpus/reports/make_sample.py                       # the committed samples
    python corpus/reports/make_sample.py --kb minzheng --rows 100000 --start 2025-01-01 --days 365 --out /tmp/big.csv

Ticket texts are the team's labelled sample tickets (corpus/tickets), with the place
names changed to the row's district; phone numbers all start with 1380000 / 010-0000
so no real subscriber is named. Planted events (spike, repeated caller, long-open
tickets, malformed rows) are placed in the last month of the range.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent
SEED = 12345
HEADER = ["工单编号", "受理时间", "诉求内容", "诉求类型", "区", "街乡镇", "来电号码", "承办单位", "首次响应时间", "办结时间",
          "是否解决", "满意度", "行业确认", "剔除理由", "主题"]
STREETS = {
    "东城区": ["东华门街道", "景山街道", "交道口街道", "安定门街道", "北新桥街道", "东四街道", "朝阳门街道", "建国门街道",
              "东直门街道", "和平里街道", "前门街道", "崇文门外街道", "东花市街道", "龙潭街道", "体育馆路街道", "天坛街道", "永定门外街道"],
    "西城区": ["西长安街街道", "新街口街道", "月坛街道", "展览路街道", "德胜街道", "金融街街道", "什刹海街道", "大栅栏街道",
              "天桥街道", "椿树街道", "陶然亭街道", "广安门内街道", "牛街街道", "白纸坊街道", "广安门外街道"],
    "朝阳区": ["劲松街道", "望京街道", "呼家楼街道", "三里屯街道", "和平街街道", "双井街道", "潘家园街道", "酒仙桥街道"],
    "海淀区": ["中关村街道", "学院路街道", "万寿路街道", "海淀街道", "北太平庄街道", "清河街道", "上地街道"],
    "丰台区": ["卢沟桥街道", "方庄街道", "右安门街道", "新村街道", "大红门街道"],
    "石景山区": ["八宝山街道", "古城街道", "鲁谷街道", "苹果园街道"],
    "门头沟区": ["大峪街道", "城子街道"],
    "房山区": ["良乡镇", "拱辰街道", "长阳镇"],
    "通州区": ["梨园镇", "永顺镇", "北苑街道", "中仓街道"],
    "顺义区": ["胜利街道", "旺泉街道", "后沙峪镇"],
    "昌平区": ["回龙观街道", "天通苑北街道", "城北街道", "霍营街道"],
    "大兴区": ["黄村镇", "兴丰街道", "亦庄镇", "西红门镇"],
    "怀柔区": ["泉河街道", "龙山街道"],
    "平谷区": ["滨河街道", "兴谷街道"],
    "密云区": ["鼓楼街道", "果园街道"],
    "延庆区": ["儒林街道", "百泉街道"],
}
DISTRICT_WEIGHT = {"东城区": 8, "西城区": 9, "朝阳区": 16, "海淀区": 14, "丰台区": 10, "石景山区": 4, "门头沟区": 2,
                   "房山区": 5, "通州区": 8, "顺义区": 5, "昌平区": 9, "大兴区": 8, "怀柔区": 2, "平谷区": 2, "密云区": 2, "延庆区": 1}
TYPE_WEIGHT = {"咨询": 55, "求助": 15, "投诉": 15, "举报": 2, "建议": 6, "表扬": 3, "其他": 4}
HOUR_WEIGHT = [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1.5, 4, 8, 10, 10, 8, 5, 6, 9, 9, 8, 6, 4, 3, 3, 2.5, 2, 1.5]
WEEKDAY_WEIGHT = [1.15, 1.05, 1.0, 1.0, 0.95, 0.55, 0.45]
DEPARTMENT_NAMES = {"hrss": "人力社保", "medical_insurance": "医疗保障", "housing": "住房城乡建设", "public_security": "公安",
                    "health": "卫生健康", "veterans": "退役军人事务", "education": "教育", "market_regulation": "市场监管",
                    "urban_management": "城市管理", "transport": "交通", "utilities": "水电气热", "street_office": "属地街道",
                    "other": "其他", "minzheng": "民政", "canlian": "残联"}
_DISTRICTS = re.compile("|".join(sorted({d for d in STREETS} | {d[:-1] for d in STREETS}, key=len, reverse=True)))
SPIKE_OPEN = ["来电人反映：", "来电人投诉：", "居民来电称，", "来电人称，", ""]
SPIKE_WHAT = ["东四南养老驿站的老年餐桌这周突然停餐了", "东四南养老驿站老年餐桌停餐好几天了", "东四南养老驿站的助餐点突然不供餐了",
              "东四南养老驿站老年餐桌说停就停，也没提前通知"]
SPIKE_WHY = ["，家里老人八十多岁自己做不了饭，问什么时候恢复。", "，我们这些老人中午没地方吃饭，请民政管一管。",
             "，驿站说是换运营方，老人吃饭成了问题。", "，打驿站电话没人接，希望尽快恢复老年餐桌。"]


def _texts(industry: str) -> list[tuple[str, str, str]]:
    """(text, subtopic or '', department or '') of the labelled sample tickets of one industry."""
    out = []
    for name in ("train_minzheng.csv", "train_extra.csv", "train_other.csv"):
        with open(CORPUS / "tickets" / name, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["industry"] == industry:
                    out.append((row["text"], row["subtopic"], ""))
                elif row["industry"] != industry and row["industry"] in ("none", "minzheng", "canlian"):
                    out.append((row["text"], "", row["department"] or row["industry"]))
    return out


def _fake_phone(rng: random.Random) -> str:
    return f"1{rng.choice('379')}80000{rng.randrange(10000):04d}" if rng.random() < 0.85 else f"010-0000-{rng.randrange(10000):04d}"


def _localise(text: str, district: str) -> str:
    text = re.sub(r"1[3-9]\d{9}", "13800000000", text)
    return _DISTRICTS.sub(district, text)


def _fmt(dt: datetime | None) -> str:
    return "" if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S")


def _when(rng: random.Random, start: date, days: int) -> datetime:
    weights = [WEEKDAY_WEIGHT[(start + timedelta(days=i)).weekday()] for i in range(days)]
    day = start + timedelta(days=rng.choices(range(days), weights)[0])
    hour = rng.choices(range(24), HOUR_WEIGHT)[0]
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60))


def _row(rng: random.Random, n: int, kb: str, received: datetime, text: str, subtopic: str, dep: str,
         district: str, street: str, caller: str, kind: str | None = None, open_ticket: bool = False,
         with_subtopic: bool = True) -> list[str]:
    kind = kind or rng.choices(list(TYPE_WEIGHT), list(TYPE_WEIGHT.values()))[0]
    r = rng.random()
    responded = None if r < 0.003 else received + timedelta(hours=rng.uniform(25, 60) if r < 0.012 else rng.uniform(0.2, 20))
    closed = None if open_ticket else (responded or received) + timedelta(hours=rng.uniform(2, 24 * 7))
    resolved = "" if open_ticket else rng.choices(["是", "否", ""], [92, 5, 3])[0]
    satisfied = "" if open_ticket else rng.choices(["满意", "基本满意", "不满意", ""], [85, 9, 4, 2])[0]
    if dep:
        confirm, reason = ("剔除", f"属于{DEPARTMENT_NAMES.get(dep, dep)}部门职责，非本单位职责，申请剔除") if rng.random() < 0.9 else ("确认", "")
    else:
        confirm, reason = rng.choices([("确认", ""), ("待确认", ""), ("剔除", "来电人所述事项已由其他部门办理")], [96, 3, 1])[0]
    unit = f"{street.removesuffix('街道')}街道办事处" if street.endswith("街道") and rng.random() < 0.5 else \
        f"{district}{'民政局' if kb == 'minzheng' else '残联'}"
    return [f"{'MZ' if kb == 'minzheng' else 'CL'}{received:%Y%m%d}{n:06d}", _fmt(received), _localise(text, district), kind,
            district, street, caller, unit, _fmt(responded), _fmt(closed), resolved, satisfied, confirm, reason,
            (subtopic if with_subtopic else "")]


def generate(kb: str, rows: int, start: date, days: int, seed: int = SEED, plant: bool = True) -> list[list[str]]:
    rng = random.Random(f"{seed}-{kb}-{rows}-{start}-{days}")
    pool = _texts(kb)
    inside = [p for p in pool if not p[2]]
    outside = [p for p in pool if p[2]]
    districts = list(DISTRICT_WEIGHT)
    with_subtopic = kb == "minzheng"
    out = []
    for n in range(rows):
        text, sub, dep = rng.choice(outside) if rng.random() < 0.08 else rng.choice(inside)
        district = rng.choices(districts, list(DISTRICT_WEIGHT.values()))[0]
        out.append(_row(rng, n, kb, _when(rng, start, days), text, sub, dep, district, rng.choice(STREETS[district]),
                        _fake_phone(rng), with_subtopic=with_subtopic))
    if plant:
        out += _planted(rng, kb, len(out), start + timedelta(days=days), inside, with_subtopic)
    out.sort(key=lambda r: (r[1] or "9", r[0]))
    return out


def _planted(rng: random.Random, kb: str, n: int, end: date, inside: list, with_subtopic: bool) -> list[list[str]]:
    """The events README.md describes, all in the last month before ``end``."""
    rows = []
    last_month = date(end.year, end.month, 1) - timedelta(days=1) if end.day == 1 else end
    month_start = last_month.replace(day=1)
    spike_day = month_start + timedelta(days=15)
    if kb == "minzheng":
        for i in range(36):  # a spike of similar complaints in one street
            when = datetime.combine(spike_day + timedelta(days=i % 6), datetime.min.time()) + timedelta(hours=8 + i % 10, minutes=7 * i % 60)
            text = rng.choice(SPIKE_OPEN) + rng.choice(SPIKE_WHAT) + rng.choice(SPIKE_WHY)
            rows.append(_row(rng, n + len(rows), kb, when, text, "home_care", "", "东城区", "东四街道",
                             _fake_phone(rng), kind="投诉", with_subtopic=with_subtopic))
    repeat = "13800009999"
    dibao = [p for p in inside if p[1] in ("dibao", "two_subsidies", "living_support")] or inside
    for i in range(6):  # one caller, six times
        text, sub, _ = dibao[i % len(dibao)]
        when = datetime.combine(month_start + timedelta(days=2 + 4 * i), datetime.min.time()) + timedelta(hours=10)
        rows.append(_row(rng, n + len(rows), kb, when, "再次来电：" + text, sub, "", "朝阳区", "劲松街道", repeat,
                         kind="求助", with_subtopic=with_subtopic))
    for i in range(12):  # tickets left open for weeks
        text, sub, _ = rng.choice(inside)
        when = datetime.combine(month_start - timedelta(days=20 + 3 * i), datetime.min.time()) + timedelta(hours=9 + i % 8)
        rows.append(_row(rng, n + len(rows), kb, when, text, sub, "", "海淀区", "学院路街道", _fake_phone(rng),
                         kind="投诉", open_ticket=True, with_subtopic=with_subtopic))
    bad_day = month_start + timedelta(days=9)
    template = _row(rng, n + len(rows), kb, datetime.combine(bad_day, datetime.min.time()) + timedelta(hours=10),
                    inside[0][0], inside[0][1], "", "西城区", "月坛街道", _fake_phone(rng), with_subtopic=with_subtopic)
    broken = [list(template) for _ in range(5)]
    broken[0][0], broken[0][1] = template[0] + "X1", f"{bad_day:%Y-%m}-32 25:61"
    broken[1][0], broken[1][4] = template[0] + "X2", "北京市火星区"
    broken[2][0], broken[2][1] = template[0] + "X3", ""
    broken[3][0], broken[3][3] = template[0] + "X4", "催办"
    broken[4][0] = template[0]  # duplicate 工单编号
    return rows + [template] + broken


def write(rows: list[list[str]], path: Path) -> None:
    """CSV with a BOM, as Excel saves it; the 主题 column only when some row has one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = len(HEADER) if any(r[-1] for r in rows) else len(HEADER) - 1
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER[:keep])
        writer.writerows(r[:keep] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", choices=["minzheng", "canlian"])
    ap.add_argument("--rows", type=int)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1))
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.kb is None:
        write(generate("minzheng", 4500, date(2026, 1, 1), 90), HERE / "sample_minzheng.csv")
        write(generate("canlian", 600, date(2026, 1, 1), 90), HERE / "sample_canlian.csv")
        return
    write(generate(args.kb, args.rows or 4500, args.start, args.days), args.out or HERE / f"sample_{args.kb}.csv")


if __name__ == "__main__":
    main()
