// Module entry: per-environment state and the exports. Kept declarative.
#include <napi.h>

#include <vector>

#include "addon_state.h"
#include "engine_wrap.h"

namespace mlxn {

AddonState& AddonState::get(Napi::Env env) {
  return *env.GetInstanceData<AddonState>();
}

namespace {

// Stops and joins every engine thread of this environment.
void close_all(AddonState* state) {
  // Copy: close() unregisters the engine from the set.
  std::vector<EngineWrap*> engines(state->engines.begin(), state->engines.end());
  for (auto* engine : engines) engine->close();
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* state = new AddonState();
  env.SetInstanceData<AddonState>(state);  // deleted by node-addon-api at environment teardown
  env.AddCleanupHook([state] { close_all(state); });
  // Node runs cleanup hooks when an environment is torn down (a worker), but process.exit() on
  // the main thread goes straight to the C library's exit handlers, which destroy MLX's and the
  // GPU driver's state under engine threads still computing (a glibc abort on CUDA). native.ts
  // calls this on the process's 'exit' event.
  exports.Set("closeAll",
              Napi::Function::New(env, [state](const Napi::CallbackInfo&) { close_all(state); }));
  exports.Set("Engine", EngineWrap::define(env));
  exports.Set("abi", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace mlxn

static Napi::Object init_module(Napi::Env env, Napi::Object exports) {
  return mlxn::init(env, exports);
}

NODE_API_MODULE(mlx_native, init_module)
