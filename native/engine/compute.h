// Small MLX computations run on the engine thread: a proof that the addon drives real MLX,
// and a load generator for responsiveness tests.
#pragma once

#include <functional>
#include <vector>

#include "event.h"

namespace mlxn {

struct QuantizedMatmulRequest {
  int m = 0, n = 0, k = 0;
  int bits = 4;
  int group_size = 64;
  std::vector<float> x;  // m*k, row-major
  std::vector<float> w;  // n*k, row-major (y = x @ w^T)
};

// Quantizes w with mx::quantize, multiplies with mx::quantized_matmul, returns "y" (m*n).
void quantized_matmul(const QuantizedMatmulRequest& req, Event& out);

// Runs `iterations` chained float32 matmuls of size n×n and returns their "checksum".
// `stop()` is checked between iterations.
void busy_matmul(int n, int iterations, const std::function<bool()>& stop, Event& out);

}  // namespace mlxn
