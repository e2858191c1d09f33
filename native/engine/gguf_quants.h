// GGUF tensors → MLX arrays. Types whose values MLX's affine quantization (value = scale·q +
// bias over groups of 32) represents exactly stay quantized: Q4_0, Q4_1, Q4_K → 4-bit, Q5_0,
// Q5_1, Q5_K → 5-bit, Q8_0 → 8-bit, all groups of 32. Q2_K, Q3_K and Q6_K use sub-blocks of 16
// with their own scales, which MLX's groups (32 or more) cannot hold, so they are decoded exactly
// and requantized: Q2_K and Q3_K to 4-bit g32, Q6_K to 8-bit g32. MXFP4 (gpt-oss's experts) is
// MLX's mxfp4 mode exactly: the same E2M1 codes and E8M0 scales per 32, only the nibble order
// differs. F32, F16 and BF16 stay as they are.
#pragma once

#include <mlx/mlx.h>

#include <optional>
#include <string>
#include <vector>

#include "gguf_file.h"

namespace mlxn {

namespace mx = mlx::core;

struct GgufArrays {
  mx::array weight{0.0f};                   // float, or packed uint32 codes when bits > 0
  std::optional<mx::array> scales, biases;  // one per group of `group_size`: float32 (affine),
                                            // or uint8 scales and no biases (mxfp4)
  int bits = 0, group_size = 0;
  bool exact = true;  // false: requantized (values differ from the file's)
};

// Converts one tensor (not evaluated: the arrays own copies of the file's bytes).
GgufArrays convert_gguf_tensor(const GgufTensor& tensor);

// The tensor's exact values as float32 (every type), shaped like the tensor.
mx::array dequantize_gguf_tensor(const GgufTensor& tensor);

// What a ggml type becomes: "4-bit g32", "8-bit g32 (requantized)", "float16", ...
std::string gguf_type_becomes(uint32_t type);

}  // namespace mlxn
