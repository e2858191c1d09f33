#include "event_sink.h"

#include "event_js.h"

namespace mlxn {

std::shared_ptr<JsEventSink> JsEventSink::create(Napi::Env env, Napi::Function callback) {
  auto sink = std::make_shared<JsEventSink>();
  // The TSFN's context keeps the sink alive until the TSFN is finalized.
  auto* context = new std::shared_ptr<JsEventSink>(sink);
  sink->tsfn_ = Tsfn::New(env, callback, "mlx-native events", 0, 1, context,
                          [](Napi::Env, void*, std::shared_ptr<JsEventSink>* ctx) { delete ctx; });
  sink->tsfn_.Unref(env);  // never holds the process open by itself; JS refs while work is pending
  return sink;
}

void JsEventSink::push(Event&& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (released_) return;
  queue_.push_back(std::move(event));
  if (!call_pending_) {
    call_pending_ = true;
    if (tsfn_.NonBlockingCall() != napi_ok) call_pending_ = false;
  }
}

void JsEventSink::release() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (released_) return;
    released_ = true;
    queue_.clear();
  }
  tsfn_.Release();
}

void JsEventSink::call_js(Napi::Env env, Napi::Function callback,
                          std::shared_ptr<JsEventSink>* self, std::nullptr_t*) {
  if (env == nullptr || self == nullptr) return;  // tearing down: nothing to deliver to
  (*self)->deliver(env, callback);
}

void JsEventSink::deliver(Napi::Env env, Napi::Function callback) {
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events.swap(queue_);
    call_pending_ = false;
    if (released_) return;
  }
  if (events.empty()) return;
  auto arr = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); ++i) arr.Set(i, event_to_js(env, events[i]));
  callback.Call({arr});
}

}  // namespace mlxn
