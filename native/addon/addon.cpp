// Module entry: per-environment state and the exports. Kept declarative.
#include <napi.h>

#include <vector>

#include "addon_state.h"
#include "engine_wrap.h"

namespace mlxn {

AddonState& AddonState::get(Napi::Env env) {
  return *env.GetInstanceData<AddonState>();
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* state = new AddonState();
  env.SetInstanceData<AddonState>(state);  // deleted by node-addon-api at environment teardown
  env.AddCleanupHook([state] {
    // Copy: close() unregisters the engine from the set.
    std::vector<EngineWrap*> engines(state->engines.begin(), state->engines.end());
    for (auto* engine : engines) engine->close();
  });
  exports.Set("Engine", EngineWrap::define(env));
  exports.Set("abi", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace mlxn

static Napi::Object init_module(Napi::Env env, Napi::Object exports) {
  return mlxn::init(env, exports);
}

NODE_API_MODULE(mlx_native, init_module)
