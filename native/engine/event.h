// What the engine thread sends back to its host (the addon, or a native tool).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace mlxn {

using Field = std::variant<double, std::string, std::vector<float>, std::vector<int32_t>>;

struct Event {
  enum class Type : uint8_t {
    Result,    // a command finished; `fields` holds its result
    Error,     // a command or generation failed; `code` and `message`
    Progress,  // loading progress in `progress` (0..1)
    Tokens,    // generated tokens in `fields` ("tokens", optional logprobs)
    Done,      // a generation finished; `fields` holds finish reason, usage, timings
  };
  uint64_t id = 0;
  Type type = Type::Result;
  std::string code;
  std::string message;
  double progress = 0;
  std::vector<std::pair<std::string, Field>> fields;

  Event& set(std::string key, Field value) {
    fields.emplace_back(std::move(key), std::move(value));
    return *this;
  }
};

// Receives events on the engine thread. Must not block for long and must not call back into
// the engine.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void push(Event&& event) = 0;
};

}  // namespace mlxn
