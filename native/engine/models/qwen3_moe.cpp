// Qwen3-MoE: the Qwen3 decoder (q/k norms) whose feed-forward is a sparse mixture of experts on
// every `decoder_sparse_step`-th layer not in `mlp_only_layers`: softmax routing over
// `num_experts`, the top `num_experts_per_tok` (renormalized with `norm_topk_prob`), SwiGLU
// experts.
#include <algorithm>

#include "../errors.h"
#include "llama.h"
#include "registry.h"

namespace mlxn {

namespace {

std::unique_ptr<Model> load_qwen3_moe(LoadContext& ctx) {
  const Json& j = ctx.config;
  DecoderConfig c = read_decoder_config(j);
  c.rope.scaling = "";  // mlx-lm's Qwen3-MoE rotates without scaling
  MoeConfig moe;
  moe.hidden = c.hidden_size;
  moe.intermediate = config_int(j, "moe_intermediate_size", 0);
  moe.experts = config_int(j, "num_experts", 0);
  moe.top_k = config_int(j, "num_experts_per_tok", 0);
  moe.norm_topk = config_bool(j, "norm_topk_prob", false);
  const int step = config_int(j, "decoder_sparse_step", 1);
  if (moe.experts > 0 && (moe.intermediate <= 0 || moe.top_k <= 0 || step <= 0)) {
    throw EngineError("INVALID_MODEL",
                      "[load] config.json: moe_intermediate_size, num_experts_per_tok and "
                      "decoder_sparse_step must be positive");
  }
  std::vector<int> dense;
  auto only = j.find("mlp_only_layers");
  if (only != j.end() && only->is_array()) {
    for (const auto& v : *only) {
      if (!v.is_number_integer())
        throw EngineError("INVALID_MODEL", "[load] config.json: mlp_only_layers must list layers");
      dense.push_back(v.get<int>());
    }
  }
  LlamaOptions options{.qk_norm = true};
  options.moe = [=](int layer) -> std::optional<MoeConfig> {
    const bool sparse = std::find(dense.begin(), dense.end(), layer) == dense.end() &&
                        moe.experts > 0 && (layer + 1) % step == 0;
    return sparse ? std::optional<MoeConfig>(moe) : std::nullopt;
  };
  return load_llama_decoder(ctx, c, options);
}

const FamilyRegistration registration({"qwen3_moe", {"qwen3_moe"}, load_qwen3_moe});

}  // namespace

}  // namespace mlxn
