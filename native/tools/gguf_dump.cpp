// GGUF tensors as mlx-native reads them, for checking against llama.cpp's own reader (the `gguf`
// Python package; test/gguf-native.test.ts and scripts/gguf-check.py):
//
//   gguf_dump FILE.gguf OUT.safetensors [--per-type N] [--rows R]
//
// For the first N tensors of each type (default 3), the first R rows (default 64) go to
// OUT.safetensors as float32: under the tensor's GGUF name the values the engine computes with
// (quantized ones dequantized by MLX), and for requantized types also under NAME.exact the
// file's own values decoded exactly. stdout gets one JSON line per tensor type: its count and
// what it becomes. A file the reader refuses prints {"error": CODE, "message": ...} and exits 2.
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "engine/gguf_file.h"
#include "engine/gguf_quants.h"

using namespace mlxn;

namespace {

// The first `rows` rows of a matrix (the data of a row-major tensor is a prefix).
GgufTensor first_rows(const GgufTensor& t, int64_t rows) {
  GgufTensor out = t;
  if (t.dims.size() < 2) return out;
  out.dims = {t.dims[0], std::min(rows, t.dims[1])};
  out.nbytes = size_t(double(t.nbytes) * out.elements() / t.elements());
  return out;
}

mx::array engine_values(const GgufTensor& t) {
  GgufArrays a = convert_gguf_tensor(t);
  if (a.bits == 0) return mx::astype(a.weight, mx::float32);
  return mx::dequantize(a.weight, *a.scales, a.biases, a.group_size, a.bits,
                        a.biases ? "affine" : "mxfp4", std::nullopt, mx::float32);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: gguf_dump FILE.gguf OUT.safetensors [--per-type N] [--rows R]\n";
    return 1;
  }
  int per_type = 3, rows = 64;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--per-type") per_type = std::atoi(argv[i + 1]);
    if (flag == "--rows") rows = std::atoi(argv[i + 1]);
  }
  try {
    GgufFile file(argv[1]);
    std::map<uint32_t, int> counts;
    std::unordered_map<std::string, mx::array> out;
    for (const GgufTensor& full : file.tensors()) {
      if (counts[full.type]++ >= per_type) continue;
      GgufTensor t = first_rows(full, rows);
      out.insert_or_assign(t.name, engine_values(t));
      if (!convert_gguf_tensor(t).exact)
        out.insert_or_assign(t.name + ".exact", dequantize_gguf_tensor(t));
    }
    mx::save_safetensors(argv[2], out);
    for (const auto& [type, n] : counts) {
      std::cout << nlohmann::json{{"type", ggml_type_name(type)},
                                  {"count", n},
                                  {"becomes", gguf_type_becomes(type)}}
                       .dump()
                << "\n";
    }
  } catch (const EngineError& e) {
    std::cout << nlohmann::json{{"error", e.code()}, {"message", e.what()}}.dump() << "\n";
    return 2;
  }
  return 0;
}
