#include "fused.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "../device.h"
#include "../layers.h"
#include "jit.h"

namespace mlxn::fused {

namespace {

// One block per (head, token) of D/2 threads, one rotation pair each: (j, j + D/2), or (2j, 2j + 1)
// in the traditional layout. Norm and rotation as MLX's rms_norm and rope kernels compute them:
// the normed value rounded to T, then times the weight in T; the angle (scale · position) ·
// inverse frequency, the inverse frequency exp2(-(j / (D/2)) · log2(base)) or 1 / freqs[j].
// Floats arrive as their bit patterns (template arguments are integers).
constexpr const char* kSplitHeads = R"(
  constexpr int HALF = D / 2;
  const int L = qkv_shape[1];
  const int head = blockIdx.x, row = blockIdx.y, j = threadIdx.x;
  const int b = row / L, l = row - b * L;
  const T* src = qkv + size_t(row) * ((HQ + 2 * HKV) * D) + head * D;
  const int i1 = TRAD ? 2 * j : j, i2 = TRAD ? 2 * j + 1 : j + HALF;
  float x1 = to_float(src[i1]), x2 = to_float(src[i2]);
  T* dst = v;
  int h = head - HQ - HKV, nh = HKV;
  if (head < HQ) dst = q, h = head, nh = HQ;
  else if (head < HQ + HKV) dst = k, h = head - HQ;
  if (head < HQ + HKV) {
    if constexpr (NORM) {
      __shared__ float part[HALF];
      part[j] = x1 * x1 + x2 * x2;
      __syncthreads();
      float sum = 0.0f;
      for (int t = 0; t < HALF; ++t) sum += part[t];
      const float r = rsqrtf(sum / D + __int_as_float(EPS));
      const T* w = head < HQ ? qn : kn;
      x1 = rounded<T>(to_float(w[i1]) * rounded<T>(x1 * r));
      x2 = rounded<T>(to_float(w[i2]) * rounded<T>(x2 * r));
    }
    if constexpr (ROPE) {
      const int pos = offsets[offsets_shape[0] == 1 ? 0 : b] + l;
      float inv_freq;
      if constexpr (FREQS) inv_freq = 1.0 / freqs[j];
      else inv_freq = exp2(-(float(j) / float(HALF)) * __int_as_float(LOG2_BASE));
      const float theta = __int_as_float(SCALE) * float(pos) * inv_freq;
      const float c = cos(theta), s = sin(theta);
      const float r1 = x1 * c - x2 * s, r2 = x1 * s + x2 * c;
      x1 = r1, x2 = r2;
    }
  }
  T* out = dst + ((size_t(b) * nh + h) * L + l) * D;
  store(out + i1, x1);
  store(out + i2, x2);
)";

// One thread per output (swiglu_of: jit.h).
constexpr const char* kSwiglu = R"(
  const int j = blockIdx.x * blockDim.x + threadIdx.x, row = blockIdx.y;
  if (j >= I) return;
  const T* in = gate_up + size_t(row) * (2 * I);
  store(out + size_t(row) * I + j, swiglu_of<T>(to_float(in[j]), to_float(in[I + j])));
)";

using KernelFn = mx::fast::CustomKernelFunction;

const KernelFn& make(const char* name, std::vector<std::string> in, std::vector<std::string> out,
                     const char* source) {
  return *new KernelFn(mx::fast::cuda_kernel(name, in, out, cuda_jit::compact(source),
                                             cuda_jit::compact(cuda_jit::kConversions), true, 0));
}

const KernelFn& split_heads_kernel() {
  static const KernelFn& k = make("mlxn_split_heads", {"qkv", "offsets", "freqs", "qn", "kn"},
                                  {"q", "k", "v"}, kSplitHeads);
  return k;
}

const KernelFn& swiglu_kernel() {
  static const KernelFn& k = make("mlxn_swiglu", {"gate_up"}, {"out"}, kSwiglu);
  return k;
}

// A positive float as the integer template argument the kernels read it from.
int bits_of(float v) {
  if (!(v > 0.0f) || !std::isfinite(v)) throw std::invalid_argument("[fused] constant must be > 0");
  int i;
  std::memcpy(&i, &v, sizeof i);
  return i;
}

bool float_type(mx::Dtype t) {
  return t == mx::float16 || t == mx::bfloat16 || t == mx::float32;
}

}  // namespace

