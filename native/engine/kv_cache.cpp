// The KV cache's storage: layer groups, growing and re-laying out rings, and moving rows between
// caches. Steps (what a forward writes and reads) are in kv_step.cpp.
#include "kv_cache.h"

#include <algorithm>
#include <map>

#include "errors.h"

namespace mlxn {

namespace {

int round_up(int n, int step) {
  return ((n + step - 1) / step) * step;
}

}  // namespace

KVCache::KVCache(int num_layers, int kv_heads, int head_dim, mx::Dtype dtype, int batch,
                 const std::vector<int>& windows)
    : kv_heads_(kv_heads), head_dim_(head_dim), dtype_(dtype), offsets_(batch, 0) {
  if (!windows.empty() && int(windows.size()) != num_layers)
    throw EngineError("INTERNAL", "[kv] one window per layer expected");
  std::map<int, int> group_index;
  for (int l = 0; l < num_layers; ++l) {
    const int w = windows.empty() ? 0 : std::max(0, windows[l]);
    auto [it, added] = group_index.emplace(w, int(groups_.size()));
    if (added) groups_.push_back(Group{w, 0, {}});
    groups_[it->second].layers.push_back(l);
    group_of_.push_back(it->second);
  }
  keys_.assign(num_layers, mx::array(0.0f));
  values_.assign(num_layers, mx::array(0.0f));
}

bool KVCache::wrapped(const Group& g) const {
  return g.capacity > 0 && !offsets_.empty() &&
         *std::max_element(offsets_.begin(), offsets_.end()) > g.capacity;
}

void KVCache::grow(Group& g, int length, int end) {
  // Global: every position. Window: a step of L tokens needs the window - 1 positions before
  // its first token and its own L (fewer while the sequence is shorter than that).
  int need = round_up(end, kStep);
  if (g.window > 0) need = std::min(need, g.window - 1 + length);
  if (need > g.capacity) resize(g, need);
}

void KVCache::resize(Group& g, int capacity) {
  const int B = batch(), old = g.capacity;
  if (capacity <= old || B == 0) return;
  std::optional<mx::array> index;
  if (old > 0 && wrapped(g)) {
    // Row b's new slot j holds the newest position p < offset_b with p % capacity == j, read
    // from its old slot p % old. Positions the old ring no longer held land on stale data that
    // is outside every later query's window (the ring always holds the last window - 1).
    std::vector<int32_t> idx(size_t(B) * capacity);
    for (int b = 0; b < B; ++b) {
      const int o = offsets_[b];
      for (int j = 0; j < capacity; ++j) {
        const int p = o - 1 - slot_of(o - 1 - j, capacity);
        idx[size_t(b) * capacity + j] = p < 0 ? 0 : slot_of(p, old);
      }
    }
    index = mx::broadcast_to(mx::array(idx.data(), {B, 1, capacity, 1}, mx::int32),
                             {B, kv_heads_, capacity, head_dim_});
  }
  for (int l : g.layers) {
    for (auto* buf : {&keys_[l], &values_[l]}) {
      if (old == 0) {
        *buf = mx::zeros({B, kv_heads_, capacity, head_dim_}, dtype_);
      } else if (index) {
        *buf = mx::take_along_axis(*buf, *index, 2);
      } else {
        auto pad = mx::zeros({B, kv_heads_, capacity - old, head_dim_}, dtype_);
        *buf = mx::concatenate({*buf, pad}, 2);
      }
    }
  }
  g.capacity = capacity;
}

void KVCache::commit(const CacheStep& s) {
  for (size_t b = 0; b < offsets_.size(); ++b) offsets_[b] += s.lengths[b];
}

void KVCache::append(const KVCache& other) {
  if (other.batch() == 0) return;
  if (batch() == 0) {
    *this = other;
    return;
  }
  // Both sides to one capacity per group, then rows concatenated.
  KVCache rhs = other;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const int cap = std::max(groups_[i].capacity, rhs.groups_[i].capacity);
    resize(groups_[i], cap);
    rhs.resize(rhs.groups_[i], cap);
  }
  for (size_t l = 0; l < keys_.size(); ++l) {
    if (groups_[group_of_[l]].capacity == 0) continue;
    keys_[l] = mx::concatenate({keys_[l], rhs.keys_[l]}, 0);
    values_[l] = mx::concatenate({values_[l], rhs.values_[l]}, 0);
  }
  offsets_.insert(offsets_.end(), rhs.offsets_.begin(), rhs.offsets_.end());
}

