// Decode-size quantized matmul for MLX's CUDA backend: y = x · dequantize(W)ᵀ for 1 to 64 rows
// of x, reading each packed weight once for up to 8 rows at a time. MLX's quantized_matmul
// reaches a fraction of the GPU's memory bandwidth at these sizes; this kernel is written for
// it (mx::fast::cuda_kernel, compiled by MLX at first use) and chosen per weight shape and row
// count by timing both at load (qmv_policy.h).
//
// At decode sizes a step's time is also MLX's host cost per operation (docs/cuda-kernels.md), so
// the kernel can take a decoder layer's neighbouring steps with it (Fusion): the RMSNorm before a
// projection, the residual add after one, or the SwiGLU of the fused gate/up projection.
#pragma once

#include <mlx/mlx.h>

#include <optional>

namespace mlxn::qmv {

namespace mx = mlx::core;

// Rows the kernel takes in one call (more would need a tiled kernel; quantized_matmul does that).
constexpr int kMaxRows = 64;

// Whether the kernel computes this layer: MLX's affine format (packed uint32 weights, scales and
// biases of the compute dtype) at 2, 3, 4, 5, 6 or 8 bits, groups of 32, 64 or 128, an input
// size that is a multiple of 32, and float16, bfloat16 or float32 activations.
bool supports(int bits, int group_size, int in_dims, mx::Dtype dtype, bool has_biases);

// What the kernel computes besides the matmul, each as the MLX operations it replaces compute it
// (rounding where they round):
struct Fusion {
  // x ← rms_norm(x, norm, eps) before the matmul (norm: [K], x's dtype).
  std::optional<mx::array> norm;
  float eps = 0.0f;
  // y ← y + residual (residual: y's shape and dtype).
  std::optional<mx::array> residual;
  // y [..., N] ← silu(y[..., :N/2]) · y[..., N/2:] (the fused gate/up projection's halves).
  bool swiglu = false;
};

// Whether `matmul` takes `fusion` for `rows` rows of `in_dims` inputs in `dtype`: up to 2 rows
// (each fusion and tile height is a kernel MLX compiles per process), the norm with an input size a
// multiple of 256, not a residual and a swiglu together.
bool can_fuse(const Fusion& fusion, int in_dims, int rows, mx::Dtype dtype);

// y [..., N] = x [..., K] · dequantize(w, scales, biases)ᵀ, at most kMaxRows rows in x's leading
// dimensions, on a CUDA stream; with `fusion`'s steps before and after. Rounds once, from float32
// sums, to x's dtype. Throws std::invalid_argument ("[qmv] ...") for what it does not take.
mx::array matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                 const mx::array& biases, int bits, int group_size, const Fusion& fusion = {},
                 mx::StreamOrDevice s = {});

}  // namespace mlxn::qmv
