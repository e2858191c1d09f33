// A GGUF file read by mlx-native itself: header, the metadata values the engine needs, and
// every tensor's name, shape, type and bytes (the file is memory-mapped; nothing is copied until
// a tensor is converted). Every count, length, shape and offset is checked against the file
// before it is used, so a damaged file is refused with INVALID_MODEL / UNSUPPORTED_QUANTIZATION
// naming what is wrong, never read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mlxn {

// ggml tensor types (ggml.h's numbering).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

// Name of a ggml type id ("Q4_K"), or "type <id>" for ids this reader does not know.
std::string ggml_type_name(uint32_t type);

struct GgufTensor {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order: innermost first (row length is dims[0])
  uint32_t type = 0;
  const uint8_t* data = nullptr;  // inside the mapping
  size_t nbytes = 0;

  int64_t elements() const;
  int64_t row_length() const { return dims.empty() ? 1 : dims[0]; }
};

class GgufFile {
 public:
  // Maps and parses `path`. Throws EngineError (MODEL_NOT_FOUND, INVALID_MODEL,
  // UNSUPPORTED_QUANTIZATION) naming the file and the tensor or key at fault.
  explicit GgufFile(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  // String metadata values (general.architecture, ...); other value types are skipped.
  std::string string_value(const std::string& key) const;
  const std::string& path() const { return path_; }

 private:
  void parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, std::string> strings_;
  std::vector<GgufTensor> tensors_;
};

}  // namespace mlxn
