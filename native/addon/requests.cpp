#include "requests.h"

#include "engine/reasoning_hook.h"
#include "errors.h"

namespace mlxn {

namespace {

double num(const Napi::Object& o, const char* key, double fallback) {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw_js(o.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// An integer option: a number outside int32 is an error here, never an undefined conversion.
int integer(const Napi::Object& o, const char* key, int fallback) {
  double v = num(o, key, fallback);
  if (!(v >= -2147483648.0 && v <= 2147483647.0))
    throw_js(o.Env(), "INVALID_ARGUMENT",
             std::string(key) + " is outside the 32-bit integer range");
  return int(v);
}

std::string str(const Napi::Object& o, const char* key, const std::string& fallback = "") {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw_js(o.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int32_t> ints(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  if (v.IsUndefined()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw_js(o.Env(), "INVALID_ARGUMENT", std::string(key) + " must be an Int32Array");
  }
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<float> floats(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  if (v.IsUndefined()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw_js(o.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

}  // namespace

ModelSpec to_model_spec(const Napi::Object& obj) {
  ModelSpec spec;
  spec.format = str(obj, "format");
  spec.dtype = str(obj, "dtype");
  spec.config_json = str(obj, "configJson");
  spec.context_length = integer(obj, "contextLength", 0);
  spec.cpu_streams = integer(obj, "cpuStreams", 0);
  auto files = obj.Get("files");
  if (!files.IsArray()) throw_js(obj.Env(), "INVALID_ARGUMENT", "files must be an array of paths");
  auto arr = files.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    auto f = arr.Get(i);
    if (!f.IsString()) throw_js(obj.Env(), "INVALID_ARGUMENT", "files must be an array of paths");
    spec.files.push_back(f.As<Napi::String>().Utf8Value());
  }
  return spec;
}

SchedulerOptions to_scheduler_options(const Napi::Object& obj) {
  SchedulerOptions o;
  o.max_batch = integer(obj, "maxBatch", o.max_batch);
  o.prefill_chunk = integer(obj, "prefillChunk", o.prefill_chunk);
  auto bytes = [&](const char* key, size_t fallback) {
    double v = num(obj, key, double(fallback));
    if (!(v >= 0 && v <= 9.0e15))
      throw_js(obj.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a byte count");
    return size_t(v);
  };
  o.kv_budget = bytes("kvBudgetBytes", o.kv_budget);
  o.prefix_budget = bytes("prefixCacheBytes", o.prefix_budget);
  if (o.max_batch < 1 || o.prefill_chunk < 0)
    throw_js(obj.Env(), "INVALID_ARGUMENT", "maxBatch and prefillChunk must be positive");
  return o;
}

namespace {

std::shared_ptr<LogitsHook> to_hook(const Napi::Object& obj,
                                    const std::shared_ptr<const GrammarVocab>& vocab) {
  std::shared_ptr<LogitsHook> hook;
  auto g = obj.Get("grammar");
  if (!g.IsUndefined() && !g.IsNull()) {
    if (!g.IsExternal() || !g.As<Napi::Object>().CheckTypeTag(&kGrammarTag))
      throw_js(obj.Env(), "INVALID_ARGUMENT", "grammar must come from compileGrammar");
    hook = (*g.As<Napi::External<std::shared_ptr<const Grammar>>>().Data())->hook();
  }
  auto r = obj.Get("reasoning");
  if (r.IsUndefined() || r.IsNull()) return hook;
  if (!r.IsObject()) throw_js(obj.Env(), "INVALID_ARGUMENT", "reasoning must be an object");
  if (!vocab)
    throw_js(obj.Env(), "INVALID_ARGUMENT", "[grammar] no vocabulary was set for this model");
  auto ro = r.As<Napi::Object>();
  ReasoningSpec spec;
  spec.open = str(ro, "open");
  spec.close = str(ro, "close");
  spec.close_ids = ints(ro, "closeIds");
  spec.inside = ro.Get("inside").ToBoolean().Value();
  spec.budget = integer(ro, "budget", -1);
  if (spec.open.empty() || spec.close.empty())
    throw_js(obj.Env(), "INVALID_ARGUMENT", "reasoning needs its open and close markers");
  for (int32_t t : spec.close_ids) {
    if (t < 0 || t >= vocab->size())
      throw_js(obj.Env(), "INVALID_ARGUMENT",
               "reasoning.closeIds holds a token outside the vocabulary");
  }
  return std::make_shared<ReasoningHook>(std::move(spec), vocab, std::move(hook));
}

}  // namespace

GenerateRequest to_generate_request(const Napi::Object& obj, uint64_t id,
                                    const std::shared_ptr<const GrammarVocab>& vocab) {
  // Absent options take the engine's defaults (GenerateRequest, SamplingParams).
  GenerateRequest r;
  r.id = id;
  r.prompt = ints(obj, "prompt");
  r.max_tokens = integer(obj, "maxTokens", r.max_tokens);
  r.eos = ints(obj, "eosTokenIds");
  SamplingParams& s = r.sampling;
  s.temperature = float(num(obj, "temperature", s.temperature));
  s.top_p = float(num(obj, "topP", s.top_p));
  s.top_k = integer(obj, "topK", s.top_k);
  s.min_p = float(num(obj, "minP", s.min_p));
  s.repetition_penalty = float(num(obj, "repetitionPenalty", s.repetition_penalty));
  s.presence_penalty = float(num(obj, "presencePenalty", s.presence_penalty));
  s.frequency_penalty = float(num(obj, "frequencyPenalty", s.frequency_penalty));
  s.penalty_context = integer(obj, "repetitionContextSize", s.penalty_context);
  s.bias_ids = ints(obj, "logitBiasIds");
  s.bias_values = floats(obj, "logitBiasValues");
  if (s.bias_ids.size() != s.bias_values.size())
    throw_js(obj.Env(), "INVALID_ARGUMENT", "logit bias ids and values differ in length");
  double seed = num(obj, "seed", -1);
  if (seed >= 0) s.seed = uint64_t(seed);
  s.logprobs = integer(obj, "logprobs", s.logprobs);
  r.hook = to_hook(obj, vocab);
  return r;
}

EmbedRequest to_embed_request(const Napi::Object& obj, uint64_t id) {
  EmbedRequest r;
  r.id = id;
  std::vector<int32_t> tokens = ints(obj, "tokens");
  std::vector<int32_t> lengths = ints(obj, "lengths");
  size_t at = 0;
  for (int32_t n : lengths) {
    if (n < 0 || size_t(n) > tokens.size() - at)
      throw_js(obj.Env(), "INVALID_ARGUMENT", "embedding lengths do not match the tokens");
    r.inputs.emplace_back(tokens.begin() + at, tokens.begin() + at + n);
    at += size_t(n);
  }
  if (at != tokens.size())
    throw_js(obj.Env(), "INVALID_ARGUMENT", "embedding lengths do not match the tokens");
  auto last = obj.Get("lastToken");
  r.last_token = last.IsBoolean() && last.As<Napi::Boolean>().Value();
  return r;
}

}  // namespace mlxn
