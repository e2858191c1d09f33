// A model's configuration, read once from its Hugging Face config.json (for GGUF files, the
// config.json that src/engine/gguf.ts derives from the metadata). Every default lives here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlxn {

using Json = nlohmann::json;

struct RopeConfig {
  float theta = 10000.0f;
  bool traditional = false;  // interleaved pairs (GGUF's permuted Llama Q/K) instead of halves
  std::string scaling;       // "" (none), "linear", "llama3", "yarn", "longrope"
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position_embeddings = 8192;
  // YaRN: the band between beta_fast and beta_slow rotations is interpolated.
  float beta_fast = 32.0f, beta_slow = 1.0f, mscale = 1.0f, mscale_all_dim = 0.0f;
  // LongRoPE ("su"): per-frequency factors; the model's position range sets the input scale.
  std::vector<float> long_factor, short_factor;
  int max_position_embeddings = 0;
};

// The fields every decoder family shares.
struct DecoderConfig {
  std::string model_type;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;  // default: num_heads
  int head_dim = 0;      // default: hidden_size / num_heads
  int vocab_size = 0;
  int context_length = 4096;  // max_position_embeddings
  float rms_norm_eps = 1e-6f;
  bool tie_word_embeddings = true;  // as mlx-lm: a present lm_head is then ignored
  RopeConfig rope;
};

// Reads the shared fields; throws INVALID_MODEL naming the key that is missing or wrong, and
// UNSUPPORTED_ARCHITECTURE for rope scaling types no family implements.
DecoderConfig read_decoder_config(const Json& config);

// Parses config.json text; INVALID_MODEL when it is not a JSON object.
Json parse_config(const std::string& text);

// Typed reads with a default, and an INVALID_MODEL error naming `key` for a wrong type.
int config_int(const Json& config, const char* key, int fallback);
float config_float(const Json& config, const char* key, float fallback);
bool config_bool(const Json& config, const char* key, bool fallback);

}  // namespace mlxn
