#include "requests.h"

#include "errors.h"

namespace mlxn {

namespace {

double num(const Napi::Object& o, const char* key, double fallback) {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw_js(o.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::string str(const Napi::Object& o, const char* key, const std::string& fallback = "") {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw_js(o.Env(), "INVALID_ARGUMENT", std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool flag(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
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
  spec.cpu_streams = int(num(obj, "cpuStreams", 0));
  auto files = obj.Get("files");
  if (!files.IsArray()) throw_js(obj.Env(), "INVALID_ARGUMENT", "files must be an array of paths");
  auto arr = files.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i)
    spec.files.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  auto cv = obj.Get("config");
  if (!cv.IsObject()) throw_js(obj.Env(), "INVALID_ARGUMENT", "config must be an object");
  auto c = cv.As<Napi::Object>();
  ModelConfig& m = spec.config;
  m.architecture = str(c, "architecture");
  m.hidden_size = int(num(c, "hiddenSize", 0));
  m.intermediate_size = int(num(c, "intermediateSize", 0));
  m.num_layers = int(num(c, "numLayers", 0));
  m.num_heads = int(num(c, "numHeads", 0));
  m.num_kv_heads = int(num(c, "numKvHeads", m.num_heads));
  m.head_dim = int(num(c, "headDim", m.num_heads > 0 ? m.hidden_size / m.num_heads : 0));
  m.vocab_size = int(num(c, "vocabSize", 0));
  m.context_length = int(num(c, "contextLength", 0));
  m.rms_norm_eps = float(num(c, "rmsNormEps", 1e-5));
  m.rope_theta = float(num(c, "ropeTheta", 10000));
  m.rope_traditional = flag(c, "ropeTraditional");
  m.tie_word_embeddings = flag(c, "tieWordEmbeddings");
  auto rs = c.Get("ropeScaling");
  if (rs.IsObject()) {
    auto r = rs.As<Napi::Object>();
    m.rope_scaling.type = str(r, "type");
    m.rope_scaling.factor = float(num(r, "factor", 1));
    m.rope_scaling.low_freq_factor = float(num(r, "lowFreqFactor", 1));
    m.rope_scaling.high_freq_factor = float(num(r, "highFreqFactor", 4));
    m.rope_scaling.original_max_position_embeddings =
        int(num(r, "originalMaxPositionEmbeddings", 8192));
  }
  return spec;
}

SchedulerOptions to_scheduler_options(const Napi::Object& obj) {
  SchedulerOptions o;
  o.max_batch = int(num(obj, "maxBatch", o.max_batch));
  o.prefill_chunk = int(num(obj, "prefillChunk", o.prefill_chunk));
  o.kv_budget = size_t(num(obj, "kvBudgetBytes", double(o.kv_budget)));
  o.prefix_budget = size_t(num(obj, "prefixCacheBytes", double(o.prefix_budget)));
  if (o.max_batch < 1 || o.prefill_chunk < 0)
    throw_js(obj.Env(), "INVALID_ARGUMENT", "maxBatch and prefillChunk must be positive");
  return o;
}

GenerateRequest to_generate_request(const Napi::Object& obj, uint64_t id) {
  GenerateRequest r;
  r.id = id;
  r.prompt = ints(obj, "prompt");
  r.max_tokens = int(num(obj, "maxTokens", 256));
  r.eos = ints(obj, "eosTokenIds");
  SamplingParams& s = r.sampling;
  s.temperature = float(num(obj, "temperature", 0));
  s.top_p = float(num(obj, "topP", 1));
  s.top_k = int(num(obj, "topK", 0));
  s.min_p = float(num(obj, "minP", 0));
  s.repetition_penalty = float(num(obj, "repetitionPenalty", 1));
  s.presence_penalty = float(num(obj, "presencePenalty", 0));
  s.frequency_penalty = float(num(obj, "frequencyPenalty", 0));
  s.penalty_context = int(num(obj, "repetitionContextSize", 20));
  s.bias_ids = ints(obj, "logitBiasIds");
  s.bias_values = floats(obj, "logitBiasValues");
  if (s.bias_ids.size() != s.bias_values.size())
    throw_js(obj.Env(), "INVALID_ARGUMENT", "logit bias ids and values differ in length");
  double seed = num(obj, "seed", -1);
  if (seed >= 0) s.seed = uint64_t(seed);
  s.logprobs = int(num(obj, "logprobs", -1));
  return r;
}

}  // namespace mlxn
