// The Llama-shaped decoder (pre-norm grouped-query attention and SwiGLU or a sparse MoE,
// RMSNorm, tied or separate output head), which the Llama family registers and others (Qwen2,
// Qwen3, Qwen3-MoE, SmolLM3, Phi-3, gpt-oss) reuse with their own options.
#pragma once

#include <functional>

#include "../blocks.h"
#include "../model.h"
#include "../moe.h"

namespace mlxn {

struct LlamaOptions {
  bool qkv_bias = false;  // biases on q/k/v (Qwen2)
  bool qk_norm = false;   // RMSNorm over head_dim on queries and keys before rope (Qwen3)
  bool sinks = false;     // attention sinks (gpt-oss)
  // Per layer: false for layers without rotary embedding (SmolLM3). Empty: rope everywhere.
  std::vector<bool> rope_layers = {};
  // Per layer: the sliding-window size, 0 for global attention. Empty: all global.
  std::vector<int> windows = {};
  // The rotary embedding, when not Rope::from(config.rope, config.head_dim) (partial rotary).
  std::optional<Rope> rope = std::nullopt;
  // The layer's sparse MoE, or nullopt for the dense SwiGLU. Unset: dense everywhere.
  std::function<std::optional<MoeConfig>(int layer)> moe = nullptr;
};

std::unique_ptr<Model> load_llama_decoder(LoadContext& context, const DecoderConfig& config,
                                          LlamaOptions options);

}  // namespace mlxn
