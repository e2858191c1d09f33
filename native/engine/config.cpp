#include "config.h"

#include "errors.h"

namespace mlxn {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw EngineError("INVALID_MODEL", "[load] config.json: " + message);
}

int required_int(const Json& c, const char* key) {
  if (!c.contains(key) || c[key].is_null()) bad(std::string("has no ") + key);
  int v = config_int(c, key, 0);
  if (v <= 0) bad(std::string(key) + " must be positive");
  return v;
}

// A number or a list of numbers ("long_factor"); empty when absent.
std::vector<float> float_list(const Json& c, const char* key) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return {};
  if (it->is_number()) return {it->get<float>()};
  if (!it->is_array()) bad(std::string("rope_scaling.") + key + " must be a list of numbers");
  std::vector<float> out;
  for (const auto& v : *it) {
    if (!v.is_number()) bad(std::string("rope_scaling.") + key + " must be a list of numbers");
    out.push_back(v.get<float>());
  }
  return out;
}

}  // namespace

Json parse_config(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) bad("not a JSON object");
  return j;
}

int config_int(const Json& c, const char* key, int fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  if (!it->is_number()) bad(std::string(key) + " must be a number");
  double v = it->get<double>();
  if (v != double(int64_t(v)) || v < -2147483648.0 || v > 2147483647.0)
    bad(std::string(key) + " must be an integer");
  return int(v);
}

float config_float(const Json& c, const char* key, float fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  if (!it->is_number()) bad(std::string(key) + " must be a number");
  return it->get<float>();
}

bool config_bool(const Json& c, const char* key, bool fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) bad(std::string(key) + " must be true or false");
  return it->get<bool>();
}

DecoderConfig read_decoder_config(const Json& c) {
  DecoderConfig d;
  auto type = c.find("model_type");
  if (type == c.end() || !type->is_string()) bad("has no model_type");
  d.model_type = type->get<std::string>();
  d.hidden_size = required_int(c, "hidden_size");
  d.intermediate_size = required_int(c, "intermediate_size");
  d.num_layers = required_int(c, "num_hidden_layers");
  d.num_heads = required_int(c, "num_attention_heads");
  d.num_kv_heads = config_int(c, "num_key_value_heads", d.num_heads);
  d.head_dim = config_int(c, "head_dim", d.hidden_size / d.num_heads);
  d.vocab_size = required_int(c, "vocab_size");
  d.context_length = config_int(c, "max_position_embeddings", d.context_length);
  d.rms_norm_eps = config_float(c, "rms_norm_eps", d.rms_norm_eps);
  d.tie_word_embeddings = config_bool(c, "tie_word_embeddings", d.tie_word_embeddings);
  if (d.num_kv_heads <= 0 || d.head_dim <= 0 || d.context_length <= 0)
    bad("num_key_value_heads, head_dim and max_position_embeddings must be positive");
  if (d.num_heads % d.num_kv_heads != 0)
    bad("num_attention_heads must be a multiple of num_key_value_heads");
  if (!(d.rms_norm_eps > 0)) bad("rms_norm_eps must be positive");

  RopeConfig& r = d.rope;
  // transformers >= 5 nests rope_theta and the scaling under rope_parameters.
  auto params = c.find("rope_parameters");
  const bool nested = params != c.end() && params->is_object();
  r.theta = config_float(c, "rope_theta",
                         nested ? config_float(*params, "rope_theta", r.theta) : r.theta);
  r.traditional = config_bool(c, "rope_traditional", r.traditional);
  auto rs = c.find("rope_scaling");
  if ((rs == c.end() || rs->is_null()) && nested) rs = params;
  if (rs != c.end() && rs->is_object()) {
    std::string t = rs->value("rope_type", rs->value("type", std::string()));
    if (t == "su") t = "longrope";
    if (t == "llama3" || t == "linear" || t == "yarn" || t == "longrope") {
      r.scaling = t;
      r.factor = config_float(*rs, "factor", r.factor);
      r.low_freq_factor = config_float(*rs, "low_freq_factor", r.low_freq_factor);
      r.high_freq_factor = config_float(*rs, "high_freq_factor", r.high_freq_factor);
      r.original_max_position_embeddings =
          config_int(*rs, "original_max_position_embeddings", r.original_max_position_embeddings);
      r.beta_fast = config_float(*rs, "beta_fast", r.beta_fast);
      r.beta_slow = config_float(*rs, "beta_slow", r.beta_slow);
      r.mscale = config_float(*rs, "mscale", r.mscale);
      r.mscale_all_dim = config_float(*rs, "mscale_all_dim", r.mscale_all_dim);
      r.long_factor = float_list(*rs, "long_factor");
      r.short_factor = float_list(*rs, "short_factor");
      if (t == "longrope" && r.long_factor.empty()) bad("rope_scaling needs long_factor");
      if (t == "yarn" && !(r.factor > 0)) bad("rope_scaling factor must be positive");
    } else if (!t.empty() && t != "default") {
      throw EngineError("UNSUPPORTED_ARCHITECTURE",
                        "[load] rope scaling \"" + t + "\" is not supported");
    }
  }
  r.max_position_embeddings = d.context_length;
  return d;
}

}  // namespace mlxn
