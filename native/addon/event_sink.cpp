#include "event_sink.h"

namespace mlxn {

namespace {

Napi::Value to_js(Napi::Env env, const Field& field) {
  if (auto* d = std::get_if<double>(&field)) return Napi::Number::New(env, *d);
  if (auto* s = std::get_if<std::string>(&field)) return Napi::String::New(env, *s);
  if (auto* f = std::get_if<std::vector<float>>(&field)) {
    auto arr = Napi::Float32Array::New(env, f->size());
    std::copy(f->begin(), f->end(), arr.Data());
    return arr;
  }
  const auto& v = std::get<std::vector<int32_t>>(field);
  auto arr = Napi::Int32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), arr.Data());
  return arr;
}

const char* type_name(Event::Type t) {
  switch (t) {
    case Event::Type::Result:
      return "result";
    case Event::Type::Error:
      return "error";
    case Event::Type::Progress:
      return "progress";
    case Event::Type::Tokens:
      return "tokens";
    case Event::Type::Done:
      return "done";
  }
  return "unknown";
}

}  // namespace

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
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    auto obj = Napi::Object::New(env);
    obj.Set("id", Napi::Number::New(env, static_cast<double>(e.id)));
    obj.Set("type", type_name(e.type));
    if (e.type == Event::Type::Error) {
      obj.Set("code", e.code);
      obj.Set("message", e.message);
    }
    if (e.type == Event::Type::Progress) obj.Set("progress", e.progress);
    for (const auto& [key, value] : e.fields) obj.Set(key, to_js(env, value));
    arr.Set(i, obj);
  }
  callback.Call({arr});
}

}  // namespace mlxn
