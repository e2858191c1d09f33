// JS objects → plain engine structs, on the JS thread (the engine thread never sees N-API).
#pragma once

#include <napi.h>

#include "engine/model.h"
#include "engine/scheduler.h"

namespace mlxn {

ModelSpec to_model_spec(const Napi::Object& obj);
SchedulerOptions to_scheduler_options(const Napi::Object& obj);
GenerateRequest to_generate_request(const Napi::Object& obj, uint64_t id);
// {tokens: Int32Array (the inputs one after the other), lengths: Int32Array, lastToken}.
EmbedRequest to_embed_request(const Napi::Object& obj, uint64_t id);

}  // namespace mlxn
