// Fused kernels for a decoder layer's small steps on MLX's CUDA backend. At decode sizes a step's
// time is MLX's host cost per operation, not only the GPU (docs/cuda-kernels.md, "Where a
// batch-1 step goes"), so each of these replaces several MLX operations with one kernel:
//
//   split_heads_rope  the fused q/k/v projection's output → q, k, v in [B, heads, L, D], q and k
//                     RMS-normed per head (Qwen3) and rotated: 1 kernel for up to 13 operations
//   swiglu_halves     silu(gate)·up from the fused gate/up projection's halves: 1 for 3 (where
//                     the decode kernel does not take it into its epilogue)
//
// and the decode kernel (qmv_kernel.h) takes the RMSNorm before a projection and the residual add
// after one. Each computes what the MLX operations it replaces compute, rounding where they round
// (tests: native/tools/fused_test.cpp, native/tools/qmv_test.cpp).
//
// A custom kernel costs MLX more host time per call than its own operations do (measured on an
// H200: about 4 µs against 2 to 3 µs; `fused_test hostcost`), so fusing pays only where a kernel
// replaces several. MLX_NATIVE_FUSED=off|on (the default on CUDA), or a list of split,norm,swiglu
// (norm: the RMSNorm and residual add in the decode kernel). Off on every other backend: the
// kernels need MLX's CUDA backend.
#pragma once

#include <mlx/mlx.h>

#include <optional>
#include <vector>

namespace mlxn {
struct Rope;
}

namespace mlxn::fused {

namespace mx = mlx::core;

enum class Kernel { split_heads, norm, swiglu };
// Whether this process uses `kernel` (the setting is read once).
bool enabled(Kernel kernel);

// Whether split_heads_rope computes `rope` for heads of `head_dim`: the whole head rotated or
// none of it, and no feature scaling before the rotation (YaRN, LongRoPE).
bool can_split_heads(const Rope& rope, int head_dim);

// qkv [B, L, (H + 2·KV)·D] (rows q, k, v) → {q [B, H, L, D], k [B, KV, L, D], v [B, KV, L, D]}.
// q and k are RMS-normed over D with `q_norm` / `k_norm` when given, then rotated by `rope` at
// position offsets[b] + l (offsets: int32 [B], or [1] for every row).
std::vector<mx::array> split_heads_rope(const mx::array& qkv, int heads, int kv_heads, int head_dim,
                                        const Rope& rope, const mx::array& offsets,
                                        const std::optional<mx::array>& q_norm,
                                        const std::optional<mx::array>& k_norm, float eps);

// gate_up [..., 2·I] (gate, then up) → silu(gate) · up [..., I].
mx::array swiglu_halves(const mx::array& gate_up);

}  // namespace mlxn::fused
