#include "../errors.h"
#include "../model.h"
#include "families.h"

namespace mlxn {

void configure_family(ModelConfig& config) {
  for (const Family* family : {&llama_family(), &qwen2_family(), &qwen3_family()}) {
    for (const auto& name : family->names) {
      if (name == config.architecture) {
        family->configure(config);
        return;
      }
    }
  }
  throw EngineError("UNSUPPORTED_ARCHITECTURE", "[load] unsupported architecture \"" +
                                                    config.architecture +
                                                    "\" (supported: llama, mistral, qwen2, qwen3)");
}

}  // namespace mlxn
