// The Llama-shaped decoder (pre-norm grouped-query attention and SwiGLU, RMSNorm, tied or
// separate output head), which the Llama family registers and others (Qwen2, Qwen3) reuse with
// their own attention options.
#pragma once

#include "../model.h"

namespace mlxn {

struct LlamaOptions {
  bool qkv_bias = false;  // biases on q/k/v (Qwen2)
  bool qk_norm = false;   // RMSNorm over head_dim on queries and keys before rope (Qwen3)
};

std::unique_ptr<Model> load_llama_decoder(LoadContext& context, const DecoderConfig& config,
                                          LlamaOptions options);

}  // namespace mlxn
