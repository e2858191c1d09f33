#include "jit.h"

#include <sstream>

namespace mlxn::cuda_jit {

const char* const kConversions = R"(
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }
template <typename T>
__device__ __forceinline__ float rounded(float v) { T t; store(&t, v); return to_float(t); }
template <typename T>
__device__ __forceinline__ float swiglu_of(float g, float u) {
  const float e = rounded<T>(1.0f / (1.0f + expf(fabsf(g))));
  const float sg = g < 0.0f ? e : rounded<T>(1.0f - e);
  return rounded<T>(g * sg) * u;
}
)";

std::string compact(const char* text) {
  std::string out, line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos || line.compare(first, 2, "//") == 0) continue;
    out += line.substr(first);
    out += '\n';
  }
  return out;
}

}  // namespace mlxn::cuda_jit
