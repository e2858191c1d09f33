// GGUF → MLX safetensors conversion (weights only; TypeScript writes config and tokenizer).
#pragma once

#include <string>

#include "event.h"

namespace mlxn {

struct ConvertRequest {
  std::string gguf_file;
  std::string out_file;  // model.safetensors
  int num_heads = 0, num_kv_heads = 0;
  bool unpermute_qk = true;  // undo llama.cpp's Q/K row permutation (Llama-family GGUF)
  std::string dtype;         // float tensors' dtype: "float16" | "float32" | "bfloat16"
};

// Writes the weights with Hugging Face names, quantized weights kept as MLX affine triples.
ConvertedEvent convert_gguf(const ConvertRequest& req);

}  // namespace mlxn
