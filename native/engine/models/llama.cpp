// Llama 1-3, SmolLM/SmolLM2, Mistral: the plain decoder (no biases, no q/k norm).
// Llama 3 rope scaling comes through ModelConfig::rope_scaling.
#include "families.h"

namespace mlxn {

const Family& llama_family() {
  static const Family family{{"llama", "mistral"}, [](ModelConfig& c) {
                               c.attention_bias = false;
                               c.qk_norm = false;
                             }};
  return family;
}

}  // namespace mlxn
