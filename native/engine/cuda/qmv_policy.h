// When the decode kernel (qmv_kernel.h) replaces quantized_matmul: MLX_NATIVE_QMV=off|on|auto
// (default auto on CUDA; the kernel needs MLX's CUDA backend, so everywhere else it is off).
// In auto mode each weight shape is timed once per process, at load, at 1, 2, 4, 8, 16, 32 and
// 64 rows against the engine's quantized_matmul path; a row count then takes whichever was
// faster at the next power of two (up to 2 rows the kernel may be 10% slower and still be taken:
// there it also does the norm or residual add next to it, one MLX operation fewer).
#pragma once

#include <mlx/mlx.h>

#include <functional>

namespace mlxn::qmv {

namespace mx = mlx::core;

enum class Mode { off, on, automatic };
// The mode this process runs in (read once).
Mode mode();

// One weight's format and shape, the key of the timing table.
struct Format {
  int out_dims = 0, in_dims = 0, bits = 0, group_size = 0;
  mx::Dtype dtype = mx::float16;
  bool operator<(const Format& o) const;
};

using MatmulFn = std::function<mx::array(const mx::array& x)>;

// Auto mode: times `kernel` against `baseline` for `f` at every row bucket, unless this format
// was timed already. Runs on the calling thread's default GPU stream (the engine thread, at load).
void tune(const Format& f, const MatmulFn& kernel, const MatmulFn& baseline);

// Whether `rows` rows of `f` go to the kernel: `on` always (up to kMaxRows), `auto` where the
// kernel won the timing (an untimed format keeps quantized_matmul), `off` never.
bool use_kernel(const Format& f, int rows);

}  // namespace mlxn::qmv
