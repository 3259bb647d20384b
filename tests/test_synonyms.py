from pathlib import Path

from kb.synonyms import SynonymTable


def _table(tmp_path: Path, rows: str) -> SynonymTable:
    path = tmp_path / "synonyms.tsv"
    path.write_text("colloquial\tofficial\n" + rows, encoding="utf-8")
    return SynonymTable.load(path)


def test_colloquial_terms_expand_to_official_ones(tmp_path):
    table = _table(tmp_path, "低保\t最低生活保障\n老年卡\t养老助残卡\n北京通\t养老助残卡\n")
    assert table.expansions("吃低保的老人老年卡丢了") == ["养老助残卡", "最低生活保障"]


def test_a_term_inside_a_longer_known_term_does_not_fire(tmp_path):
    table = _table(tmp_path, "护理补贴\t重度残疾人护理补贴\n失能补贴\t失能护理补贴\n失能护理补贴\t失能老年人护理补贴\n")
    assert table.expansions("我爸失能护理补贴怎么申请") == ["失能老年人护理补贴"]
    assert table.expansions("护理补贴怎么申请") == ["重度残疾人护理补贴"]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "synonyms.tsv"
    path.write_text("colloquial\tofficial\n低保 最低生活保障\n", encoding="utf-8")
    import pytest

    with pytest.raises(ValueError, match=r"synonyms.tsv:2: 同义词行应为“口语词<TAB>规范词”"):
        SynonymTable.load(path)


def test_shipped_synonym_list_is_large_and_well_formed():
    table = SynonymTable.load(Path(__file__).parents[1] / "corpus" / "synonyms.tsv")
    assert len(table.pairs) >= 150
    assert "最低生活保障" in table.expansions("吃低保")
