from kb.chunking import split_long
from kb.structure import parse_document

PLAIN = """北京市示例养老服务条例
（2023年5月1日北京市人大常委会通过）

第一章　总则

第一条　为了规范养老服务，制定本条例。
第二条　本条例适用于本市行政区域内的养老服务。
本条例所称养老服务，包括居家、社区和机构养老服务。

第二章　服务保障

第三节　补贴

第三条　区民政部门负责发放养老服务补贴。
第四条　本条例自2023年7月1日起施行。
"""


def test_plain_regulation_title_chapters_and_articles_are_recognised():
    doc = parse_document(PLAIN)
    assert doc.title == "北京市示例养老服务条例"
    assert [a.number for a in doc.articles] == ["第一条", "第二条", "第三条", "第四条"]
    assert doc.articles[1].text.endswith("包括居家、社区和机构养老服务。")
    assert doc.articles[0].chapter == "第一章　总则"
    assert doc.articles[2].chapter == "第二章　服务保障"
    assert doc.articles[2].section == "第三节　补贴"
    assert doc.effective == "2023-07-01"


def test_notice_without_articles_is_cited_by_paragraph():
    doc = parse_document("关于调整最低生活保障标准的通知\n京民社救发〔2024〕12号\n一、自2024年7月1日起，标准调整为每人每月1450元。\n二、各区抓好落实。")
    assert doc.doc_no == "京民社救发〔2024〕12号"
    assert [a.text for a in doc.articles][-2:] == ["一、自2024年7月1日起，标准调整为每人每月1450元。", "二、各区抓好落实。"]


def test_long_articles_split_between_sentences_with_overlap():
    sentences = [f"第{i}句话的内容比较长需要凑够字数。" for i in range(40)]
    pieces = split_long("".join(sentences), limit=100, overlap=40)
    assert all(len(p) <= 100 + 20 for p in pieces)
    assert all(p.endswith("。") for p in pieces)
    for before, after in zip(pieces, pieces[1:]):
        last_sentence = before[before[:-1].rfind("。") + 1 :]
        assert after.startswith(last_sentence)
