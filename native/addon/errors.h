// Turning bad arguments into JS errors with a `code`.
#pragma once

#include <napi.h>

#include <string>

namespace mlxn {

// Throws a JS TypeError with `code` set (C++ exceptions are enabled in node-addon-api).
[[noreturn]] inline void throw_js(Napi::Env env, const char* code, const std::string& message) {
  auto err = Napi::TypeError::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

inline uint64_t arg_id(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsNumber())
    throw_js(info.Env(), "INVALID_ARGUMENT", "request id must be a number");
  return static_cast<uint64_t>(info[index].As<Napi::Number>().Int64Value());
}

inline int arg_int(const Napi::Object& obj, const char* key, int fallback) {
  auto v = obj.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber())
    throw_js(obj.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

}  // namespace mlxn
