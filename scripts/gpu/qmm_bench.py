"""quantized_matmul at decode row counts on the device, three ways: x as one [M, K] matrix,
x as a batch [M, 1, K] (how a decode step's activations arrive), and dequantize + dense matmul.

    python3 scripts/gpu/qmm_bench.py            # prints one table (µs per call, medians)

Shapes are the Llama-3.2-1B and Llama-3.1-8B projections (4-bit, group 64, bfloat16
activations). This table is why the engine flattens activations to one matrix and pads 2-7 rows
to 8 before quantized_matmul on CUDA (native/engine/layers.cpp, device.h).
"""
import time

import mlx.core as mx

SHAPES = [("1B qkv", 2048, 3072), ("1B gate_up", 2048, 16384), ("1B down", 8192, 2048),
          ("8B gate_up", 4096, 28672), ("8B down", 14336, 4096)]
ROWS = [1, 2, 4, 8, 16, 32, 64]


def timed(fn, reps=30):
    for _ in range(3):
        mx.eval(fn())
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        mx.eval([fn() for _ in range(reps)])
        samples.append((time.perf_counter() - t0) / reps * 1e6)
    return sorted(samples)[2]


print(f"{'shape':>12} {'K':>6} {'N':>6} " + " ".join(f"{'M=' + str(m):>18}" for m in ROWS))
for name, k, n in SHAPES:
    w = mx.random.normal((n, k)).astype(mx.bfloat16)
    wq, s, b = mx.quantize(w, 64, 4)
    mx.eval(wq, s, b)
    cells = []
    for m in ROWS:
        x = mx.random.normal((m, k)).astype(mx.bfloat16)
        x3 = x.reshape(m, 1, k)
        q = timed(lambda: mx.quantized_matmul(x, wq, s, b, True, 64, 4))
        q3 = timed(lambda: mx.quantized_matmul(x3, wq, s, b, True, 64, 4))
        d = timed(lambda: x @ mx.dequantize(wq, s, b, 64, 4).T)
        cells.append(f"{q:.0f}/{q3:.0f}/{d:.0f}")
    print(f"{name:>12} {k:>6} {n:>6} " + " ".join(f"{c:>18}" for c in cells))
print("cells: µs of quantized_matmul on [M, K] / on [M, 1, K] / dequantize + matmul")
