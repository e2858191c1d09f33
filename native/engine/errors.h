// Engine errors carry a stable code that becomes `error.code` in JS.
#pragma once

#include <stdexcept>
#include <string>

namespace mlxn {

class EngineError : public std::runtime_error {
 public:
  EngineError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace mlxn
