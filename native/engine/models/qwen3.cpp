// Qwen3 (dense): the Llama decoder with RMSNorm over head_dim on queries and keys before rope.
#include "llama.h"
#include "registry.h"

namespace mlxn {

namespace {

std::unique_ptr<Model> load_qwen3(LoadContext& ctx) {
  return load_llama_decoder(ctx, read_decoder_config(ctx.config), {.qk_norm = true});
}

const FamilyRegistration registration({"qwen3", {"qwen3"}, load_qwen3});

}  // namespace

}  // namespace mlxn
