// Transformer blocks shared by the families: grouped-query attention over the batch KV cache
// (one rope, one cache write and one scaled_dot_product_attention per layer for every row), and
// the SwiGLU feed-forward.
#pragma once

#include <functional>
#include <optional>
#include <utility>

#include "kv_cache.h"
#include "layers.h"

namespace mlxn {

struct AttentionShape {
  int hidden = 0, heads = 0, kv_heads = 0, head_dim = 0;
  float norm_eps = 1e-6f;  // q/k norms
};

struct AttentionOptions {
  bool qkv_bias = false;  // biases on q, k and v are required
  bool qk_norm = false;   // RMSNorm over head_dim on queries and keys before rope
  bool sinks = false;     // a learned per-head logit every query also attends to (`.sinks`)
};

class Attention {
 public:
  // Takes `<prefix>.{q,k,v,o}_proj`, or the fused `<prefix>.qkv_proj` (rows q, k, v) as some
  // models publish it, and `.q_norm` / `.k_norm` / `.sinks` as `options` ask, out of `weights`.
  static Attention take(WeightMap& weights, const std::string& prefix, const AttentionShape& shape,
                        AttentionOptions options, mx::Dtype dtype);

  // x: [B, L, hidden] → [B, L, hidden], reading and writing `cache` at `layer` (the cache
  // knows the layer's window and gives the mask that goes with it).
  mx::array operator()(const mx::array& x, int layer, KVCache& cache, const CacheStep& step,
                       const Rope& rope) const;
  // The residual stream after a pre-norm attention sublayer: x + this(rms_norm(x, norm, eps)).
  // At decode sizes on CUDA the norm and the add go into the projections' kernel (qmv::Fusion)
  // where MLX_NATIVE_FUSED has `norm`.
  mx::array residual(const mx::array& x, const mx::array& norm, float eps, int layer,
                     KVCache& cache, const CacheStep& step, const Rope& rope) const;

  void for_each_linear(const std::function<void(Linear&)>& f);
  std::vector<mx::array> arrays() const;
  void count(WeightStats& stats) const;

 private:
  // The heads' output before o_proj, [B, L, H·D], from the normed input h, or from the fused
  // q/k/v projection's output when it is given (computed with the norm already).
  mx::array attend(const mx::array& h, const std::optional<mx::array>& qkv, int layer,
                   KVCache& cache, const CacheStep& step, const Rope& rope) const;

  AttentionShape shape_;
  std::optional<mx::array> q_norm_, k_norm_, sinks_;
  std::optional<Linear> qkv_;        // fused q/k/v when their formats agree
  std::optional<Linear> q_, k_, v_;  // otherwise separate
  Linear o_;
  WeightStats parts_;  // counted before fusing
};

// silu(g) · u, the gated activation of SwiGLU feed-forwards (dense and mixture-of-experts).
mx::array swiglu(const mx::array& g, const mx::array& u);

// down(silu(gate(x)) * up(x)), gate and up fused when their formats agree. A published fused
// `<prefix>.gate_up_proj` (rows gate, then up) is taken as it is.
class SwiGLU {
 public:
  static SwiGLU take(WeightMap& weights, const std::string& prefix, int hidden, int intermediate,
                     mx::Dtype dtype);
  mx::array operator()(const mx::array& x) const;
  // x + this(rms_norm(x, norm, eps)), fused as Attention::residual is.
  mx::array residual(const mx::array& x, const mx::array& norm, float eps) const;
  void for_each_linear(const std::function<void(Linear&)>& f);
  std::vector<mx::array> arrays() const;
  void count(WeightStats& stats) const;

 private:
  // silu(gate(h)) · up(h), before down_proj.
  mx::array activation(const mx::array& h) const;

  std::optional<Linear> gate_up_, gate_, up_;
  Linear down_;
  WeightStats parts_;
};

}  // namespace mlxn

namespace mlxn {

// x: [B, L, D] → [B, 1, D] at each row's last real position.
mx::array last_positions(const mx::array& x, const CacheStep& step);

}  // namespace mlxn
