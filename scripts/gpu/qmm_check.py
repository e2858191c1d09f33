"""MLX's quantized_matmul on the device against its CPU path and a float32 reference.

    python3 scripts/gpu/qmm_check.py      # one line per case; "<-- wrong" where the GPU is off

MLX 0.32.4's CUDA kernel for one group spanning the whole input (K <= group size, its sm90 path)
gave relative errors of 1 to 9e37, or NaN, from 3 rows on an H200 (one row, its vector kernel,
is exact); the engine routes such weights around it (native/engine/layers.cpp). K 1024 is the
control. MLX compiles a kernel per dtype and shape the first time: about a minute in all.
"""
import mlx.core as mx

CASES = [(64, 128, 4, 64), (64, 96, 8, 64), (1024, 300, 4, 64)]  # K, N, bits, group size

print("mlx", mx.__version__, mx.default_device())
for k, n, bits, group in CASES:
    for dtype in (mx.float32, mx.float16, mx.bfloat16):
        mx.random.seed(k + n + bits)
        q = mx.quantize((mx.random.normal((n, k)) * 0.05).astype(dtype), group, bits)
        w = mx.dequantize(*q, group, bits).astype(mx.float32)
        for rows in (1, 3, 8, 18):
            x = mx.random.normal((rows, k)).astype(dtype)
            ref = x.astype(mx.float32) @ w.T
            scale = mx.abs(ref).max()
            err = {}
            for name, stream in (("gpu", mx.gpu), ("cpu", mx.cpu)):
                y = mx.quantized_matmul(x, *q, True, group, bits, stream=stream)
                err[name] = (mx.abs(y.astype(mx.float32) - ref).max() / scale).item()
            wrong = not err["gpu"] <= max(10 * err["cpu"], 1e-3)  # NaN is wrong too
            print(f"K {k:5} N {n:4} {bits}-bit g{group} {str(dtype):19} rows {rows:2}: "
                  f"gpu {err['gpu']:.2e}, cpu {err['cpu']:.2e}{'  <-- wrong' if wrong else ''}",
                  flush=True)
