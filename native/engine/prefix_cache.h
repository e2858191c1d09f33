// Reuse of KV caches across requests that share a prompt prefix (multi-turn chat, a shared
// system prompt). Entries are finished sequences' caches; LRU within a byte budget.
#pragma once

#include <cstdint>
#include <list>
#include <vector>

#include "kv_cache.h"

namespace mlxn {

class PrefixCache {
 public:
  explicit PrefixCache(size_t budget_bytes) : budget_(budget_bytes) {}

  // A fresh cache holding the longest cached prefix of `prompt` (at most prompt.size() - 1
  // tokens, so at least one token is left to prefill), or nullopt when nothing matches (or the
  // best entry's sliding-window layers no longer hold the window before that prefix).
  std::optional<KVCache> lookup(const std::vector<int32_t>& prompt, int min_tokens = 1);
  // Stores `cache` whose first tokens.size() positions hold `tokens`.
  void insert(std::vector<int32_t> tokens, KVCache cache);
  void clear() { entries_.clear(), bytes_ = 0; }
  size_t bytes() const { return bytes_; }
  // Drops least recently used entries until at most `target` bytes are held.
  void shrink_to(size_t target);

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    KVCache cache;
  };
  std::list<Entry> entries_;  // front: most recently used
  size_t budget_, bytes_ = 0;
};

}  // namespace mlxn
