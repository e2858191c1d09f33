// gpt-oss: the Llama-shaped decoder with biases on every attention projection, a learned
// attention sink per head, sliding-window and global layers alternating (config.json's
// layer_types), YaRN rope, and a sparse MoE on every layer: the top `num_experts_per_tok` router
// logits, softmaxed, pick experts whose SwiGLU is clamped at `swiglu_limit`. The experts are
// MXFP4 as published; both the original checkpoint layout (`*_blocks` / `*_scales`, gate and up
// rows interleaved) and MLX's (separate gate/up/down) load.
#include "../errors.h"
#include "llama.h"
#include "registry.h"

namespace mlxn {

namespace {

// Rows (axis -2, or the last axis for biases) start, start + 2, ...: the original checkpoint
// interleaves gate and up rows.
mx::array every_other(const mx::array& a, int start, int axis) {
  mx::Shape lo(a.ndim(), 0), hi = a.shape(), strides(a.ndim(), 1);
  const int ax = axis < 0 ? a.ndim() + axis : axis;
  lo[ax] = start, strides[ax] = 2;
  return mx::contiguous(mx::slice(a, lo, hi, strides));
}

// The original layout: `<p>.gate_up_proj_blocks` uint8 [E, 2I, in / 32, 16] (the bytes of MLX's
// packed uint32 weight), `_scales` uint8 [E, 2I, in / 32], `_bias` [E, 2I]; `down_proj_*` alike.
void unpack_original_experts(WeightMap& w) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : w) keys.push_back(k);
  for (const auto& k : keys) {
    auto cut = [&](const std::string& suffix) {
      return k.size() > suffix.size() &&
                     k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0
                 ? k.substr(0, k.size() - suffix.size())
                 : std::string();
    };
    mx::array v = w.at(k);
    std::string base, part;
    for (const char* s : {"gate_up_proj_blocks", "gate_up_proj_scales", "gate_up_proj_bias",
                          "down_proj_blocks", "down_proj_scales", "down_proj_bias"}) {
      if (!(base = cut(s)).empty()) {
        part = s;
        break;
      }
    }
    if (part.empty()) continue;
    w.erase(k);
    const bool blocks = part.ends_with("_blocks"), bias = part.ends_with("_bias");
    if (blocks) {
      if (v.dtype() != mx::uint8 || v.ndim() != 4)
        throw EngineError("UNSUPPORTED_QUANTIZATION", "[load] " + k + " is not MXFP4 blocks");
      v = mx::flatten(mx::view(v, mx::uint32), -2, -1);
    }
    const std::string leaf = blocks ? ".weight" : bias ? ".bias" : ".scales";
    if (part.starts_with("down_proj")) {
      w.insert_or_assign(base + "down_proj" + leaf, v);
    } else {
      const int axis = bias ? -1 : -2;
      w.insert_or_assign(base + "gate_proj" + leaf, every_other(v, 0, axis));
      w.insert_or_assign(base + "up_proj" + leaf, every_other(v, 1, axis));
    }
  }
}

std::unique_ptr<Model> load_gpt_oss(LoadContext& ctx) {
  const Json& j = ctx.config;
  DecoderConfig c = read_decoder_config(j);
  c.tie_word_embeddings = false;
  unpack_original_experts(ctx.weights);

  LlamaOptions options{.qkv_bias = true, .sinks = true};
  const int window = config_int(j, "sliding_window", 128);
  auto types = j.find("layer_types");
  for (int i = 0; i < c.num_layers; ++i) {
    std::string t = i % 2 == 0 ? "sliding_attention" : "full_attention";
    if (types != j.end() && types->is_array()) {
      if (int(types->size()) != c.num_layers || !(*types)[i].is_string())
        throw EngineError("INVALID_MODEL", "[load] config.json: layer_types must name every layer");
      t = (*types)[i].get<std::string>();
    }
    if (t != "sliding_attention" && t != "full_attention")
      throw EngineError("UNSUPPORTED_ARCHITECTURE",
                        "[load] layer type \"" + t + "\" is not supported");
    options.windows.push_back(t == "sliding_attention" ? window : 0);
  }
  MoeConfig moe;
  moe.hidden = c.hidden_size;
  moe.intermediate = c.intermediate_size;
  moe.experts = config_int(j, "num_local_experts", 0);
  moe.top_k = config_int(j, "num_experts_per_tok", 0);
  moe.routing = "topk_softmax";
  moe.activation = "clamped";
  moe.limit = config_float(j, "swiglu_limit", moe.limit);
  moe.router = "router";
  moe.experts_name = "experts";
  options.moe = [moe](int) { return std::optional<MoeConfig>(moe); };
  return load_llama_decoder(ctx, c, options);
}

const FamilyRegistration registration({"gpt_oss", {"gpt_oss"}, load_gpt_oss});

}  // namespace

}  // namespace mlxn
