// Delivers engine events to JS through one ThreadSafeFunction. Events queue here and one pending
// call drains all of them, so a slow event loop gets many events per call, never one call each.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <vector>

#include "engine/event.h"

namespace mlxn {

class JsEventSink : public EventSink {
 public:
  // `callback(events)` runs on the JS thread with an array of plain objects.
  static std::shared_ptr<JsEventSink> create(Napi::Env env, Napi::Function callback);

  void push(Event&& event) override;
  void ref(Napi::Env env) { tsfn_.Ref(env); }
  void unref(Napi::Env env) { tsfn_.Unref(env); }
  // JS thread. After this no callback runs; queued events are dropped.
  void release();

 private:
  static void call_js(Napi::Env env, Napi::Function callback, std::shared_ptr<JsEventSink>* self,
                      std::nullptr_t* data);
  void deliver(Napi::Env env, Napi::Function callback);

  using Tsfn = Napi::TypedThreadSafeFunction<std::shared_ptr<JsEventSink>, std::nullptr_t,
                                             &JsEventSink::call_js>;
  Tsfn tsfn_;
  std::mutex mutex_;
  std::vector<Event> queue_;
  bool call_pending_ = false;
  bool released_ = false;
};

}  // namespace mlxn
