// JS class `Engine`: owns one engine thread. Every method only converts arguments to plain C++
// structs and enqueues them; results come back as events through the JsEventSink.
#pragma once

#include <napi.h>

#include <memory>

#include "engine/engine.h"
#include "engine/grammar.h"
#include "event_sink.h"

namespace mlxn {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

  // Stops and joins the engine thread, then releases the event sink. Idempotent.
  void close();

 private:
  Napi::Value device_info(const Napi::CallbackInfo& info);
  Napi::Value quantized_matmul(const Napi::CallbackInfo& info);
  Napi::Value busy(const Napi::CallbackInfo& info);
  Napi::Value convert_gguf(const Napi::CallbackInfo& info);
  Napi::Value load_model(const Napi::CallbackInfo& info);
  Napi::Value generate(const Napi::CallbackInfo& info);
  Napi::Value embed(const Napi::CallbackInfo& info);
  Napi::Value model_command(const Napi::CallbackInfo& info);
  Napi::Value set_grammar_vocab(const Napi::CallbackInfo& info);
  Napi::Value compile_grammar(const Napi::CallbackInfo& info);
  Napi::Value cancel(const Napi::CallbackInfo& info);
  Napi::Value ref(const Napi::CallbackInfo& info);
  Napi::Value unref(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  void post(const Napi::CallbackInfo& info, uint64_t id, Engine::Task task);

  std::shared_ptr<JsEventSink> sink_;
  std::unique_ptr<Engine> engine_;
  // The loaded model's vocabulary for grammars (set once by the host, on the JS thread).
  std::shared_ptr<const GrammarVocab> vocab_;
};

}  // namespace mlxn
