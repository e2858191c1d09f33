// Qwen2 / Qwen2.5: biases on the q, k and v projections (not on o).
#include "families.h"

namespace mlxn {

const Family& qwen2_family() {
  static const Family family{{"qwen2"}, [](ModelConfig& c) {
                               c.attention_bias = true;
                               c.qk_norm = false;
                             }};
  return family;
}

}  // namespace mlxn
