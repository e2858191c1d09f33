// Per-sequence key/value cache. Grows in fixed steps and is written in place with slice_update
// (the cache holds the only reference to each buffer, so MLX can donate it).
#pragma once

#include <mlx/mlx.h>

#include <vector>

namespace mlxn {

namespace mx = mlx::core;

class KVCache {
 public:
  static constexpr int kStep = 256;

  KVCache(int num_layers, int kv_heads, int head_dim, mx::Dtype dtype);

  // Appends k, v ([1, kv_heads, L, head_dim]) for `layer` at the current offset and returns the
  // keys and values up to offset + L. `advance` moves the offset once all layers are written.
  std::pair<mx::array, mx::array> update(int layer, const mx::array& k, const mx::array& v);
  void advance(int n) { offset_ += n; }
  int offset() const { return offset_; }

  // Copies the first n positions into a new cache (prefix reuse).
  KVCache prefix(int n) const;
  // Arrays to evaluate after a prefill chunk.
  std::vector<mx::array> state() const;
  size_t nbytes() const;
  int capacity() const { return capacity_; }

 private:
  void grow(int needed);

  int kv_heads_, head_dim_;
  mx::Dtype dtype_;
  int offset_ = 0, capacity_ = 0;
  std::vector<mx::array> keys_, values_;
};

}  // namespace mlxn
