// JS objects → plain engine structs, on the JS thread (the engine thread never sees N-API).
#pragma once

#include <napi.h>

#include "engine/grammar.h"
#include "engine/model.h"
#include "engine/scheduler.h"

namespace mlxn {

ModelSpec to_model_spec(const Napi::Object& obj);
SchedulerOptions to_scheduler_options(const Napi::Object& obj);
// Type tag of the grammars compileGrammar returns (a `grammar` field must carry one).
extern const napi_type_tag kGrammarTag;

// `vocab`: the model's grammar vocabulary, needed by `grammar` and `reasoning` (may be null).
GenerateRequest to_generate_request(const Napi::Object& obj, uint64_t id,
                                    const std::shared_ptr<const GrammarVocab>& vocab);
// {tokens: Int32Array (the inputs one after the other), lengths: Int32Array, lastToken}.
EmbedRequest to_embed_request(const Napi::Object& obj, uint64_t id);

}  // namespace mlxn
