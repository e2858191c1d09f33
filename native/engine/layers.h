// Shared building blocks of every model family: plain or quantized linear layers, embeddings,
// rotary embeddings, and the weight bookkeeping a loader needs.
#pragma once

#include <mlx/mlx.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "config.h"
#include "cuda/qmv_kernel.h"
#include "cuda/qmv_policy.h"
#include "device.h"

namespace mlxn {

namespace mx = mlx::core;
using WeightMap = std::unordered_map<std::string, mx::array>;

// How a quantized weight is packed: MLX's affine mode (scales and biases in the compute dtype)
// or a microscaling float mode ("mxfp4", "nvfp4", "mxfp8": uint8 scales, no biases).
struct QuantFormat {
  int bits = 0, group_size = 0;
  std::string mode = "affine";
  // "4-bit g64", or the mode's name for the float modes.
  std::string label() const;
};

// Reads the format off the shapes and dtypes of a packed weight ([..., out, in * bits / 32]
// uint32) and its scales ([..., out, in / group]), as mlx-lm does: affine keeps its scales in a
// float dtype; each float mode allows one (bits, group) pair. UNSUPPORTED_QUANTIZATION otherwise.
QuantFormat read_quant_format(const mx::array& weight, const mx::array& scales, bool has_biases,
                              int in_dims, const std::string& name);

// y = x @ Wᵀ (+ bias). Quantized weights (packed uint32 + scales (+ biases)) use quantized_matmul,
// or on CUDA at decode sizes (affine only) the engine's own kernel where it was faster
// (cuda/qmv_policy.h).
struct Linear {
  mx::array weight = mx::array(0.0f);
  std::optional<mx::array> scales, biases, bias;
  int bits = 0, group_size = 0;   // 0 bits: not quantized
  std::string mode = "affine";    // quantization mode
  mx::Dtype dtype = mx::float32;  // compute dtype
  int in_dims = 0, out_dims = 0;

  // Takes `prefix.weight` (and .scales/.biases/.bias) out of `weights`. Quantization parameters
  // are read off the shapes, so per-layer overrides need no configuration.
  static Linear take(WeightMap& weights, const std::string& prefix, int in_dims, mx::Dtype dtype);
  // Concatenates layers along the output dimension (fused Q/K/V or gate/up), when compatible.
  static std::optional<Linear> fuse(const std::vector<const Linear*>& parts);

  mx::array operator()(const mx::array& x) const;
  // The decode kernel with `fusion`'s steps (qmv_kernel.h), where the kernel computes this layer
  // for x's rows (qmv_policy.h) and takes the fusion; nullopt where it does not (the caller then
  // composes the MLX operations).
  std::optional<mx::array> fused(const mx::array& x, const qmv::Fusion& fusion) const;
  bool quantized() const { return bits > 0; }
  size_t nbytes() const;
  // The arrays this layer holds (to evaluate them).
  std::vector<mx::array> arrays() const;

  // Times the decode kernel against quantized_matmul for this layer's shape (once per shape and
  // process; only on CUDA in auto mode). Called at load, after the weights are evaluated.
  void tune_decode_kernel() const;

  // Splits the output rows into one shard per stream; each shard's matmul then runs on its own
  // stream (on the CPU backend each stream has its own thread). Shards share the weights' memory.
  void shard(const std::vector<mx::Stream>& streams);

 private:
  mx::array apply(const mx::array& x, mx::StreamOrDevice s) const;
  // Whether the decode kernel computes this layer for x's rows (qmv_policy.h).
  bool decode_kernel_runs(const mx::array& x) const;
  // quantized_matmul on x as it comes, 2 to n-1 rows padded to quantized_matmul_min_rows().
  mx::array quantized_matmul_rows(const mx::array& x, mx::StreamOrDevice s) const;
  qmv::Format format() const;
  struct Shard;
  std::vector<std::shared_ptr<const Shard>> shards_;
};

// Token embedding; `as_linear` reuses it as the output head (tied embeddings).
struct Embedding {
  Linear table;
  mx::array operator()(const mx::array& ids) const;
  mx::array as_linear(const mx::array& x) const { return table(x); }
};

struct CacheStep;

// Places a loaded model's linear layers, after its weights are evaluated: shards each over the
// CPU matmul streams `lease` holds (when there are any) and, on CUDA in auto mode, picks the
// decode kernel per shape. `each` calls its argument on every linear layer, the output head
// included. Returns the number of streams a matmul runs on (ModelInfo::streams).
int place_linears(const StreamLease& lease,
                  const std::function<void(const std::function<void(Linear&)>&)>& each);

// Rotary position embedding with the model's scaling; each row at its own offset. Rotates the
// first `dims` features of each head (all of them unless the model uses partial rotary); 0 dims
// leaves x as it is (layers without position embedding).
struct Rope {
  int dims = 0;
  bool traditional = false;
  std::optional<float> base;       // absent when freqs are given
  float scale = 1.0f;              // linear scaling
  std::optional<mx::array> freqs;  // llama3, YaRN and LongRoPE scaling
  float input_scale = 1.0f;        // YaRN / LongRoPE: the rotated features are scaled first

  static Rope from(const RopeConfig& config, int dims);
  mx::array operator()(const mx::array& x, const CacheStep& step) const;  // x: [B, H, L, D]
};

// Takes a 1-D weight (a norm's scale) out of `weights`, cast to `dtype`.
mx::array take_vector(WeightMap& weights, const std::string& name, mx::Dtype dtype);

// Bytes, parameters and formats of the weights a model holds (for ModelInfo).
struct WeightStats {
  size_t bytes = 0;
  double parameters = 0;
  std::map<std::string, int> formats;  // "4-bit g32" / "float16" → layers

  void add(const Linear& l);
  void add(const mx::array& vector);
  // The most common format, with " (mixed)" when there are several.
  std::string summary() const;
};

mx::Dtype parse_dtype(const std::string& name);
std::string dtype_name(mx::Dtype dtype);

}  // namespace mlxn
