// What the engine thread sends back to its host (the addon, or a native tool): one typed struct
// per kind of event. Field names for JavaScript are written only in the addon.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "device.h"

namespace mlxn {

// Generated tokens of one request (one per decode step; several when the host is slow).
struct TokensEvent {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;      // per token, when asked
  std::vector<int32_t> top_ids;     // k per token, when asked
  std::vector<float> top_logprobs;  // k per token
};

// A generation ended.
struct DoneEvent {
  std::string finish_reason;  // "stop" | "length" | "abort"
  int prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double time_to_first_token_ms = 0, prefill_tokens_per_second = 0;
  double decode_tokens_per_second = 0, total_ms = 0;
};

struct ErrorEvent {
  std::string code, message;
};

struct ProgressEvent {
  double fraction = 0;
};

struct DeviceEvent {
  DeviceInfo device;
  MemoryInfo memory;
};

// A model finished loading.
struct LoadedEvent {
  std::string family, model_type, quantization, dtype;
  int vocab_size = 0, context_length = 0, num_layers = 0, hidden_size = 0, streams = 1;
  double parameters = 0, weight_bytes = 0, kv_bytes_per_token = 0;
  DeviceInfo device;
  MemoryInfo memory;
};

// Scheduler counters.
struct StatsEvent {
  int active_sequences = 0, waiting_requests = 0;
  double kv_reserved_bytes = 0, prefix_cache_bytes = 0, prefix_cache_hits = 0;
  double prefix_cache_tokens = 0, decode_steps = 0;
  double grammar_masks = 0, grammar_mask_ms = 0;  // every model in the process
  MemoryInfo memory;
};

// A GGUF file converted to MLX safetensors.
struct ConvertedEvent {
  std::vector<std::string> quantized_names;  // module paths kept quantized
  std::vector<int32_t> bits, group_sizes;    // per quantized module
};

// Pooled embeddings of a request's inputs, row-major [inputs, dims].
struct EmbeddingEvent {
  int dims = 0, prompt_tokens = 0;
  std::vector<float> values;
};

// Results of the diagnostics the tests use (not part of the public API).
struct DiagnosticEvent {
  std::vector<float> values;  // quantized matmul: y, row-major
  double checksum = 0;        // busy matmul
  DeviceInfo device;
};

using EventPayload =
    std::variant<TokensEvent, DoneEvent, ErrorEvent, ProgressEvent, DeviceEvent, LoadedEvent,
                 StatsEvent, ConvertedEvent, EmbeddingEvent, DiagnosticEvent>;

struct Event {
  uint64_t id = 0;  // the request it belongs to; 0: every request (an engine failure)
  EventPayload payload;
};

// Receives events on the engine thread. Must not block for long and must not call back into
// the engine.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void push(Event&& event) = 0;
};

}  // namespace mlxn
