// Reading weight files (GGUF or safetensors) into one map with Hugging Face names.
#include <regex>

#include "errors.h"
#include "model.h"

namespace mlxn {

// GGUF tensor names → Hugging Face names. llama.cpp's converter permutes Q/K rows for the
// interleaved rope layout; the model then runs rope in that (traditional) layout instead of
// undoing the permutation, which gives the same attention scores.
std::string hf_name(const std::string& gguf) {
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"attn_q", "self_attn.q_proj"},      {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},      {"attn_output", "self_attn.o_proj"},
      {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
      {"attn_norm", "input_layernorm"},    {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  static const std::regex block(R"(^blk\.(\d+)\.([a-z_]+)\.(\w+)$)");
  static const std::regex global(R"(^([a-z_]+)\.(\w+)$)");
  std::smatch m;
  if (std::regex_match(gguf, m, block)) {
    for (const auto& [from, to] : table) {
      if (m[2] == from) return "model.layers." + m[1].str() + "." + to + "." + m[3].str();
    }
    return "";
  }
  if (std::regex_match(gguf, m, global)) {
    if (m[1] == "token_embd") return "model.embed_tokens." + m[2].str();
    if (m[1] == "output_norm") return "model.norm." + m[2].str();
    if (m[1] == "output") return "lm_head." + m[2].str();
  }
  return "";
}

WeightMap load_weight_files(const ModelSpec& spec) {
  WeightMap out;
  if (spec.files.empty()) throw EngineError("INVALID_MODEL", "[load] no weight files");
  for (const auto& file : spec.files) {
    try {
      if (spec.format == "gguf") {
        auto [arrays, meta] = mx::load_gguf(file);
        for (auto& [name, a] : arrays) {
          std::string mapped = hf_name(name);
          if (!mapped.empty()) out.insert_or_assign(mapped, a);
        }
      } else {
        auto [arrays, meta] = mx::load_safetensors(file);
        for (auto& [name, a] : arrays) out.insert_or_assign(name, a);
      }
    } catch (const EngineError&) {
      throw;
    } catch (const std::exception& e) {
      throw EngineError("INVALID_MODEL", "[load] cannot read " + file + ": " + e.what());
    }
  }
  return out;
}

}  // namespace mlxn
