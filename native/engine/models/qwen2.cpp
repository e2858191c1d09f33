// Qwen2 / Qwen2.5: the Llama decoder with biases on the q, k and v projections (not on o).
#include "llama.h"
#include "registry.h"

namespace mlxn {

namespace {

std::unique_ptr<Model> load_qwen2(LoadContext& ctx) {
  return load_llama_decoder(ctx, read_decoder_config(ctx.config), {.qkv_bias = true});
}

const FamilyRegistration registration({"qwen2", {"qwen2"}, load_qwen2});

}  // namespace

}  // namespace mlxn
