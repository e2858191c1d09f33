// Which MLX backend and device this process runs on, and the engine's device policy: the one
// place that decides compute dtype, prefill chunk and matmul streams per backend. (Which
// quantized matmul runs at decode sizes on CUDA is measured per shape at load: cuda/qmv_policy.h.)
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
  double memory_bytes = 0;  // the GPU's memory as MLX reports it; 0 on the CPU
  // Metal: the GPU working set the system recommends (MLX's own memory limit); 0 elsewhere.
  double recommended_working_set_bytes = 0;
};
DeviceInfo device_info();

struct MemoryInfo {
  double active = 0, peak = 0, cache = 0;  // bytes
};
MemoryInfo memory_info();

// Compute dtype: `requested` ("float32" | "float16" | "bfloat16") or the backend's default:
// float32 on the CPU (its quantized matmul is an order of magnitude slower with float16
// activations), float16 on GPUs (on an H200 a 4-bit 8B model decoded 8% faster in float16 than
// in bfloat16 at one stream; docs/benchmarks.md).
mx::Dtype compute_dtype(const std::string& requested);
// Prompt tokens per prefill step: CPU prefill costs about as much per token as decode, so a big
// chunk would stall running streams for seconds; GPUs prefill hundreds of tokens in the time of
// one decode step.
int default_prefill_chunk();
// MLX never frees a stream's worker thread (its scheduler keeps one per stream for the life of
// the process), so engines borrow streams from a process-wide pool instead of making new ones:
// thread-unsafe streams, each used by one engine thread at a time. A lease synchronizes and
// returns its streams when it is destroyed.
class StreamLease {
 public:
  StreamLease() = default;
  static StreamLease borrow(mx::Device::DeviceType type, int n);
  // Borrows a CPU stream (and a GPU stream where there is a GPU) and makes them the calling
  // thread's default streams.
  static StreamLease defaults_for_this_thread();
  StreamLease(StreamLease&& other) noexcept : streams_(std::move(other.streams_)) {}
  StreamLease& operator=(StreamLease&& other) noexcept;
  StreamLease(const StreamLease&) = delete;
  StreamLease& operator=(const StreamLease&) = delete;
  ~StreamLease();
  const std::vector<mx::Stream>& streams() const { return streams_; }

 private:
  void give_back();
  std::vector<mx::Stream> streams_;
};

// CPU backend: the extra streams every matmul's output rows are split over, besides the default
// one (each CPU stream runs on its own thread, and MLX's CPU quantized matmul is single-threaded).
// `requested` 0: one stream per core, at most 4, in all. GPUs parallelize inside each kernel: none.
StreamLease extra_matmul_streams(int requested);
// Quantized matmuls of 2 to n-1 rows are padded to n rows: on CUDA (sm80/sm90) MLX 0.32 runs
// fewer than 8 rows with a GEMV kernel per row, slower than its tiled kernel at 8 (measured on
// an H200 by scripts/gpu/qmm_bench.py). Elsewhere 0 (no padding).
// MLX_NATIVE_QMM_MIN_ROWS overrides it.
int quantized_matmul_min_rows();
// Whether MLX's quantized_matmul is wrong on this backend for 2 or more rows of a weight of this
// format: on CUDA, MLX 0.32.4's kernel for one group spanning the whole input (affine 4- or 8-bit,
// in_dims <= group size; its sm90 case) gave relative errors of 1 to 9e37, or NaN, at 3 to 18
// rows in every dtype on an H200 (scripts/gpu/qmm_check.py; one row, its vector kernel, is exact,
// and quantized_matmul_min_rows pads 2 rows to 8). Such weights are at most 128 inputs wide.
bool quantized_matmul_wrong(const std::string& mode, int bits, int group_size, int in_dims);

}  // namespace mlxn
