// Diagnostics for the tests, run on the engine thread: a proof that the addon drives real MLX,
// and a load generator for responsiveness tests. Not part of the public API.
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

// Quantizes w with mx::quantize, multiplies with mx::quantized_matmul; `values` holds y (m*n).
DiagnosticEvent quantized_matmul(const QuantizedMatmulRequest& req);

// Runs `iterations` chained float32 matmuls of size n×n; `checksum` is their sum.
// `stop()` is checked between iterations.
DiagnosticEvent busy_matmul(int n, int iterations, const std::function<bool()>& stop);

}  // namespace mlxn
