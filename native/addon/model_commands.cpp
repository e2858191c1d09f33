// EngineWrap methods for models: load, generate, and small model commands.
#include "engine/device.h"
#include "engine/errors.h"
#include "engine_wrap.h"
#include "errors.h"
#include "requests.h"

namespace mlxn {

namespace {

Scheduler& scheduler_of(Engine& engine) {
  auto* s = dynamic_cast<Scheduler*>(engine.worker());
  if (!s) throw EngineError("DISPOSED", "[model] no model is loaded");
  return *s;
}

}  // namespace

Napi::Value EngineWrap::load_model(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsObject()) throw_js(info.Env(), "INVALID_ARGUMENT", "loadModel(id, spec)");
  auto obj = info[1].As<Napi::Object>();
  ModelSpec spec = to_model_spec(obj);
  SchedulerOptions options = to_scheduler_options(obj);
  post(info, id, [id, spec = std::move(spec), options](Engine& engine) {
    if (engine.worker())
      throw EngineError("INVALID_ARGUMENT", "[load] this engine already has a model");
    auto model = Model::load(spec, [&](double p) {
      Event e;
      e.id = id;
      e.type = Event::Type::Progress;
      e.progress = p;
      engine.sink().push(std::move(e));
    });
    Event e;
    e.id = id;
    e.type = Event::Type::Result;
    e.set("parameterCount", model->parameter_count());
    e.set("weightBytes", double(model->weight_bytes()));
    e.set("quantization", model->quantization());
    e.set("dtype", dtype_name(model->dtype()));
    e.set("kvBytesPerToken", double(model->kv_bytes_per_token()));
    e.set("streams", double(model->streams()));
    describe_device(e);
    engine.set_worker(std::make_unique<Scheduler>(engine, std::move(model), options));
    engine.sink().push(std::move(e));
  });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::generate(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsObject()) throw_js(info.Env(), "INVALID_ARGUMENT", "generate(id, request)");
  GenerateRequest req = to_generate_request(info[1].As<Napi::Object>(), id);
  post(info, id, [req = std::move(req)](Engine& engine) mutable {
    scheduler_of(engine).submit(std::move(req));
  });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::model_command(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsString()) throw_js(info.Env(), "INVALID_ARGUMENT", "modelCommand(id, name)");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (name != "stats" && name != "clearPrefixCache")
    throw_js(info.Env(), "INVALID_ARGUMENT", "unknown model command " + name);
  post(info, id, [id, name](Engine& engine) {
    Scheduler& s = scheduler_of(engine);
    if (name == "clearPrefixCache") s.clear_prefix_cache();
    Event e;
    e.id = id;
    e.type = Event::Type::Result;
    s.describe(e);
    engine.sink().push(std::move(e));
  });
  return info.Env().Undefined();
}

}  // namespace mlxn
