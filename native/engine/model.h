// What every model family implements, and how a model is loaded.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kv_cache.h"
#include "layers.h"

namespace mlxn {

// Where a model's weights and configuration are. The configuration is the model's own
// config.json text (for GGUF files, the one src/engine/gguf.ts derives from the metadata);
// each family parses what it needs from it.
struct ModelSpec {
  std::string format;              // "gguf" | "mlx"
  std::vector<std::string> files;  // weight files
  std::string config_json;
  std::string dtype;       // compute dtype: "" = the device policy's (device.h)
  int context_length = 0;  // overrides the config's when > 0
  int cpu_streams = 0;     // CPU backend: streams the matmuls are split over; 0 = auto
};

// What a loaded model reports about itself.
struct ModelInfo {
  std::string family;  // the registry name the config's model_type resolved to
  std::string model_type;
  int vocab_size = 0, context_length = 0, num_layers = 0, hidden_size = 0;
  size_t weight_bytes = 0;
  double parameters = 0;
  std::string quantization;  // "4-bit g64", "float16 (mixed)", ...
  mx::Dtype dtype = mx::float32;
  int streams = 1;  // streams the matmuls are split over
  size_t kv_bytes_per_token = 0;
};

using Progress = std::function<void(double)>;

class Model {
 public:
  virtual ~Model() = default;

  // tokens: [B, L] int32, row b continuing cache row b (cache.batch() == B) at its own offset.
  // `lengths`: real tokens per row when rows are right-padded to L (empty: all L). Returns the
  // float32 logits of each row's last real token, [B, vocab], and advances the cache rows.
  virtual mx::array forward(const mx::array& tokens, KVCache& cache,
                            std::vector<int> lengths = {}) const = 0;
  // Same inputs as forward(); returns the hidden states after the final norm at every position,
  // float32 [B, L, hidden] (padding positions included: the caller masks them). For embeddings.
  virtual mx::array hidden(const mx::array& tokens, KVCache& cache,
                           std::vector<int> lengths = {}) const = 0;
  // An empty cache of `batch` rows laid out for this model.
  virtual KVCache make_cache(int batch = 1) const = 0;

  const ModelInfo& info() const { return info_; }

 protected:
  ModelInfo info_;  // filled by the family; load_model adds the origin fields

  friend std::unique_ptr<Model> load_model(const ModelSpec& spec, const Progress& progress);
};

// What a family's loader gets: the parsed config, the weights with Hugging Face names (it takes
// what it uses out of the map), and the compute dtype.
struct LoadContext {
  const ModelSpec& spec;
  const Json& config;
  WeightMap& weights;
  mx::Dtype dtype;
  Progress progress;  // fractions in [0.1, 1] while weights are evaluated
};

// Loads and evaluates every weight on the calling thread (the engine thread). Throws
// EngineError: MODEL_NOT_FOUND, INVALID_MODEL, UNSUPPORTED_ARCHITECTURE, UNSUPPORTED_QUANTIZATION.
std::unique_ptr<Model> load_model(const ModelSpec& spec, const Progress& progress);

// Evaluates weight groups one after the other (a layer each), so loading reports progress and
// peak memory stays low.
void evaluate_weights(const std::vector<std::vector<mx::array>>& groups, const Progress& progress);

// Reads the weight files of `spec` into one map with Hugging Face names.
WeightMap load_weight_files(const ModelSpec& spec);
// Reads a GGUF file with mlx-native's own reader (gguf_file.h, gguf_quants.h): Hugging Face
// names, quantized types as MLX affine triples (.weight/.scales/.biases).
WeightMap load_gguf_weights(const std::string& path);
// Hugging Face name of a GGUF tensor of architecture `arch` (general.architecture), or "" for
// tensors the families do not use.
std::string hf_name(const std::string& gguf, const std::string& arch = "");

}  // namespace mlxn
