// EngineWrap methods for models: load, generate, embed, and small model commands.
#include "engine/errors.h"
#include "engine/scheduler.h"
#include "engine_wrap.h"
#include "errors.h"
#include "requests.h"

namespace mlxn {

Napi::Value EngineWrap::load_model(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsObject()) throw_js(info.Env(), "INVALID_ARGUMENT", "loadModel(id, spec)");
  auto obj = info[1].As<Napi::Object>();
  ModelSpec spec = to_model_spec(obj);
  SchedulerOptions options = to_scheduler_options(obj);
  post(info, id, [id, spec = std::move(spec), options](Engine& engine) {
    engine.emit(id, engine.load_model(id, spec, options));
  });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::generate(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsObject()) throw_js(info.Env(), "INVALID_ARGUMENT", "generate(id, request)");
  GenerateRequest req = to_generate_request(info[1].As<Napi::Object>(), id, vocab_);
  post(info, id, [req = std::move(req)](Engine& engine) mutable {
    engine.scheduler().submit(std::move(req));
  });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::embed(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsObject()) throw_js(info.Env(), "INVALID_ARGUMENT", "embed(id, request)");
  EmbedRequest req = to_embed_request(info[1].As<Napi::Object>(), id);
  post(info, id, [req = std::move(req)](Engine& engine) mutable {
    engine.scheduler().submit_embed(std::move(req));
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
    Scheduler& s = engine.scheduler();
    if (name == "clearPrefixCache") s.clear_prefix_cache();
    engine.emit(id, s.stats());
  });
  return info.Env().Undefined();
}

}  // namespace mlxn
