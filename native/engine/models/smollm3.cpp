// SmolLM3: the Llama decoder where every `no_rope_layer_interval`-th layer (or those config.json's
// `no_rope_layers` marks 0) attends without rotary position embedding (NoPE).
#include "../errors.h"
#include "llama.h"
#include "registry.h"

namespace mlxn {

namespace {

std::unique_ptr<Model> load_smollm3(LoadContext& ctx) {
  DecoderConfig c = read_decoder_config(ctx.config);
  // llama.cpp's converter permutes SmolLM3's Q/K rows as it does Llama's: rope runs in that
  // interleaved layout (models/llama.cpp).
  if (ctx.spec.format == "gguf") c.rope.traditional = true;
  LlamaOptions options;
  auto list = ctx.config.find("no_rope_layers");
  if (list != ctx.config.end() && !list->is_null()) {
    // Despite the name, 1 marks a layer that uses rope.
    if (!list->is_array() || int(list->size()) != c.num_layers)
      throw EngineError("INVALID_MODEL",
                        "[load] config.json: no_rope_layers must list every layer (0 or 1)");
    for (const auto& v : *list) {
      if (!v.is_number_integer()) {
        throw EngineError("INVALID_MODEL",
                          "[load] config.json: no_rope_layers must list every layer (0 or 1)");
      }
      options.rope_layers.push_back(v.get<int>() != 0);
    }
  } else {
    const int interval = config_int(ctx.config, "no_rope_layer_interval", 4);
    if (interval <= 0)
      throw EngineError("INVALID_MODEL",
                        "[load] config.json: no_rope_layer_interval must be positive");
    for (int i = 0; i < c.num_layers; ++i) options.rope_layers.push_back((i + 1) % interval != 0);
  }
  return load_llama_decoder(ctx, c, options);
}

const FamilyRegistration registration({"smollm3", {"smollm3"}, load_smollm3});

}  // namespace

}  // namespace mlxn
