import pytest

from kb.fusion import minmax_weighted, rrf


def test_rrf_matches_hand_computed_scores():
    fused = dict(rrf([[1, 2, 3], [3, 1]], k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert [i for i, _ in rrf([[1, 2, 3], [3, 1]], k=60)] == [1, 3, 2]


def test_rrf_weights_scale_each_list():
    fused = dict(rrf([[1], [2]], k=0, weights=[2.0, 1.0]))
    assert fused == {1: 2.0, 2: 1.0}


def test_minmax_weighted_normalises_each_list_and_ignores_missing():
    fused = minmax_weighted([[(1, 0.9), (2, 0.7), (3, 0.5)], [(3, 30.0), (2, 10.0)]])
    assert dict(fused) == pytest.approx({1: 1.0, 2: 0.5, 3: 1.0})
    assert [i for i, _ in fused] == [1, 3, 2]
