// Phi-3 / Phi-3.5 / Phi-4-mini: the Llama decoder with q/k/v and gate/up published fused
// (qkv_proj, gate_up_proj), head_dim = hidden / heads, rotary embedding on the first
// partial_rotary_factor of each head, and LongRoPE ("su"/"longrope") scaling from the top-level
// max_position_embeddings / original_max_position_embeddings.
#include "../errors.h"
#include "llama.h"
#include "registry.h"

namespace mlxn {

namespace {

std::unique_ptr<Model> load_phi3(LoadContext& ctx) {
  DecoderConfig c = read_decoder_config(ctx.config);
  c.head_dim = c.hidden_size / c.num_heads;
  c.tie_word_embeddings = config_bool(ctx.config, "tie_word_embeddings", false);
  c.rope.original_max_position_embeddings =
      config_int(ctx.config, "original_max_position_embeddings", 4096);
  if (c.rope.scaling != "longrope" && c.rope.scaling != "linear") c.rope.scaling = "";
  const float partial = config_float(ctx.config, "partial_rotary_factor", 1.0f);
  const int dims = int(c.head_dim * partial);
  if (!(partial > 0) || dims > c.head_dim || dims % 2 != 0) {
    throw EngineError("INVALID_MODEL",
                      "[load] config.json: partial_rotary_factor must rotate an "
                      "even number of each head's " +
                          std::to_string(c.head_dim) + " features");
  }
  LlamaOptions options;
  options.rope = Rope::from(c.rope, dims);
  return load_llama_decoder(ctx, c, options);
}

const FamilyRegistration registration({"phi3", {"phi3"}, load_phi3});

}  // namespace

}  // namespace mlxn
