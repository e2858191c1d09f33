#include "kv_cache.h"

#include <algorithm>

#include "errors.h"

namespace mlxn {

KVCache::KVCache(int num_layers, int kv_heads, int head_dim, mx::Dtype dtype, int batch)
    : kv_heads_(kv_heads), head_dim_(head_dim), dtype_(dtype), offsets_(batch, 0) {
  keys_.assign(num_layers, mx::array(0.0f));
  values_.assign(num_layers, mx::array(0.0f));
}

void KVCache::resize_rows(int capacity) {
  // New buffers of `capacity` slots holding what the old ones held.
  const int B = batch();
  for (size_t l = 0; l < keys_.size(); ++l) {
    for (auto* buf : {&keys_[l], &values_[l]}) {
      if (capacity_ == 0) {
        *buf = mx::zeros({B, kv_heads_, capacity, head_dim_}, dtype_);
      } else if (capacity > capacity_) {
        auto pad = mx::zeros({B, kv_heads_, capacity - capacity_, head_dim_}, dtype_);
        *buf = mx::concatenate({*buf, pad}, 2);
      }
    }
  }
  capacity_ = std::max(capacity_, capacity);
}

void KVCache::grow(int needed) {
  if (needed <= capacity_) return;
  resize_rows(((needed + kStep - 1) / kStep) * kStep);
}

CacheStep KVCache::begin(int length, std::vector<int> lengths) {
  const int B = batch();
  if (lengths.empty()) lengths.assign(B, length);
  if (int(lengths.size()) != B) throw EngineError("INTERNAL", "[kv] lengths do not match rows");
  CacheStep s;
  s.length = length;
  s.offsets = offsets_;
  s.lengths = lengths;
  const int lo = *std::min_element(offsets_.begin(), offsets_.end());
  const int hi = *std::max_element(offsets_.begin(), offsets_.end());
  s.uniform = lo == hi;
  s.end = hi + length;
  grow(s.end);
  if (s.uniform) {
    s.mask_mode = length > 1 ? "causal" : "";
  } else {
    s.offset_array = mx::array(offsets_.data(), {B}, mx::int32);
    // Row b's query i sees keys j <= offset_b + i, and is written there.
    auto pos = mx::add(mx::reshape(s.offset_array, {B, 1}), mx::arange(length, mx::int32));
    auto cols = mx::arange(s.end, mx::int32);
    s.mask = mx::reshape(mx::less_equal(mx::reshape(cols, {1, 1, s.end}), mx::expand_dims(pos, 2)),
                         {B, 1, length, s.end});
    s.mask_mode = "array";
    s.write_rows = mx::broadcast_to(mx::reshape(mx::arange(B, mx::int32), {B, 1}), {B, length});
    s.write_cols = pos;
  }
  if (std::any_of(lengths.begin(), lengths.end(), [&](int n) { return n != length; })) {
    std::vector<int> last(B);
    for (int b = 0; b < B; ++b) last[b] = std::max(lengths[b], 1) - 1;
    s.last = mx::array(last.data(), {B, 1, 1}, mx::int32);
  }
  return s;
}

std::pair<mx::array, mx::array> KVCache::update(int layer, const mx::array& k, const mx::array& v,
                                                const CacheStep& s) {
  const int B = batch(), L = s.length;
  auto write = [&](mx::array& buf, const mx::array& x) {
    auto xs = mx::astype(x, dtype_);
    if (s.uniform) {
      const int off = s.offsets[0];
      buf = mx::slice_update(buf, xs, mx::Shape{0, 0, off, 0},
                             mx::Shape{B, kv_heads_, off + L, head_dim_});
    } else {
      // [B, H, L, D] → updates shaped [B, L] (the indices) + [1, H, 1, D] (one slice).
      auto upd = mx::reshape(mx::transpose(xs, {0, 2, 1, 3}), {B, L, 1, kv_heads_, 1, head_dim_});
      buf = mx::scatter(buf, {*s.write_rows, *s.write_cols}, upd, {0, 2});
    }
  };
  write(keys_[layer], k);
  write(values_[layer], v);
  mx::Shape stop{B, kv_heads_, s.end, head_dim_};
  return {mx::slice(keys_[layer], {0, 0, 0, 0}, stop),
          mx::slice(values_[layer], {0, 0, 0, 0}, stop)};
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
  // Both sides to one capacity, then rows concatenated.
  KVCache rhs = other;
  const int cap = std::max(capacity_, rhs.capacity_);
  resize_rows(cap);
  rhs.resize_rows(cap);
  for (size_t l = 0; l < keys_.size(); ++l) {
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
  if (capacity_ == 0) return;
  if (rows.empty()) {
    capacity_ = 0;
    for (size_t l = 0; l < keys_.size(); ++l) keys_[l] = values_[l] = mx::array(0.0f);
    return;
  }
  auto idx = mx::array(rows.data(), {int(rows.size())}, mx::int32);
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l] = mx::take(keys_[l], idx, 0);
    values_[l] = mx::take(values_[l], idx, 0);
  }
}

KVCache KVCache::row(int b, int n) const {
  KVCache out(int(keys_.size()), kv_heads_, head_dim_, dtype_, 1);
  n = std::min(n, offsets_[b]);
  if (n <= 0) return out;
  out.grow(n);
  mx::Shape end{b + 1, kv_heads_, n, head_dim_};
  mx::Shape dst{1, kv_heads_, n, head_dim_};
  for (size_t l = 0; l < keys_.size(); ++l) {
    out.keys_[l] =
        mx::slice_update(out.keys_[l], mx::slice(keys_[l], {b, 0, 0, 0}, end), {0, 0, 0, 0}, dst);
    out.values_[l] = mx::slice_update(out.values_[l], mx::slice(values_[l], {b, 0, 0, 0}, end),
                                      {0, 0, 0, 0}, dst);
  }
  out.offsets_[0] = n;
  // Evaluate now: until it is, the copy's graph holds the whole source buffer (every row of a
  // batch) alive, and a prefix-cache entry would keep it for as long as the entry lives.
  mx::async_eval(out.state());
  return out;
}

std::vector<mx::array> KVCache::state() const {
  if (capacity_ == 0) return {};
  std::vector<mx::array> out(keys_.begin(), keys_.end());
  out.insert(out.end(), values_.begin(), values_.end());
  return out;
}

size_t KVCache::nbytes() const {
  return size_t(2) * keys_.size() * batch() * kv_heads_ * head_dim_ * capacity_ *
         mx::size_of(dtype_);
}

}  // namespace mlxn
