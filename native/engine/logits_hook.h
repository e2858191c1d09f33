// A per-sequence constraint on the next token, computed on the host (a grammar matcher, for
// instance). The scheduler queues the step's forward pass first, then asks the hook for its mask
// while the device computes, applies the mask to that row's logits only, and feeds the sampled
// token back. Rows without a hook keep the fully pipelined path.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace mlxn {

namespace mx = mlx::core;

class LogitsHook {
 public:
  virtual ~LogitsHook() = default;
  // The tokens allowed next, as a bitmask over the vocabulary (token t is bit t % 32 of word
  // t / 32), or nullopt when any token may follow. Engine thread.
  virtual std::optional<std::vector<uint32_t>> allowed() = 0;
  // The token this sequence produced, fed back before the next allowed(). Engine thread.
  virtual void accept(int32_t token) = 0;
};

// logits ([V] float32) with every token outside `mask` at -inf. Throws INVALID_ARGUMENT when the
// mask allows no token of the vocabulary.
mx::array apply_token_mask(const mx::array& logits, const std::vector<uint32_t>& mask);

// logits ([B, V]) with each row masked by its own mask (nullopt: every token allowed), in one op.
// Throws INVALID_ARGUMENT when a row's mask allows no token of the vocabulary.
mx::array apply_batch_token_mask(const mx::array& logits,
                                 const std::vector<std::optional<std::vector<uint32_t>>>& masks);

}  // namespace mlxn
