#include "decoder.h"

#include "blocks.h"

namespace mlxn {

mx::array Decoder::forward(const mx::array& tokens, KVCache& cache,
                           std::vector<int> lengths) const {
  const int B = tokens.shape(0);
  CacheStep step = cache.begin(tokens.shape(1), std::move(lengths));
  auto x =
      mx::fast::rms_norm(last_positions(run_layers(tokens, cache, step), step), norm_, norm_eps_);
  auto logits = lm_head_ ? (*lm_head_)(x) : embed_.as_linear(x);
  return mx::astype(mx::reshape(logits, {B, info_.vocab_size}), mx::float32);
}

mx::array Decoder::hidden(const mx::array& tokens, KVCache& cache, std::vector<int> lengths) const {
  CacheStep step = cache.begin(tokens.shape(1), std::move(lengths));
  auto x = run_layers(tokens, cache, step);
  return mx::astype(mx::fast::rms_norm(x, norm_, norm_eps_), mx::float32);
}

KVCache Decoder::make_cache(int batch) const {
  return KVCache(info_.num_layers, kv_heads_, head_dim_, info_.dtype, batch, windows_);
}

}  // namespace mlxn
