#include "prefix_cache.h"

#include <algorithm>

namespace mlxn {

std::optional<KVCache> PrefixCache::lookup(const std::vector<int32_t>& prompt, int min_tokens) {
  auto best = entries_.end();
  size_t best_len = 0;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    auto [a, b] = std::mismatch(prompt.begin(), prompt.end(), it->tokens.begin(), it->tokens.end());
    size_t len = size_t(a - prompt.begin());
    if (len > best_len) best_len = len, best = it;
  }
  best_len = std::min(best_len, prompt.empty() ? 0 : prompt.size() - 1);
  if (best == entries_.end() || best_len < size_t(std::max(min_tokens, 1))) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, best);  // most recently used
  return best->cache.prefix(int(best_len));
}

void PrefixCache::insert(std::vector<int32_t> tokens, KVCache cache) {
  if (budget_ == 0 || tokens.empty() || cache.nbytes() > budget_) return;
  // An entry that is a prefix of the new one holds nothing the new one lacks.
  for (auto it = entries_.begin(); it != entries_.end();) {
    bool covered = it->tokens.size() <= tokens.size() &&
                   std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin());
    if (covered) {
      bytes_ -= it->cache.nbytes();
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  bytes_ += cache.nbytes();
  entries_.push_front({std::move(tokens), std::move(cache)});
  shrink_to(budget_);
}

void PrefixCache::shrink_to(size_t target) {
  while (bytes_ > target && !entries_.empty()) {
    bytes_ -= entries_.back().cache.nbytes();
    entries_.pop_back();
  }
}

}  // namespace mlxn
