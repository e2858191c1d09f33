// Plain description of a model, filled in TypeScript from config.json or GGUF metadata
// (src/engine/model-spec.ts) and validated here.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mlxn {

struct RopeScaling {
  std::string type;  // "" (none), "linear", "llama3"
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // llama | mistral | qwen2 | qwen3
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int context_length = 0;
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  bool rope_traditional = false;  // GGUF's llama layout needs the interleaved (traditional) form
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  // Filled by the family (models/*.cpp), not by the caller.
  bool attention_bias = false;
  bool qk_norm = false;
};

struct ModelSpec {
  std::string format;              // "gguf" | "mlx"
  std::vector<std::string> files;  // weight files
  ModelConfig config;
  std::string dtype;    // compute dtype: "" = backend default (float32 on CPU, float16 on GPU)
  int cpu_streams = 0;  // CPU backend: streams (threads) the matmuls are split over; 0 = auto
};

}  // namespace mlxn
