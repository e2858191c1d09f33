// Decode-size quantized matmul for MLX's CUDA backend: y = x · dequantize(W)ᵀ for 1 to 64 rows
// of x, reading each packed weight once for up to 8 rows at a time. MLX's quantized_matmul
// reaches a fraction of the GPU's memory bandwidth at these sizes; this kernel is written for
// it (mx::fast::cuda_kernel, compiled by MLX at first use) and chosen per weight shape and row
// count by timing both at load (qmv_policy.h).
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

// y [M, N] = x [M, K] · dequantize(w, scales, biases)ᵀ, M ≤ kMaxRows, on a CUDA stream.
// Rounds once, from float32 sums, to x's dtype.
mx::array matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                 const mx::array& biases, int bits, int group_size, mx::StreamOrDevice s = {});

}  // namespace mlxn::qmv
