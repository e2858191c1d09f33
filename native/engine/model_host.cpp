// The model host: loading a model and installing its scheduler on an engine, the one way the
// addon and the native tools do it.
#include "device.h"
#include "engine.h"
#include "errors.h"
#include "scheduler.h"

namespace mlxn {

LoadedEvent Engine::load_model(uint64_t id, const ModelSpec& spec,
                               const SchedulerOptions& options) {
  if (scheduler_) throw EngineError("INVALID_ARGUMENT", "[load] this engine already has a model");
  auto model = mlxn::load_model(spec, [&](double p) { emit(id, ProgressEvent{p}); });
  const ModelInfo& m = model->info();
  LoadedEvent e;
  e.family = m.family;
  e.model_type = m.model_type;
  e.quantization = m.quantization;
  e.dtype = dtype_name(m.dtype);
  e.vocab_size = m.vocab_size;
  e.context_length = m.context_length;
  e.num_layers = m.num_layers;
  e.hidden_size = m.hidden_size;
  e.streams = m.streams;
  e.parameters = m.parameters;
  e.weight_bytes = double(m.weight_bytes);
  e.kv_bytes_per_token = double(m.kv_bytes_per_token);
  scheduler_ = std::make_unique<Scheduler>(*this, std::move(model), options);
  e.device = device_info();
  e.memory = memory_info();
  return e;
}

Scheduler& Engine::scheduler() {
  if (!scheduler_) throw EngineError("DISPOSED", "[model] no model is loaded");
  return *scheduler_;
}

}  // namespace mlxn
