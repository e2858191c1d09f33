// Per-environment addon state (main thread and each worker_thread get their own), with a cleanup
// hook that joins every engine thread before the environment goes away.
#pragma once

#include <napi.h>

#include <unordered_set>

namespace mlxn {

class EngineWrap;

struct AddonState {
  std::unordered_set<EngineWrap*> engines;
  static AddonState& get(Napi::Env env);
};

}  // namespace mlxn
