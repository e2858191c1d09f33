#include "event_js.h"

namespace mlxn {

namespace {

Napi::Value ints(Napi::Env env, const std::vector<int32_t>& v) {
  auto arr = Napi::Int32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), arr.Data());
  return arr;
}

Napi::Value floats(Napi::Env env, const std::vector<float>& v) {
  auto arr = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), arr.Data());
  return arr;
}

void set_device(Napi::Object& o, const DeviceInfo& d) {
  o.Set("backend", d.backend);
  o.Set("device", d.device);
  o.Set("deviceName", d.device_name);
  o.Set("mlxVersion", d.mlx_version);
  o.Set("memoryBytes", d.memory_bytes);
  o.Set("recommendedWorkingSetBytes", d.recommended_working_set_bytes);
}

void set_memory(Napi::Object& o, const MemoryInfo& m) {
  o.Set("activeMemory", m.active);
  o.Set("peakMemory", m.peak);
  o.Set("cacheMemory", m.cache);
}

struct ToJs {
  Napi::Env env;
  Napi::Object o;

  void operator()(const TokensEvent& e) {
    o.Set("type", "tokens");
    o.Set("tokens", ints(env, e.tokens));
    if (!e.logprobs.empty()) o.Set("logprobs", floats(env, e.logprobs));
    if (!e.top_ids.empty()) {
      o.Set("topIds", ints(env, e.top_ids));
      o.Set("topLogprobs", floats(env, e.top_logprobs));
    }
  }
  void operator()(const DoneEvent& e) {
    o.Set("type", "done");
    o.Set("finishReason", e.finish_reason);
    o.Set("promptTokens", e.prompt_tokens);
    o.Set("completionTokens", e.completion_tokens);
    o.Set("cachedTokens", e.cached_tokens);
    o.Set("timeToFirstTokenMs", e.time_to_first_token_ms);
    o.Set("prefillTokensPerSecond", e.prefill_tokens_per_second);
    o.Set("decodeTokensPerSecond", e.decode_tokens_per_second);
    o.Set("totalMs", e.total_ms);
  }
  void operator()(const ErrorEvent& e) {
    o.Set("type", "error");
    o.Set("code", e.code);
    o.Set("message", e.message);
  }
  void operator()(const ProgressEvent& e) {
    o.Set("type", "progress");
    o.Set("progress", e.fraction);
  }
  void operator()(const DeviceEvent& e) {
    o.Set("type", "device");
    set_device(o, e.device);
    set_memory(o, e.memory);
  }
  void operator()(const LoadedEvent& e) {
    o.Set("type", "loaded");
    o.Set("family", e.family);
    o.Set("modelType", e.model_type);
    o.Set("quantization", e.quantization);
    o.Set("dtype", e.dtype);
    o.Set("vocabSize", e.vocab_size);
    o.Set("contextLength", e.context_length);
    o.Set("numLayers", e.num_layers);
    o.Set("hiddenSize", e.hidden_size);
    o.Set("streams", e.streams);
    o.Set("parameterCount", e.parameters);
    o.Set("weightBytes", e.weight_bytes);
    o.Set("kvBytesPerToken", e.kv_bytes_per_token);
    set_device(o, e.device);
    set_memory(o, e.memory);
  }
  void operator()(const StatsEvent& e) {
    o.Set("type", "stats");
    o.Set("activeSequences", e.active_sequences);
    o.Set("waitingRequests", e.waiting_requests);
    o.Set("kvReservedBytes", e.kv_reserved_bytes);
    o.Set("prefixCacheBytes", e.prefix_cache_bytes);
    o.Set("prefixCacheHits", e.prefix_cache_hits);
    o.Set("prefixCacheTokens", e.prefix_cache_tokens);
    o.Set("decodeSteps", e.decode_steps);
    o.Set("grammarMasks", e.grammar_masks);
    o.Set("grammarMaskMs", e.grammar_mask_ms);
    set_memory(o, e.memory);
  }
  void operator()(const ConvertedEvent& e) {
    o.Set("type", "converted");
    auto names = Napi::Array::New(env, e.quantized_names.size());
    for (size_t i = 0; i < e.quantized_names.size(); ++i) names.Set(i, e.quantized_names[i]);
    o.Set("quantizedNames", names);
    o.Set("bits", ints(env, e.bits));
    o.Set("groupSizes", ints(env, e.group_sizes));
  }
  void operator()(const EmbeddingEvent& e) {
    o.Set("type", "embedding");
    o.Set("dims", e.dims);
    o.Set("promptTokens", e.prompt_tokens);
    o.Set("values", floats(env, e.values));
  }
  void operator()(const DiagnosticEvent& e) {
    o.Set("type", "diagnostic");
    o.Set("values", floats(env, e.values));
    o.Set("checksum", e.checksum);
    set_device(o, e.device);
  }
};

}  // namespace

Napi::Object event_to_js(Napi::Env env, const Event& event) {
  auto obj = Napi::Object::New(env);
  obj.Set("id", Napi::Number::New(env, double(event.id)));
  std::visit(ToJs{env, obj}, event.payload);
  return obj;
}

}  // namespace mlxn
