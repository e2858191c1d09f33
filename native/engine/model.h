// The decoder: one implementation for the Llama family, parameterized by ModelConfig; the
// per-family differences (biases, q/k norm) are set in models/*.cpp.
#pragma once

#include <functional>
#include <memory>

#include "kv_cache.h"
#include "layers.h"
#include "model_config.h"

namespace mlxn {

struct DecoderLayer {
  mx::array attn_norm = mx::array(0.0f), mlp_norm = mx::array(0.0f);
  std::optional<mx::array> q_norm, k_norm;
  std::optional<Linear> qkv;      // fused q/k/v when their formats agree
  std::optional<Linear> q, k, v;  // otherwise separate
  Linear o;
  std::optional<Linear> gate_up;  // fused gate/up when their formats agree
  std::optional<Linear> gate, up;
  Linear down;
};

class Model {
 public:
  // Loads and evaluates every weight (on the calling thread: the engine thread).
  // `progress` gets fractions in [0, 1].
  static std::unique_ptr<Model> load(const ModelSpec& spec,
                                     const std::function<void(double)>& progress);

  // Runs `tokens` ([B, L]) through the decoder, sequence b using caches[b], and returns the
  // logits of the last position of each row ([B, vocab], float32). Advances the caches by L.
  mx::array forward(const mx::array& tokens, const std::vector<KVCache*>& caches) const;

  KVCache make_cache() const;
  const ModelConfig& config() const { return config_; }
  mx::Dtype dtype() const { return dtype_; }
  size_t weight_bytes() const { return weight_bytes_; }
  double parameter_count() const { return parameters_; }
  const std::string& quantization() const { return quantization_; }
  // Streams the matmuls are split over (1: not split).
  int streams() const { return streams_; }
  // Bytes of KV cache one token takes.
  size_t kv_bytes_per_token() const;

 private:
  mx::array attention(const DecoderLayer& layer, int index, const mx::array& x,
                      const std::vector<KVCache*>& caches) const;
  mx::array mlp(const DecoderLayer& layer, const mx::array& x) const;
  void shard_matmuls(int requested);

  ModelConfig config_;
  mx::Dtype dtype_ = mx::float32;
  Embedding embed_;
  std::vector<DecoderLayer> layers_;
  mx::array norm_ = mx::array(0.0f);
  std::optional<Linear> lm_head_;  // absent when tied to the embedding
  std::optional<mx::array> rope_freqs_;
  float rope_scale_ = 1.0f;
  size_t weight_bytes_ = 0;
  double parameters_ = 0;
  std::string quantization_;
  int streams_ = 1;
};

// Family registry (models/*.cpp): sets family flags on the config, or throws
// UNSUPPORTED_ARCHITECTURE.
void configure_family(ModelConfig& config);

// Reads the weight files of `spec` into one map with Hugging Face names.
WeightMap load_weight_files(const ModelSpec& spec);
// Hugging Face name of a GGUF tensor, or "" for tensors the decoder does not use.
std::string hf_name(const std::string& gguf);

}  // namespace mlxn
