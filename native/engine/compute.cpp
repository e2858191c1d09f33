#include "compute.h"

#include <mlx/mlx.h>

#include "device.h"
#include "errors.h"

namespace mx = mlx::core;

namespace mlxn {

DiagnosticEvent quantized_matmul(const QuantizedMatmulRequest& req) {
  if (req.m <= 0 || req.n <= 0 || req.k <= 0) {
    throw EngineError("INVALID_ARGUMENT", "[quantized_matmul] m, n and k must be positive");
  }
  if (req.x.size() != size_t(req.m) * req.k || req.w.size() != size_t(req.n) * req.k) {
    throw EngineError("INVALID_ARGUMENT", "[quantized_matmul] x must hold m*k and w n*k values");
  }
  mx::array x(req.x.data(), {req.m, req.k}, mx::float32);
  mx::array w(req.w.data(), {req.n, req.k}, mx::float32);
  auto q = mx::quantize(w, req.group_size, req.bits);  // throws for bad bits/group sizes
  auto y = mx::quantized_matmul(x, q[0], q[1], q[2], true, req.group_size, req.bits);
  mx::eval(y);
  auto* data = y.data<float>();
  DiagnosticEvent out;
  out.values.assign(data, data + y.size());
  out.device = device_info();
  return out;
}

DiagnosticEvent busy_matmul(int n, int iterations, const std::function<bool()>& stop) {
  if (n <= 0 || iterations <= 0)
    throw EngineError("INVALID_ARGUMENT", "[busy] n and iterations must be positive");
  auto a = mx::random::normal({n, n}, mx::float32, 0.0f, 1.0f / n, mx::random::key(0));
  auto acc = mx::eye(n);
  for (int i = 0; i < iterations; ++i) {
    if (stop()) throw EngineError("DISPOSED", "[busy] the engine was disposed");
    acc = mx::matmul(acc, a);
    mx::eval(acc);
  }
  DiagnosticEvent out;
  out.checksum = double(mx::sum(acc).item<float>());
  out.device = device_info();
  return out;
}

}  // namespace mlxn
