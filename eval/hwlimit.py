"""The machine's own matrix-multiply speed, and what e5-small costs per text.

Embedding speed means little without the ceiling next to it: these are a float32 GEMM
(numpy's BLAS and onnxruntime's MLAS), an int8 GEMM (onnxruntime MatMulInteger, what
dynamic quantisation runs) and the 4-bit MatMulNBits the converted engine runs, all
on the model's own largest shape (tokens × 384 → 1536). Figures are GFLOP/s counting a
multiply-add as two operations.
"""

from __future__ import annotations

import time

import numpy as np

# The FFN-in shape of e5-small: a batch of 2,048 tokens through a 384 → 1,536 projection.
M, K, N = 2048, 384, 1536


def _best_seconds(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def _ort_session(model, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def machine_limits(threads: int = 2, repeats: int = 7) -> dict[str, float]:
    """GFLOP/s of each kernel on M×K×N; the largest is the limit the engine is compared with."""
    from onnx import TensorProto, helper, numpy_helper

    flops = 2.0 * M * K * N
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    out: dict[str, float] = {}
    out["numpy_fp32_gflops"] = round(flops / _best_seconds(lambda: a @ b, repeats) / 1e9, 1)

    def graph(nodes, inputs, inits, out_type=TensorProto.FLOAT):
        g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", out_type, [M, N])], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
        m.ir_version = 8
        return m

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [M, K])
    fp32 = _ort_session(graph([helper.make_node("MatMul", ["x", "w"], ["y"])], [x], [numpy_helper.from_array(b, "w")]), threads)
    out["ort_fp32_gflops"] = round(flops / _best_seconds(lambda: fp32.run(None, {"x": a}), repeats) / 1e9, 1)

    xq = helper.make_tensor_value_info("x", TensorProto.UINT8, [M, K])
    wq = numpy_helper.from_array(rng.integers(-127, 127, (K, N), dtype=np.int8), "w")
    int8 = _ort_session(graph([helper.make_node("MatMulInteger", ["x", "w"], ["y"])], [xq], [wq], TensorProto.INT32),
                        threads)
    aq = rng.integers(0, 255, (M, K), dtype=np.uint8)
    out["ort_int8_gops"] = round(flops / _best_seconds(lambda: int8.run(None, {"x": aq}), repeats) / 1e9, 1)

    packed = numpy_helper.from_array(rng.integers(0, 255, (N, K // 32, 16), dtype=np.uint8), "w")
    scales = numpy_helper.from_array(np.full(N * K // 32, 0.01, dtype=np.float32), "s")
    q4 = _ort_session(graph([helper.make_node("MatMulNBits", ["x", "w", "s"], ["y"], domain="com.microsoft",
                                              K=K, N=N, bits=4, block_size=32, accuracy_level=4)], [x], [packed, scales]),
                      threads)
    out["ort_q4_int8_gops"] = round(flops / _best_seconds(lambda: q4.run(None, {"x": a}), repeats) / 1e9, 1)
    return out


def e5_flops(tokens: int, layers: int = 12, hidden: int = 384, ffn: int = 1536) -> float:
    """Operations of one e5-small pass over ``tokens`` tokens: the projections plus attention's two products."""
    linear = 2.0 * tokens * (4 * hidden * hidden + 2 * hidden * ffn)
    attention = 2.0 * 2.0 * tokens * tokens * hidden
    return layers * (linear + attention)
