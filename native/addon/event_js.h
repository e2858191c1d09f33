// Engine events → plain JS objects: the only place that names their JavaScript fields (declared
// as the NativeEvent union in src/native.ts).
#pragma once

#include <napi.h>

#include "engine/event.h"

namespace mlxn {

Napi::Object event_to_js(Napi::Env env, const Event& event);

}  // namespace mlxn
