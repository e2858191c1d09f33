// One forward pass over the KV cache: where each layer group writes this step's keys and values
// and which slots each query may read (kv_cache.h describes the layouts).
#include <algorithm>

#include "errors.h"
#include "kv_cache.h"

namespace mlxn {

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
  s.offset_array = s.uniform ? mx::array(&offsets_[0], {1}, mx::int32)
                             : mx::array(offsets_.data(), {B}, mx::int32);
  for (auto& g : groups_) grow(g, length, s.end);
  for (const auto& g : groups_) s.views.push_back(view(g, s));
  if (std::any_of(lengths.begin(), lengths.end(), [&](int n) { return n != length; })) {
    std::vector<int> last(B);
    for (int b = 0; b < B; ++b) last[b] = std::max(lengths[b], 1) - 1;
    s.last = mx::array(last.data(), {B, 1, 1}, mx::int32);
  }
  return s;
}

CacheView KVCache::view(const Group& g, CacheStep& s) const {
  CacheView v;
  const int B = batch(), L = s.length, W = g.window, C = g.capacity;
  auto scatter_rows = [&] {
    if (!s.write_rows)
      s.write_rows = mx::broadcast_to(mx::reshape(mx::arange(B, mx::int32), {B, 1}), {B, L});
  };
  if (W > 0 && s.end > C) {
    // A ring past its capacity: position p at slot p % C. Row b's slot j holds the newest
    // p < offset_b + L with that slot (this step's tokens written), and query i at
    // q = offset_b + i sees it when 0 <= p, q - W < p <= q.
    const int first = slot_of(s.offsets[0], C);
    if (s.uniform && first + L <= C) {
      v.slot = first;
    } else {
      scatter_rows();
      std::vector<int32_t> cols(size_t(B) * L);
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < L; ++i) cols[size_t(b) * L + i] = slot_of(s.offsets[b] + i, C);
      v.cols = mx::array(cols.data(), {B, L}, mx::int32);
    }
    auto offsets = s.uniform ? mx::array(s.offsets[0]) : mx::reshape(s.offset_array, {B, 1, 1, 1});
    auto last = mx::add(offsets, mx::array(L - 1));
    auto j = mx::reshape(mx::arange(C, mx::int32), {1, 1, 1, C});
    // last - j + C >= 1, so the remainder is taken of a positive number.
    auto p = mx::subtract(
        last, mx::remainder(mx::add(mx::subtract(last, j), mx::array(C)), mx::array(C)));
    auto q = mx::add(offsets, mx::reshape(mx::arange(L, mx::int32), {1, 1, L, 1}));
    auto visible =
        mx::logical_and(mx::logical_and(mx::greater_equal(p, mx::array(0)), mx::less_equal(p, q)),
                        mx::greater(p, mx::subtract(q, mx::array(W))));
    v.lo = 0, v.hi = C, v.mode = "array";
    v.mask = mx::broadcast_to(visible, {s.uniform ? 1 : B, 1, L, C});
    return v;
  }
  // Linear: position p at slot p.
  if (s.uniform) {
    v.slot = s.offsets[0];
  } else {
    scatter_rows();
    v.cols = mx::add(mx::reshape(s.offset_array, {B, 1}), mx::arange(L, mx::int32));
  }
  const int first = *std::min_element(s.offsets.begin(), s.offsets.end());
  v.lo = W > 0 ? std::max(0, first - W + 1) : 0;  // older positions are outside every window
  v.hi = s.end;
  const bool window_cuts = W > 0 && !(L == 1 || (v.lo == 0 && s.end <= W));
  if (s.uniform && !window_cuts) {
    v.mode = L > 1 ? "causal" : "";  // every query sees [lo, end) up to its own position
    return v;
  }
  // Row b's query i (at offset_b + i) sees slots j <= offset_b + i, and within a window only
  // the W - 1 before it.
  const int n = v.hi - v.lo;
  auto offsets = s.uniform ? mx::array(s.offsets[0]) : mx::reshape(s.offset_array, {B, 1, 1});
  auto pos = mx::add(offsets, mx::reshape(mx::arange(L, mx::int32), {1, L, 1}));
  auto cols = mx::reshape(mx::arange(v.lo, v.hi, mx::int32), {1, 1, n});
  auto visible = mx::less_equal(cols, pos);
  if (W > 0) visible = mx::logical_and(visible, mx::greater(cols, mx::subtract(pos, mx::array(W))));
  v.mask = mx::reshape(visible, {s.uniform ? 1 : B, 1, L, n});
  v.mode = "array";
  return v;
}

KVRead KVCache::update(int layer, const mx::array& k, const mx::array& v, const CacheStep& s) {
  const CacheView& view = s.views[group_of_[layer]];
  const int B = batch(), L = s.length;
  auto write = [&](mx::array& buf, const mx::array& x) {
    auto xs = mx::astype(x, dtype_);
    if (view.slot >= 0) {
      buf = mx::slice_update(buf, xs, mx::Shape{0, 0, view.slot, 0},
                             mx::Shape{B, kv_heads_, view.slot + L, head_dim_});
    } else {
      // [B, H, L, D] → updates shaped [B, L] (the indices) + [1, H, 1, D] (one slice).
      auto upd = mx::reshape(mx::transpose(xs, {0, 2, 1, 3}), {B, L, 1, kv_heads_, 1, head_dim_});
      buf = mx::scatter(buf, {*s.write_rows, *view.cols}, upd, {0, 2});
    }
  };
  write(keys_[layer], k);
  write(values_[layer], v);
  mx::Shape start{0, 0, view.lo, 0}, stop{B, kv_heads_, view.hi, head_dim_};
  return KVRead{mx::slice(keys_[layer], start, stop), mx::slice(values_[layer], start, stop),
                view.mode, view.mask};
}

}  // namespace mlxn