bool enabled(Kernel kernel) {
  static const std::array<bool, 3> on = [] {
    std::array<bool, 3> all{true, true, true}, none{false, false, false};
    if (backend_name() != "cuda") return none;
    const char* v = std::getenv("MLX_NATIVE_FUSED");
    if (!v || !*v) v = "on";  // the measured default (fused.h)
    if (std::strcmp(v, "on") == 0) return all;
    if (std::strcmp(v, "off") == 0) return none;
    // The names in Kernel's order.
    constexpr std::array<const char*, 3> names{"split", "norm", "swiglu"};
    std::array<bool, 3> some = none;
    std::istringstream list(v);
    for (std::string name; std::getline(list, name, ',');) {
      auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end()) {
        std::cerr << "[mlx-native] MLX_NATIVE_FUSED=" << v
                  << " is not off|on or a list of split,norm,swiglu: using off\n";
        return none;
      }
      some[it - names.begin()] = true;
    }
    return some;
  }();
  return on[int(kernel)];
}

bool can_split_heads(const Rope& rope, int head_dim) {
  return rope.input_scale == 1.0f && (rope.dims == 0 || rope.dims == head_dim) &&
         head_dim % 2 == 0 && head_dim <= 1024 && (rope.dims == 0 || !rope.base || *rope.base > 1);
}

std::vector<mx::array> split_heads_rope(const mx::array& qkv, int heads, int kv_heads, int head_dim,
                                        const Rope& rope, const mx::array& offsets,
                                        const std::optional<mx::array>& q_norm,
                                        const std::optional<mx::array>& k_norm, float eps) {
  const int D = head_dim, H = heads, KV = kv_heads;
  if (qkv.ndim() != 3 || qkv.shape(2) != (H + 2 * KV) * D || !float_type(qkv.dtype()) ||
      !can_split_heads(rope, D) || offsets.dtype() != mx::int32 || offsets.ndim() != 1 ||
      (offsets.shape(0) != 1 && offsets.shape(0) != qkv.shape(0)) || bool(q_norm) != bool(k_norm) ||
      (q_norm && (q_norm->dtype() != qkv.dtype() || k_norm->dtype() != qkv.dtype() ||
                  q_norm->size() != size_t(D) || k_norm->size() != size_t(D))) ||
      qkv.shape(0) * qkv.shape(1) > 65535 || !(eps > 0.0f)) {
    throw std::invalid_argument("[fused] split_heads_rope: unsupported shapes or rope");
  }
  const int B = qkv.shape(0), L = qkv.shape(1);
  const bool rotate = rope.dims > 0, freqs = rotate && rope.freqs.has_value();
  // Unused inputs are bound to arrays the kernel never reads (not new ones: an array made from host
  // data costs MLX several µs of host time per call).
  const mx::array freq_in = freqs ? *rope.freqs : offsets;
  const mx::array qn = q_norm ? *q_norm : qkv, kn = k_norm ? *k_norm : qkv;
  return split_heads_kernel()(
      {qkv, offsets, freq_in, qn, kn}, {{B, H, L, D}, {B, KV, L, D}, {B, KV, L, D}},
      {qkv.dtype(), qkv.dtype(), qkv.dtype()}, {(H + 2 * KV) * (D / 2), B * L, 1}, {D / 2, 1, 1},
      {{"T", qkv.dtype()},
       {"HQ", H},
       {"HKV", KV},
       {"D", D},
       {"TRAD", rope.traditional},
       {"ROPE", rotate},
       {"FREQS", freqs},
       {"NORM", q_norm.has_value()},
       {"EPS", bits_of(eps)},
       {"SCALE", rotate ? bits_of(rope.scale) : 0},
       {"LOG2_BASE", rotate && !freqs ? bits_of(std::log2(*rope.base)) : 0}},
      std::nullopt, false, {});
}

mx::array swiglu_halves(const mx::array& gate_up) {
  if (gate_up.ndim() < 1 || gate_up.shape(-1) % 2 != 0 || !float_type(gate_up.dtype()) ||
      gate_up.size() / gate_up.shape(-1) > 65535) {
    throw std::invalid_argument("[fused] swiglu_halves: unsupported shape or dtype");
  }
  constexpr int kThreads = 256;
  const int I = gate_up.shape(-1) / 2, rows = int(gate_up.size() / gate_up.shape(-1));
  mx::Shape shape = gate_up.shape();
  shape.back() = I;
  return swiglu_kernel()({gate_up}, {shape}, {gate_up.dtype()}, {I, rows, 1}, {kThreads, 1, 1},
                         {{"T", gate_up.dtype()}, {"I", I}}, std::nullopt, false, {})[0];
}

}  // namespace mlxn::fused
