#include "logits_hook.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "errors.h"

namespace mlxn {

namespace {

// Writes mask's bits for V tokens into keep; returns whether any token is allowed.
bool unpack(const std::vector<uint32_t>& mask, int V, bool* keep) {
  bool any = false;
  for (int t = 0; t < V; ++t) {
    size_t word = size_t(t) / 32;
    keep[t] = word < mask.size() && ((mask[word] >> (t % 32)) & 1u);
    any = any || keep[t];
  }
  return any;
}

}  // namespace

mx::array apply_token_mask(const mx::array& logits, const std::vector<uint32_t>& mask) {
  const int V = logits.shape(0);
  std::unique_ptr<bool[]> keep(new bool[V]);
  if (!unpack(mask, V, keep.get()))
    throw EngineError("INVALID_ARGUMENT", "[sampler] the token mask allows no token");
  mx::array allowed(keep.get(), {V}, mx::bool_);
  return mx::where(allowed, logits, mx::array(-std::numeric_limits<float>::infinity()));
}

mx::array apply_batch_token_mask(const mx::array& logits,
                                 const std::vector<std::optional<std::vector<uint32_t>>>& masks) {
  const int B = logits.shape(0), V = logits.shape(1);
  std::unique_ptr<bool[]> keep(new bool[size_t(B) * V]);
  for (int b = 0; b < B; ++b) {
    bool* row = keep.get() + size_t(b) * V;
    if (!masks[b]) {
      std::fill(row, row + V, true);
    } else if (!unpack(*masks[b], V, row)) {
      throw EngineError("INVALID_ARGUMENT", "[sampler] the token mask allows no token");
    }
  }
  mx::array allowed(keep.get(), {B, V}, mx::bool_);
  return mx::where(allowed, logits, mx::array(-std::numeric_limits<float>::infinity()));
}

}  // namespace mlxn
