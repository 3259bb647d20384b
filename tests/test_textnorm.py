from kb.textnorm import normalize


def test_numerals_with_units_and_bare_multi_digit_numerals_become_digits():
    assert normalize("我妈八十二了，九十岁以上，两千五百元") == "我妈82了,90岁以上,2500元"


def test_words_built_from_numerals_are_left_alone():
    assert normalize("了解一下一些一站式服务，十分感谢") == "了解一下一些一站式服务,十分感谢"


def test_full_width_and_traditional_are_folded():
    assert normalize("高齡津貼　ＡＢＣ１２３") == "高龄津贴 abc123"


def test_article_numbers_are_normalised_consistently():
    assert normalize("第二十三条") == normalize("第23条") == "第23条"
