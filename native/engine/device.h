// Which MLX backend and device this process runs on, and the engine's device policy: the one
// place that decides compute dtype, prefill chunk and matmul streams per backend.
#pragma once

#include <mlx/mlx.h>

#include <string>
#include <vector>

namespace mlxn {

namespace mx = mlx::core;

// "metal", "cuda" or "cpu": the backend the default device runs on.
std::string backend_name();

struct DeviceInfo {
  std::string backend, device, device_name, mlx_version;
};
DeviceInfo device_info();

struct MemoryInfo {
  double active = 0, peak = 0, cache = 0;  // bytes
};
MemoryInfo memory_info();

// Compute dtype: `requested` ("float32" | "float16" | "bfloat16") or the backend's default:
// float32 on the CPU (its quantized matmul is an order of magnitude slower with float16
// activations), float16 on GPUs.
mx::Dtype compute_dtype(const std::string& requested);
// Prompt tokens per prefill step: CPU prefill costs about as much per token as decode, so a big
// chunk would stall running streams for seconds; GPUs prefill hundreds of tokens in the time of
// one decode step.
int default_prefill_chunk();
// CPU backend: streams every matmul's output rows are split over (each CPU stream runs on its own
// thread, and MLX's CPU quantized matmul is single-threaded). `requested` 0: one per core, at
// most 4. GPUs parallelize inside each kernel: one stream.
std::vector<mx::Stream> matmul_streams(int requested);
// Quantized matmuls of 2 to n-1 rows are padded to n rows: on CUDA (sm80/sm90) MLX 0.32 runs
// fewer than 8 rows with a GEMV kernel per row, slower than its tiled kernel at 8 (measured on
// an H200 by scripts/gpu/qmm_bench.py). Elsewhere 0 (no padding).
// MLX_NATIVE_QMM_MIN_ROWS overrides it.
int quantized_matmul_min_rows();

}  // namespace mlxn
