// What every decoder-only family shares around its blocks: the KV cache layout, and forward() /
// hidden() (the family's blocks, then the final RMSNorm, then the output head: lm_head or the
// tied embedding). A family fills the members and implements run_layers.
#pragma once

#include "model.h"

namespace mlxn {

class Decoder : public Model {
 public:
  mx::array forward(const mx::array& tokens, KVCache& cache, std::vector<int> lengths) const final;
  mx::array hidden(const mx::array& tokens, KVCache& cache, std::vector<int> lengths) const final;
  KVCache make_cache(int batch) const final;

 protected:
  // The embedding and every block: the hidden states before the final norm, [B, L, hidden].
  // Writes `step` into the cache and commits it.
  virtual mx::array run_layers(const mx::array& tokens, KVCache& cache,
                               const CacheStep& step) const = 0;

  Embedding embed_;
  mx::array norm_{0.0f};
  float norm_eps_ = 1e-6f;
  std::optional<Linear> lm_head_;  // none: the embedding is the output layer
  // The KV cache: heads and size of each, and per layer the sliding window (0: global; empty:
  // all global).
  int kv_heads_ = 0, head_dim_ = 0;
  std::vector<int> windows_;
};

}  // namespace mlxn
