"""Cold start: the compact ticket model answers exactly as the fitted one, and serving loads it
without scikit-learn or SciPy (their import and the joblib unpickle were most of the first reply)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from kb.classify.model import TicketModel
from kb.classify.persist import SUFFIX, compact_path, export, share_tokenizer, softmax
from kb.classify.persist import load as load_compact
from kb.classify.pooling import PoolingParams
from kb.settings import PROJECT_ROOT
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model fitted as training does (train split + kb examples, dev calibration, department router), saved."""
    from kb.classify.departments import DepartmentModel
    from kb.classify.kbexamples import kb_examples
    from kb.classify.model import WordAnalyzer
    from kb.classify.training import load_split, model_dir

    s = make_settings(tmp_path_factory.mktemp("coldstart"))
    train, extra = load_split(s, "train"), kb_examples(s.corpus_dir)
    model = TicketModel.fit(train, WordAnalyzer(s.corpus_dir, s.data_dir / "cache"), extra, 0.3, 5.0)
    model.calibrate(load_split(s, "dev"))
    model.department_model = DepartmentModel.fit(model.features, train, extra)
    model.pooling = PoolingParams(0.5, 100, 6.0)  # long letters pooled, asking sentences weighted, as training may choose
    path = model.save(model_dir(s))
    return s, model, path


def test_save_writes_the_compact_file_beside_joblib_and_load_prefers_it(trained):
    s, model, path = trained
    assert sorted(p.name for p in path.parent.iterdir()) == ["CURRENT", f"{model.version}{SUFFIX}",
                                                             f"{model.version}.joblib"]
    served = TicketModel.load(path.parent)
    assert type(served.clf).__module__ == "kb.classify.persist"
    full = TicketModel.load(path.parent, compact=False)
    assert type(full.clf).__name__ == "LogisticRegression"
    assert (served.version, served.labels, served.temperature, served.train_ids, served.pooling) == \
        (model.version, model.labels, model.temperature, model.train_ids, PoolingParams(0.5, 100, 6.0))


def test_compact_probabilities_match_the_fitted_model_on_every_dev_ticket(trained):
    from kb.classify.classifier import TicketClassifier
    from kb.classify.duties import DutyBook
    from kb.classify.training import load_split
    from kb.taxonomy import cached_taxonomy

    s, model, path = trained
    served = TicketModel.load(path.parent)
    texts = [t.text for t in load_split(s, "dev")]
    assert len(texts) == 696  # tickets_dev*.csv: 336, letters2 120, routing2 240
    theirs, theirs_whole, _ = model.pooled_proba(texts)
    mine, mine_whole, _ = served.pooled_proba(texts)
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(mine_whole, theirs_whole, rtol=0, atol=1e-9)
    duties, taxonomy = DutyBook.load(s.corpus_dir / "duties"), cached_taxonomy(s.taxonomy_path)
    fitted, compact = TicketClassifier(model, duties, taxonomy), TicketClassifier(served, duties, taxonomy)
    for kb in ("minzheng", "canlian"):
        for start in range(0, len(texts), 500):  # the classifier's batch limit
            part = texts[start : start + 500]
            expected = [d.to_json() for d in fitted.classify_many(part, kb)]
            assert [d.to_json() for d in compact.classify_many(part, kb)] == expected


def test_softmax_is_scipys_bit_for_bit():
    from scipy.special import softmax as scipy_softmax

    x = np.random.default_rng(7).normal(scale=30, size=(50, 57))
    assert np.array_equal(softmax(x, axis=1), scipy_softmax(x, axis=1))


def test_serving_loads_the_classifier_without_sklearn_or_scipy(trained):
    s, model, _ = trained
    code = (
        "import json, sys\n"
        "from api.readiness import _load_classifier\n"
        "from kb.service import KnowledgeService\n"
        "from kb.settings import Settings\n"
        f"s = Settings(data_dir={str(s.data_dir)!r}, corpus_dir={str(s.corpus_dir)!r}, embed_cache={str(s.embed_cache)!r})\n"
        "clf, error = _load_classifier(s, KnowledgeService(s))\n"
        "d = clf.classify('来电人咨询临时救助怎么申请', 'minzheng')\n"
        "print(json.dumps([d.subtopic, d.model_version, error, sorted(m for m in ('sklearn', 'scipy', 'joblib')"
        " if m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["temp_aid", model.version, "", []]


def test_classifier_dir_is_trainings_model_dir(tmp_path):
    from api.readiness import classifier_dir
    from kb.classify.training import model_dir

    s = make_settings(tmp_path)
    assert classifier_dir(s) == model_dir(s)


def test_a_model_the_compact_form_cannot_express_is_served_from_joblib(trained, tmp_path):
    _, model, path = trained
    other = copy.deepcopy(model)
    other.vectorizer.transformer_list[0][1].analyzer = "char_wb"
    target = tmp_path / path.name
    assert export(other, target) is None
    assert not compact_path(target).exists()
    with_partner = model.with_partner(model)
    assert export(with_partner, target) is None


def test_a_compact_file_of_another_version_or_format_is_refused(trained, tmp_path):
    _, model, path = trained
    with pytest.raises(ValueError, match=f"紧凑分类模型 {model.version}{SUFFIX} 的格式或版本不符"):
        load_compact(compact_path(path), "clf-other")
    broken = tmp_path / f"x{SUFFIX}"
    with np.load(compact_path(path)) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["format"] = 99
    np.savez(broken, meta=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(ValueError, match=f"紧凑分类模型 x{SUFFIX} 的格式或版本不符"):
        load_compact(broken)


def test_the_word_analyzer_moves_to_the_serving_tokenizer_only_for_the_same_dictionary(trained, tmp_path):
    s, _, path = trained
    served = TicketModel.load(path.parent)
    (tmp_path / "same").mkdir()
    (tmp_path / "other").mkdir()
    for name in ("userdict.txt", "stopwords.txt"):
        (tmp_path / "same" / name).write_bytes((s.corpus_dir / name).read_bytes())
        (tmp_path / "other" / name).write_bytes((s.corpus_dir / name).read_bytes())
    (tmp_path / "other" / "userdict.txt").write_text("高龄津贴 20000\n", encoding="utf-8")
    word = served.vectorizer.blocks[1].analyzer
    assert share_tokenizer(served, tmp_path / "other", tmp_path / "cache") is False
    assert word.corpus_dir == s.corpus_dir
    assert share_tokenizer(served, tmp_path / "same", tmp_path / "cache") is True
    assert (word.corpus_dir, word.cache_dir) == (tmp_path / "same", tmp_path / "cache")
    assert share_tokenizer(served, tmp_path / "same", tmp_path / "cache") is False


def test_a_model_saved_before_the_compact_form_gets_its_file_once_served(trained):
    from api.readiness import _write_compact

    s, model, path = trained
    small = compact_path(path)
    small.unlink()
    served = TicketModel.load(path.parent)
    assert type(served.clf).__name__ == "LogisticRegression"
    _write_compact(s, served)
    assert small.exists()
    again = TicketModel.load(path.parent)
    assert type(again.clf).__module__ == "kb.classify.persist"
    stamp = small.stat().st_mtime_ns
    _write_compact(s, again)
    assert small.stat().st_mtime_ns == stamp
