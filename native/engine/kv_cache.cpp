#include "kv_cache.h"

namespace mlxn {

KVCache::KVCache(int num_layers, int kv_heads, int head_dim, mx::Dtype dtype)
    : kv_heads_(kv_heads), head_dim_(head_dim), dtype_(dtype) {
  keys_.assign(num_layers, mx::array(0.0f));
  values_.assign(num_layers, mx::array(0.0f));
}

void KVCache::grow(int needed) {
  int new_capacity = ((needed + kStep - 1) / kStep) * kStep;
  mx::Shape shape{1, kv_heads_, new_capacity - capacity_, head_dim_};
  for (size_t l = 0; l < keys_.size(); ++l) {
    auto zk = mx::zeros(shape, dtype_);
    auto zv = mx::zeros(shape, dtype_);
    if (capacity_ == 0) {
      keys_[l] = zk;
      values_[l] = zv;
    } else {
      keys_[l] = mx::concatenate({keys_[l], zk}, 2);
      values_[l] = mx::concatenate({values_[l], zv}, 2);
    }
  }
  capacity_ = new_capacity;
}

std::pair<mx::array, mx::array> KVCache::update(int layer, const mx::array& k, const mx::array& v) {
  int n = k.shape(2);
  if (layer == 0 && offset_ + n > capacity_) grow(offset_ + n);
  mx::Shape start{0, 0, offset_, 0};
  mx::Shape stop{1, kv_heads_, offset_ + n, head_dim_};
  keys_[layer] = mx::slice_update(keys_[layer], mx::astype(k, dtype_), start, stop);
  values_[layer] = mx::slice_update(values_[layer], mx::astype(v, dtype_), start, stop);
  mx::Shape end{1, kv_heads_, offset_ + n, head_dim_};
  return {mx::slice(keys_[layer], {0, 0, 0, 0}, end), mx::slice(values_[layer], {0, 0, 0, 0}, end)};
}

KVCache KVCache::prefix(int n) const {
  KVCache out(static_cast<int>(keys_.size()), kv_heads_, head_dim_, dtype_);
  if (n <= 0) return out;
  out.grow(n);
  mx::Shape end{1, kv_heads_, n, head_dim_};
  for (size_t l = 0; l < keys_.size(); ++l) {
    out.keys_[l] =
        mx::slice_update(out.keys_[l], mx::slice(keys_[l], {0, 0, 0, 0}, end), {0, 0, 0, 0}, end);
    out.values_[l] = mx::slice_update(out.values_[l], mx::slice(values_[l], {0, 0, 0, 0}, end),
                                      {0, 0, 0, 0}, end);
  }
  out.offset_ = n;
  return out;
}

std::vector<mx::array> KVCache::state() const {
  std::vector<mx::array> out(keys_.begin(), keys_.end());
  out.insert(out.end(), values_.begin(), values_.end());
  return out;
}

size_t KVCache::nbytes() const {
  return size_t(2) * keys_.size() * kv_heads_ * head_dim_ * capacity_ * mx::size_of(dtype_);
}

}  // namespace mlxn
