// Key/value cache for a batch of sequences: per layer one [B, kv_heads, capacity, head_dim]
// buffer for keys and one for values, row b holding sequence b's positions.
//
// Layers are grouped by their attention window (0: global). A global group keeps every position
// p at slot p and grows in kStep slots. A sliding-window group is a ring: position p lives at
// slot p % capacity, and the capacity stops growing at window - 1 + L (L: the longest step
// seen), so its memory is bounded by the window, not by the sequence. Until a row's positions
// pass the capacity both layouts are the same.
//
// Rows may have different offsets (ragged): each forward writes every row at its own slots in
// one slice_update (offsets equal, no wrap) or one scatter, and attention masks each row to the
// positions it may see. Buffers are written in place (the cache holds the only reference to each
// buffer, so MLX can donate it).
#pragma once

#include <mlx/mlx.h>

#include <optional>
#include <string>
#include <vector>

namespace mlxn {

namespace mx = mlx::core;

// The slot of position p (any integer) in a ring of `capacity` slots: p mod capacity, >= 0.
inline int slot_of(int p, int capacity) {
  return ((p % capacity) + capacity) % capacity;
}

// Where one group of layers writes and reads during a step.
struct CacheView {
  int slot = -1;                  // every row writes slots [slot, slot + L); -1: scatter at cols
  std::optional<mx::array> cols;  // int32 [B, L]: the slot of each row's token i
  int lo = 0, hi = 0;             // attention reads slots [lo, hi)
  std::string mode;               // scaled_dot_product_attention's mask mode: "", "causal", "array"
  std::optional<mx::array> mask;  // bool [B|1, 1, L, hi - lo] when mode == "array"
};

// Where one forward pass of L tokens per row reads and writes: made once per forward by
// KVCache::begin and shared by every layer.
struct CacheStep {
  int length = 0;                       // L, tokens per row (rows may be padded to it)
  std::vector<int> offsets;             // each row's offset before this step
  std::vector<int> lengths;             // real tokens per row (<= L)
  bool uniform = true;                  // every row at the same offset
  int end = 0;                          // max(offset) + L
  mx::array offset_array{0};            // int32 rope offsets: [B], or [1] when uniform
  std::optional<mx::array> write_rows;  // int32 [B, L] row indices, when a group scatters
  std::vector<CacheView> views;         // per layer group
  std::optional<mx::array> last;  // int32 [B, 1, 1]: each row's last real position, when ragged
};

// What attention reads for one layer: keys and values [B, kv_heads, hi - lo, head_dim] and the
// mask that goes with them.
struct KVRead {
  mx::array keys, values;
  const std::string& mode;
  const std::optional<mx::array>& mask;
};

class KVCache {
 public:
  static constexpr int kStep = 256;

  // `windows`: per layer, the sliding-window size or 0 for global attention (empty: all global).
  KVCache(int num_layers, int kv_heads, int head_dim, mx::Dtype dtype, int batch = 1,
          const std::vector<int>& windows = {});

  int batch() const { return int(offsets_.size()); }
  const std::vector<int>& offsets() const { return offsets_; }
  int offset(int row = 0) const { return offsets_[row]; }

  // Prepares a forward of `length` tokens per row, `lengths` of them real (empty: all real).
  // Grows the buffers when needed.
  CacheStep begin(int length, std::vector<int> lengths = {});
  // Writes k, v ([B, kv_heads, L, head_dim]) of `layer` and returns what attention reads.
  KVRead update(int layer, const mx::array& k, const mx::array& v, const CacheStep& step);
  // Moves each row's offset past its real tokens, once every layer is written.
  void commit(const CacheStep& step);

  // Rows: `append` adds other's rows after these (copying both into new buffers); `keep` drops
  // every row not listed; `row` copies the first n positions of one row into a new 1-row cache,
  // or nullopt when a sliding-window ring no longer holds the window before position n.
  void append(const KVCache& other);
  void keep(const std::vector<int>& rows);
  std::optional<KVCache> row(int b, int n) const;
  // A 1-row cache's first n positions (prefix reuse).
  std::optional<KVCache> prefix(int n) const { return row(0, n); }
  // Whether row(b, n) can be made: every sliding-window ring of row b still holds the window
  // before position n.
  bool holds(int b, int n) const;

  // Arrays to evaluate after a prefill chunk.
  std::vector<mx::array> state() const;
  size_t nbytes() const;
  // Bytes one row of `tokens` positions needs, when no step is longer than `max_step`.
  size_t bytes_for(int tokens, int max_step) const;

 private:
  struct Group {
    int window = 0;    // 0: global
    int capacity = 0;  // slots per row
    std::vector<int> layers;
  };

  CacheView view(const Group& g, CacheStep& s) const;  // s: adds write_rows when needed
  void grow(Group& g, int length, int end);
  // Re-lays group g out at `capacity` slots (>= its current one), keeping each row's positions.
  void resize(Group& g, int capacity);
  bool wrapped(const Group& g) const;

  int kv_heads_, head_dim_;
  mx::Dtype dtype_;
  std::vector<int> offsets_;
  std::vector<Group> groups_;
  std::vector<int> group_of_;  // per layer
  std::vector<mx::array> keys_, values_;
};

}  // namespace mlxn
