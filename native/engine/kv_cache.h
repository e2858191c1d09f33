// Key/value cache for a batch of sequences: per layer one [B, kv_heads, capacity, head_dim]
// buffer for keys and one for values, row b holding sequence b's positions [0, offset_b).
// Rows may have different offsets (ragged): each forward writes every row at its own offset in
// one slice_update (offsets equal) or one scatter (offsets differ), and attention masks each row
// to its own length. The buffers grow in kStep slots and are written in place (the cache holds
// the only reference to each buffer, so MLX can donate it).
#pragma once

#include <mlx/mlx.h>

#include <optional>
#include <string>
#include <vector>

namespace mlxn {

namespace mx = mlx::core;

// Where one forward pass of L tokens per row reads and writes: made once per forward by
// KVCache::begin and shared by every layer.
struct CacheStep {
  int length = 0;                                   // L, tokens per row (rows may be padded to it)
  std::vector<int> offsets;                         // each row's offset before this step
  std::vector<int> lengths;                         // real tokens per row (<= L)
  bool uniform = true;                              // every row at the same offset
  int end = 0;                                      // positions attention reads: max(offset) + L
  mx::array offset_array{0};                        // int32 [B]: rope offsets when not uniform
  std::string mask_mode;                            // "", "causal" or "array"
  std::optional<mx::array> mask;                    // bool [B, 1, L, end] when mask_mode == "array"
  std::optional<mx::array> write_rows, write_cols;  // scatter indices when not uniform
  std::optional<mx::array> last;  // int32 [B, 1, 1]: each row's last real position, when ragged
};

class KVCache {
 public:
  static constexpr int kStep = 256;

  KVCache(int num_layers, int kv_heads, int head_dim, mx::Dtype dtype, int batch = 1);

  int batch() const { return int(offsets_.size()); }
  const std::vector<int>& offsets() const { return offsets_; }
  int offset(int row = 0) const { return offsets_[row]; }

  // Prepares a forward of `length` tokens per row, `lengths` of them real (empty: all real).
  // Grows the buffers when needed.
  CacheStep begin(int length, std::vector<int> lengths = {});
  // Writes k, v ([B, kv_heads, L, head_dim]) of `layer` and returns the keys and values
  // attention reads ([B, kv_heads, step.end, head_dim]).
  std::pair<mx::array, mx::array> update(int layer, const mx::array& k, const mx::array& v,
                                         const CacheStep& step);
  // Moves each row's offset past its real tokens, once every layer is written.
  void commit(const CacheStep& step);

  // Rows: `append` adds other's rows after these (copying both into new buffers); `keep` drops
  // every row not listed; `row` copies the first n positions of one row into a new 1-row cache.
  void append(const KVCache& other);
  void keep(const std::vector<int>& rows);
  KVCache row(int b, int n) const;
  // A 1-row cache's first n positions (prefix reuse).
  KVCache prefix(int n) const { return row(0, n); }

  // Arrays to evaluate after a prefill chunk.
  std::vector<mx::array> state() const;
  size_t nbytes() const;
  int capacity() const { return capacity_; }

 private:
  void grow(int needed);
  void resize_rows(int capacity);

  int kv_heads_, head_dim_;
  mx::Dtype dtype_;
  int capacity_ = 0;
  std::vector<int> offsets_;
  std::vector<mx::array> keys_, values_;
};

}  // namespace mlxn