void KVCache::keep(const std::vector<int>& rows) {
  if (int(rows.size()) == batch()) return;
  std::vector<int> offsets;
  for (int r : rows) offsets.push_back(offsets_[r]);
  offsets_ = std::move(offsets);
  if (rows.empty()) {
    for (auto& g : groups_) g.capacity = 0;
    for (size_t l = 0; l < keys_.size(); ++l) keys_[l] = values_[l] = mx::array(0.0f);
    return;
  }
  auto idx = mx::array(rows.data(), {int(rows.size())}, mx::int32);
  for (size_t l = 0; l < keys_.size(); ++l) {
    if (groups_[group_of_[l]].capacity == 0) continue;
    keys_[l] = mx::take(keys_[l], idx, 0);
    values_[l] = mx::take(values_[l], idx, 0);
  }
}

bool KVCache::holds(int b, int n) const {
  n = std::min(n, offsets_[b]);
  for (const Group& g : groups_) {
    // A ring row holds positions [offset - capacity, offset); continuing at n needs the
    // window - 1 before n.
    const bool ring = g.window > 0 && offsets_[b] > g.capacity;
    if (ring && n - g.window + 1 < offsets_[b] - g.capacity) return false;
  }
  return true;
}

std::optional<KVCache> KVCache::row(int b, int n) const {
  if (!holds(b, n)) return std::nullopt;
  KVCache out = *this;
  out.offsets_.assign(1, 0);
  for (auto& g : out.groups_) g.capacity = 0;
  n = std::min(n, offsets_[b]);
  if (n <= 0) return out;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group& g = groups_[i];
    const bool ring = g.window > 0 && offsets_[b] > g.capacity;
    // Linear rows copy their first n slots; a ring row is copied whole (slot = p % capacity
    // stays true, and the slots of positions past n fall outside every later window).
    const int copy = ring ? g.capacity : n;
    const int cap = ring ? g.capacity : std::min(round_up(n, kStep), std::max(n, g.capacity));
    out.groups_[i].capacity = cap;
    mx::Shape src_end{b + 1, kv_heads_, copy, head_dim_}, dst_end{1, kv_heads_, copy, head_dim_};
    for (int l : g.layers) {
      for (auto [from, to] :
           {std::pair{&keys_[l], &out.keys_[l]}, {&values_[l], &out.values_[l]}}) {
        *to = mx::slice_update(mx::zeros({1, kv_heads_, cap, head_dim_}, dtype_),
                               mx::slice(*from, {b, 0, 0, 0}, src_end), {0, 0, 0, 0}, dst_end);
      }
    }
  }
  out.offsets_[0] = n;
  // Evaluate now: until it is, the copy's graph holds the whole source buffer (every row of a
  // batch) alive, and a prefix-cache entry would keep it for as long as the entry lives.
  mx::async_eval(out.state());
  return out;
}

std::vector<mx::array> KVCache::state() const {
  std::vector<mx::array> out;
  for (size_t l = 0; l < keys_.size(); ++l) {
    if (groups_[group_of_[l]].capacity > 0) out.push_back(keys_[l]), out.push_back(values_[l]);
  }
  return out;
}

size_t KVCache::nbytes() const {
  size_t slots = 0;
  for (const auto& g : groups_) slots += size_t(g.capacity) * g.layers.size();
  return 2 * slots * batch() * kv_heads_ * head_dim_ * mx::size_of(dtype_);
}

size_t KVCache::bytes_for(int tokens, int max_step) const {
  size_t slots = 0;
  const int linear = (tokens / kStep + 1) * kStep;
  for (const auto& g : groups_) {
    const int cap = g.window > 0 ? std::min(linear, g.window - 1 + std::max(max_step, 1)) : linear;
    slots += size_t(cap) * g.layers.size();
  }
  return 2 * slots * kv_heads_ * head_dim_ * mx::size_of(dtype_);
}

}  // namespace mlxn
