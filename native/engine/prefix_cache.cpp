#include "prefix_cache.h"

#include <algorithm>

namespace mlxn {

std::optional<KVCache> PrefixCache::lookup(const std::vector<int32_t>& prompt, int min_tokens) {
  // The longest shared prefix an entry can still serve: a sliding-window ring that has moved
  // past it cannot (KVCache::holds), and a shorter entry may.
  auto best = entries_.end();
  size_t best_len = 0;
  const size_t most = prompt.empty() ? 0 : prompt.size() - 1;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    auto [a, b] = std::mismatch(prompt.begin(), prompt.end(), it->tokens.begin(), it->tokens.end());
    size_t len = std::min(size_t(a - prompt.begin()), most);
    if (len > best_len && it->cache.holds(0, int(len))) best_len = len, best = it;
  }
  if (best == entries_.end() || best_len < size_t(std::max(min_tokens, 1))) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, best);  // most recently used
  return best->cache.prefix(int(best_len));
}

void PrefixCache::insert(std::vector<int32_t> tokens, KVCache cache) {
  if (budget_ == 0 || tokens.empty() || cache.nbytes() > budget_) return;
  // An entry that is a prefix of the new one holds nothing the new one lacks, unless the new
  // one's sliding-window rings have moved past its end.
  for (auto it = entries_.begin(); it != entries_.end();) {
    bool covered = it->tokens.size() <= tokens.size() &&
                   std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin()) &&
                   cache.holds(0, int(it->tokens.size()));
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
