#include "convert.h"

#include <mlx/mlx.h>

#include "errors.h"
#include "layers.h"
#include "model.h"

namespace mx = mlx::core;

namespace mlxn {

namespace {

// llama.cpp stores Q/K rows as (heads, head_dim/2, 2); Hugging Face as (heads, 2, head_dim/2).
mx::array unpermute(const mx::array& a, int heads) {
  auto shape = a.shape();
  mx::Shape split{heads, shape[0] / heads / 2, 2};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return mx::reshape(mx::swapaxes(mx::reshape(a, split), 1, 2), shape);
}

}  // namespace

ConvertedEvent convert_gguf(const ConvertRequest& req) {
  WeightMap loaded;
  try {
    loaded = load_gguf_weights(req.gguf_file);
  } catch (const EngineError&) {
    throw;
  } catch (const std::exception& e) {
    throw EngineError("INVALID_MODEL",
                      std::string("[convert] cannot read ") + req.gguf_file + ": " + e.what());
  }
  const mx::Dtype dtype = parse_dtype(req.dtype.empty() ? "float16" : req.dtype);
  std::unordered_map<std::string, mx::array> weights;
  ConvertedEvent out;
  for (auto& [name, array] : loaded) {
    mx::array a = array;
    if (req.unpermute_qk) {
      if (name.find("self_attn.q_proj.") != std::string::npos) a = unpermute(a, req.num_heads);
      if (name.find("self_attn.k_proj.") != std::string::npos) a = unpermute(a, req.num_kv_heads);
    }
    if (mx::issubdtype(a.dtype(), mx::floating)) a = mx::astype(a, dtype);
    weights.insert_or_assign(name, a);
  }
  // Quantization of each quantized module, read off its shapes (as the loader does).
  for (auto& [name, a] : weights) {
    const std::string suffix = ".scales";
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string module = name.substr(0, name.size() - suffix.size());
    const auto& w = weights.at(module + ".weight");
    int groups_per_row = a.shape(-1);
    // GGUF's quantized types all use groups of 32 values.
    int group = 32, in_dims = groups_per_row * group;
    out.quantized_names.push_back(module);
    out.bits.push_back(w.shape(-1) * 32 / in_dims);
    out.group_sizes.push_back(group);
  }
  try {
    mx::save_safetensors(req.out_file, weights, {{"format", "mlx"}});
  } catch (const std::exception& e) {
    throw EngineError("INVALID_ARGUMENT",
                      std::string("[convert] cannot write ") + req.out_file + ": " + e.what());
  }
  return out;
}

}  // namespace mlxn
