// Sparse mixture-of-experts feed-forward: a router picks `top_k` experts per token and the
// experts' SwiGLU runs through MLX's gather matmuls (gather_qmm for quantized experts,
// gather_mm otherwise), every token of the batch in one call per projection.
#pragma once

#include <functional>

#include "layers.h"

namespace mlxn {

// One linear layer per expert, stacked: weight [experts, out, in] (or packed), optional bias
// [experts, out].
struct SwitchLinear {
  mx::array weight = mx::array(0.0f);
  std::optional<mx::array> scales, biases, bias;
  QuantFormat format;  // bits 0: not quantized
  int experts = 0, in_dims = 0, out_dims = 0;

  // Takes `<block>.<stacked>.<name>.weight` (+ .scales/.biases/.bias); a Hugging Face
  // checkpoint's per-expert `<block>.experts.<e>.<name>.weight` tensors are stacked instead when
  // the stacked one is absent.
  static SwitchLinear take(WeightMap& weights, const std::string& block, const std::string& stacked,
                           const std::string& name, int experts, int in_dims, mx::Dtype dtype);
  // x: [..., 1, in], indices: int [...] → [..., 1, out].
  mx::array operator()(const mx::array& x, const mx::array& indices, bool sorted) const;
  std::vector<mx::array> arrays() const;
};

struct MoeConfig {
  int hidden = 0, intermediate = 0, experts = 0, top_k = 0;
  // "softmax_topk": softmax over all experts, then the top k (renormalized with norm_topk);
  // "topk_softmax": the top k logits, then softmax over them.
  std::string routing = "softmax_topk";
  bool norm_topk = false;
  // "silu": silu(gate) * up; "clamped": the gate clamped above and up clamped on both sides at
  // `limit`, (up + 1) * gate * sigmoid(alpha * gate).
  std::string activation = "silu";
  float alpha = 1.702f, limit = 7.0f;
  std::string router = "gate";              // the router's weight name under the block
  std::string experts_name = "switch_mlp";  // the stacked experts' name under the block
};

class SparseMoe {
 public:
  static SparseMoe take(WeightMap& weights, const std::string& prefix, const MoeConfig& config,
                        mx::Dtype dtype);
  // x: [B, L, hidden] → [B, L, hidden].
  mx::array operator()(const mx::array& x) const;
  std::vector<mx::array> arrays() const;
  void count(WeightStats& stats) const;

 private:
  mx::array experts(const mx::array& x, const mx::array& indices) const;
  MoeConfig config_;
  Linear router_;
  SwitchLinear gate_, up_, down_;
};

}  // namespace mlxn
