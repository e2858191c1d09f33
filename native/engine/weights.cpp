// Reading weight files (GGUF or safetensors) into one map with Hugging Face names.
#include <regex>

#include "errors.h"
#include "gguf_file.h"
#include "gguf_quants.h"
#include "model.h"

namespace mlxn {

namespace {

using NameTable = std::vector<std::pair<std::string, std::string>>;

// Per-block tensor names shared by the llama.cpp architectures.
const NameTable& common_names() {
  static const NameTable table = {
      {"attn_q", "self_attn.q_proj"},      {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},      {"attn_output", "self_attn.o_proj"},
      {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
      {"attn_norm", "input_layernorm"},    {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},       {"attn_qkv", "self_attn.qkv_proj"},
  };
  return table;
}

// Gemma 2/3 norm around both sub-layers: `ffn_norm` is the pre-feed-forward norm there.
const NameTable& gemma_names() {
  static const NameTable table = {
      {"post_attention_norm", "post_attention_layernorm"},
      {"ffn_norm", "pre_feedforward_layernorm"},
      {"post_ffw_norm", "post_feedforward_layernorm"},
  };
  return table;
}

// Names one architecture gives its own meaning (checked before the common table).
const NameTable& arch_names(const std::string& arch) {
  static const NameTable none, phi3 = {{"ffn_up", "mlp.gate_up_proj"}};  // gate rows, then up
  static const NameTable qwen3moe = {
      {"ffn_gate_inp", "mlp.gate"},
      {"ffn_gate_exps", "mlp.switch_mlp.gate_proj"},
      {"ffn_up_exps", "mlp.switch_mlp.up_proj"},
      {"ffn_down_exps", "mlp.switch_mlp.down_proj"},
  };
  static const NameTable gpt_oss = {
      {"post_attention_norm", "post_attention_layernorm"}, {"ffn_gate_inp", "mlp.router"},
      {"ffn_gate_exps", "mlp.experts.gate_proj"},          {"ffn_up_exps", "mlp.experts.up_proj"},
      {"ffn_down_exps", "mlp.experts.down_proj"},
  };
  if (arch == "phi3") return phi3;
  if (arch == "qwen3moe") return qwen3moe;
  if (arch == "gpt-oss") return gpt_oss;
  return none;
}

bool is_gemma(const std::string& arch) {
  return arch == "gemma" || arch == "gemma2" || arch == "gemma3";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// GGUF tensor names → Hugging Face names. llama.cpp's converter permutes Llama Q/K rows for the
// interleaved rope layout; the model then runs rope in that (traditional) layout instead of
// undoing the permutation, which gives the same attention scores.
std::string hf_name(const std::string& gguf, const std::string& arch) {
  static const std::regex block(R"(^blk\.(\d+)\.([a-z_]+)\.(\w+)$)");
  static const std::regex global(R"(^([a-z_]+)\.(\w+)$)");
  std::smatch m;
  if (std::regex_match(gguf, m, block)) {
    auto layer = [&](const std::string& to) {
      return "model.layers." + m[1].str() + "." + to + "." + m[3].str();
    };
    // gpt-oss's per-head sinks are `attn_sinks.weight` in GGUF, `self_attn.sinks` in HF.
    if (m[2] == "attn_sinks") return "model.layers." + m[1].str() + ".self_attn.sinks";
    for (const auto& [from, to] : is_gemma(arch) ? gemma_names() : arch_names(arch)) {
      if (m[2] == from) return layer(to);
    }
    for (const auto& [from, to] : common_names()) {
      if (m[2] == from) return layer(to);
    }
    return "";
  }
  if (std::regex_match(gguf, m, global)) {
    if (m[1] == "token_embd") return "model.embed_tokens." + m[2].str();
    if (m[1] == "output_norm") return "model.norm." + m[2].str();
    if (m[1] == "output") return "lm_head." + m[2].str();
    // Phi-3's LongRoPE factors reach the model through config.json (src/engine/gguf-arch.ts).
  }
  return "";
}

WeightMap load_gguf_weights(const std::string& path) {
  GgufFile file(path);
  const std::string arch = file.string_value("general.architecture");
  WeightMap out;
  for (const GgufTensor& t : file.tensors()) {
    const std::string name = hf_name(t.name, arch);
    if (name.empty()) continue;
    GgufArrays a = convert_gguf_tensor(t);
    if (a.bits > 0 && ends_with(name, ".weight")) {
      const std::string module = name.substr(0, name.size() - 7);
      out.insert_or_assign(module + ".scales", *a.scales);
      if (a.biases) out.insert_or_assign(module + ".biases", *a.biases);
    } else if (a.bits > 0) {
      throw EngineError("UNSUPPORTED_QUANTIZATION",
                        "[gguf] tensor " + t.name + " is quantized but is not a weight matrix");
    }
    // llama.cpp stores Gemma's RMSNorm scales as 1 + w; Hugging Face (and the family) as w.
    if (is_gemma(arch) && ends_with(name, "norm.weight")) {
      a.weight = mx::subtract(mx::astype(a.weight, mx::float32), mx::array(1.0f));
    }
    out.insert_or_assign(name, a.weight);
  }
  return out;
}

WeightMap load_weight_files(const ModelSpec& spec) {
  WeightMap out;
  if (spec.files.empty()) throw EngineError("INVALID_MODEL", "[load] no weight files");
  for (const auto& file : spec.files) {
    try {
      if (spec.format == "gguf") {
        for (auto& [name, a] : load_gguf_weights(file)) out.insert_or_assign(name, a);
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
