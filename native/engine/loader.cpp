// load_model: config.json → family → weights → a Model.
#include "device.h"
#include "errors.h"
#include "kv_cache.h"
#include "model.h"
#include "models/registry.h"

namespace mlxn {

void evaluate_weights(const std::vector<std::vector<mx::array>>& groups, const Progress& progress) {
  for (size_t i = 0; i < groups.size(); ++i) {
    mx::eval(groups[i]);
    progress(0.1 + 0.9 * double(i + 1) / double(groups.size()));
  }
}

std::unique_ptr<Model> load_model(const ModelSpec& spec, const Progress& progress) {
  std::unique_ptr<Model> model;
  std::string family, model_type;
  int context = 0;
  try {
    const Json config = parse_config(spec.config_json);
    auto type = config.find("model_type");
    if (type == config.end() || !type->is_string())
      throw EngineError("INVALID_MODEL", "[load] config.json has no model_type");
    model_type = type->get<std::string>();
    const Family* f = find_family(model_type);
    if (!f) {
      std::string names;
      for (const auto& t : supported_model_types()) names += (names.empty() ? "" : ", ") + t;
      throw EngineError(
          "UNSUPPORTED_ARCHITECTURE",
          "[load] unsupported architecture \"" + model_type + "\" (supported: " + names + ")");
    }
    family = f->name;
    context = spec.context_length > 0 ? spec.context_length
                                      : config_int(config, "max_position_embeddings", 4096);
    WeightMap weights = load_weight_files(spec);
    progress(0.1);
    LoadContext ctx{spec, config, weights, compute_dtype(spec.dtype), progress};
    model = f->load(ctx);
  } catch (const Json::exception& e) {
    throw EngineError("INVALID_MODEL", std::string("[load] config.json: ") + e.what());
  }
  model->info_.family = family;
  model->info_.model_type = model_type;
  model->info_.context_length = context;
  // MLX compiles custom CUDA kernels (the engine's, cuda/) with NVRTC in every process, seconds
  // each: one batch-1 decode step here compiles those a step uses, so no request waits for them.
  if (backend_name() == "cuda") {
    KVCache cache = model->make_cache(1);
    mx::eval(model->forward(mx::array({0}, {1, 1}, mx::int32), cache));
  }
  mx::clear_cache();
  return model;
}

}  // namespace mlxn
