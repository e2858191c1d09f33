// Qwen3 (dense): RMSNorm over head_dim on queries and keys before rope; no biases.
#include "families.h"

namespace mlxn {

const Family& qwen3_family() {
  static const Family family{{"qwen3"}, [](ModelConfig& c) {
                               c.attention_bias = false;
                               c.qk_norm = true;
                             }};
  return family;
}

}  // namespace mlxn
