// A ModelSpec from a path, for the native tools: an MLX / Hugging Face directory (config.json
// and its safetensors), or a GGUF file with the config.json that mlx-native derives from its
// metadata (`--config`; the TypeScript bench writes it).
#pragma once

#include <string>

#include "engine/model.h"

namespace mlxn::tools {

ModelSpec model_spec(const std::string& path, const std::string& config_file = "");

}  // namespace mlxn::tools
