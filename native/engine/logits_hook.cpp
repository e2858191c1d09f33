#include "logits_hook.h"

#include <limits>
#include <memory>

#include "errors.h"

namespace mlxn {

mx::array apply_token_mask(const mx::array& logits, const std::vector<uint32_t>& mask) {
  const int V = logits.shape(0);
  std::unique_ptr<bool[]> keep(new bool[V]);
  bool any = false;
  for (int t = 0; t < V; ++t) {
    size_t word = size_t(t) / 32;
    keep[t] = word < mask.size() && ((mask[word] >> (t % 32)) & 1u);
    any = any || keep[t];
  }
  if (!any) throw EngineError("INVALID_ARGUMENT", "[sampler] the token mask allows no token");
  mx::array allowed(keep.get(), {V}, mx::bool_);
  return mx::where(allowed, logits, mx::array(-std::numeric_limits<float>::infinity()));
}

}  // namespace mlxn
