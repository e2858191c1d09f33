#include "engine_wrap.h"

#include "addon_state.h"
#include "engine/compute.h"
#include "engine/convert.h"
#include "engine/device.h"
#include "errors.h"

namespace mlxn {

namespace {

std::vector<float> float_array(const Napi::Object& obj, const char* key) {
  auto v = obj.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw_js(obj.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a Float32Array");
  }
  auto arr = v.As<Napi::Float32Array>();
  return std::vector<float>(arr.Data(), arr.Data() + arr.ElementLength());
}

}  // namespace

Napi::Function EngineWrap::define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceMethod<&EngineWrap::device_info>("deviceInfo"),
                         InstanceMethod<&EngineWrap::quantized_matmul>("quantizedMatmul"),
                         InstanceMethod<&EngineWrap::busy>("busy"),
                         InstanceMethod<&EngineWrap::convert_gguf>("convertGguf"),
                         InstanceMethod<&EngineWrap::load_model>("loadModel"),
                         InstanceMethod<&EngineWrap::generate>("generate"),
                         InstanceMethod<&EngineWrap::embed>("embed"),
                         InstanceMethod<&EngineWrap::model_command>("modelCommand"),
                         InstanceMethod<&EngineWrap::set_grammar_vocab>("setGrammarVocab"),
                         InstanceMethod<&EngineWrap::compile_grammar>("compileGrammar"),
                         InstanceMethod<&EngineWrap::cancel>("cancel"),
                         InstanceMethod<&EngineWrap::ref>("ref"),
                         InstanceMethod<&EngineWrap::unref>("unref"),
                         InstanceMethod<&EngineWrap::dispose>("dispose"),
                     });
}

EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  if (!info[0].IsFunction())
    throw_js(info.Env(), "INVALID_ARGUMENT", "Engine(onEvents): onEvents must be a function");
  sink_ = JsEventSink::create(info.Env(), info[0].As<Napi::Function>());
  engine_ = std::make_unique<Engine>(sink_);
  AddonState::get(info.Env()).engines.insert(this);
}

EngineWrap::~EngineWrap() {
  // Garbage-collected while work may be running: join first, so no event follows the release.
  close();
  // Env may already be torn down when the finalizer runs at exit; the set is gone with it then.
}

void EngineWrap::close() {
  if (engine_) {
    engine_->shutdown();
    engine_.reset();
  }
  if (sink_) {
    sink_->release();
    sink_.reset();
    AddonState::get(Env()).engines.erase(this);
  }
}

void EngineWrap::post(const Napi::CallbackInfo& info, uint64_t id, Engine::Task task) {
  if (!engine_ || !engine_->post(id, std::move(task))) {
    throw_js(info.Env(), "DISPOSED", "[engine] the engine was disposed");
  }
}

Napi::Value EngineWrap::device_info(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  post(info, id, [id](Engine& engine) {
    engine.emit(id, DeviceEvent{mlxn::device_info(), memory_info()});
  });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::quantized_matmul(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsObject())
    throw_js(info.Env(), "INVALID_ARGUMENT", "quantizedMatmul: options must be an object");
  auto opts = info[1].As<Napi::Object>();
  QuantizedMatmulRequest req;
  req.m = arg_int(opts, "m", 0);
  req.n = arg_int(opts, "n", 0);
  req.k = arg_int(opts, "k", 0);
  req.bits = arg_int(opts, "bits", 4);
  req.group_size = arg_int(opts, "groupSize", 64);
  req.x = float_array(opts, "x");
  req.w = float_array(opts, "w");
  post(info, id, [id, req = std::move(req)](Engine& engine) {
    engine.emit(id, mlxn::quantized_matmul(req));
  });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::busy(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsNumber() || !info[2].IsNumber())
    throw_js(info.Env(), "INVALID_ARGUMENT", "busy(id, n, iterations)");
  int n = info[1].As<Napi::Number>().Int32Value();
  int iterations = info[2].As<Napi::Number>().Int32Value();
  post(info, id, [id, n, iterations](Engine& engine) {
    engine.emit(id, busy_matmul(n, iterations, [&engine] { return engine.stopping(); }));
  });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::convert_gguf(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (!info[1].IsObject()) throw_js(info.Env(), "INVALID_ARGUMENT", "convertGguf(id, options)");
  auto o = info[1].As<Napi::Object>();
  ConvertRequest req;
  auto str = [&](const char* key) {
    auto v = o.Get(key);
    if (!v.IsString())
      throw_js(info.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  };
  req.gguf_file = str("file");
  req.out_file = str("outFile");
  req.dtype = str("dtype");
  req.num_heads = arg_int(o, "numHeads", 0);
  req.num_kv_heads = arg_int(o, "numKvHeads", 0);
  req.unpermute_qk = o.Get("unpermuteQk").ToBoolean().Value();
  post(info, id,
       [id, req = std::move(req)](Engine& engine) { engine.emit(id, mlxn::convert_gguf(req)); });
  return info.Env().Undefined();
}

Napi::Value EngineWrap::cancel(const Napi::CallbackInfo& info) {
  uint64_t id = arg_id(info, 0);
  if (engine_) engine_->cancel(id);
  return info.Env().Undefined();
}

Napi::Value EngineWrap::ref(const Napi::CallbackInfo& info) {
  if (sink_) sink_->ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value EngineWrap::unref(const Napi::CallbackInfo& info) {
  if (sink_) sink_->unref(info.Env());
  return info.Env().Undefined();
}

Napi::Value EngineWrap::dispose(const Napi::CallbackInfo& info) {
  close();
  return info.Env().Undefined();
}

}  // namespace mlxn
