// One entry per model family: its names (with aliases) and what it changes in the config.
#pragma once

#include <string>
#include <vector>

#include "../model_config.h"

namespace mlxn {

struct Family {
  std::vector<std::string> names;
  void (*configure)(ModelConfig&);
};

const Family& llama_family();
const Family& qwen2_family();
const Family& qwen3_family();

}  // namespace mlxn
