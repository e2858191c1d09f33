#include "qmv_kernel.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include "jit.h"

namespace mlxn::qmv {

namespace {

// Helpers before the kernel body (after jit.h's conversions): loads of 8 activations as float,
// and the value of one packed weight. MLX packs a row's b-bit weights as one little-endian bit
// stream (weight i in bits [i·b, i·b + b)), so a chunk of 32 weights is exactly b uint32 words.
constexpr const char* kHeader = R"(
__device__ __forceinline__ void load8(const float* p, float* f) {
  float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
}
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float* f) {
  uint4 u = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    f[2 * k] = __uint_as_float(w[k] << 16);
    f[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
  }
}
__device__ __forceinline__ void load8(const __half* p, float* f) {
  uint4 u = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float2 t = __half22float2(*reinterpret_cast<const __half2*>(&w[k]));
    f[2 * k] = t.x, f[2 * k + 1] = t.y;
  }
}
// The `bits` words of one 32-weight chunk: 128-bit loads where the alignment allows.
template <int BITS>
__device__ __forceinline__ void load_chunk(const uint32_t* p, uint32_t* w) {
  if constexpr (BITS % 4 == 0) {
#pragma unroll
    for (int k = 0; k < BITS / 4; ++k) {
      uint4 u = *reinterpret_cast<const uint4*>(p + 4 * k);
      w[4 * k] = u.x, w[4 * k + 1] = u.y, w[4 * k + 2] = u.z, w[4 * k + 3] = u.w;
    }
  } else if constexpr (BITS % 2 == 0) {
#pragma unroll
    for (int k = 0; k < BITS / 2; ++k) {
      uint2 u = *reinterpret_cast<const uint2*>(p + 2 * k);
      w[2 * k] = u.x, w[2 * k + 1] = u.y;
    }
  } else {
#pragma unroll
    for (int k = 0; k < BITS; ++k) w[k] = p[k];
  }
}
// Weight i of a chunk as a float, exactly. Widths that divide 32 (2, 4, 8 bits) never straddle
// a word: the weight is masked in place within its 16-bit half (one LOP3 puts it, times 2^s,
// into the mantissa of 2^23) and one FMA scales and removes the 2^23. Other widths shift the
// weight down first (a funnel shift across words where it straddles).
template <int BITS>
__device__ __forceinline__ float weight_at(const uint32_t* w, int i) {
  const int p = i * BITS, k = p >> 5, o = p & 31;
  constexpr uint32_t mask = (1u << BITS) - 1u;
  if constexpr (32 % BITS == 0) {
    const uint32_t half = o < 16 ? w[k] : (w[k] >> 16);
    const int s = o & 15;
    const float f = __uint_as_float((half & (mask << s)) | 0x4b000000u);
    return fmaf(f, 1.0f / float(1 << s), -float(1 << (23 - s)));
  } else {
    const uint32_t v = o + BITS <= 32 ? (w[k] >> o) : __funnelshift_r(w[k], w[k + 1], o);
    return __uint_as_float((v & mask) | 0x4b000000u) - 8388608.0f;
  }
}

// One warp: NC output columns for MR rows over the whole input. Each lane takes every 32nd
// chunk of 32 weights, U chunks at a time with the next U's loads in flight, and keeps
// float32 sums in registers; the warp adds them up at the end. Per chunk, x·q and Σx are summed
// per row and the group's scale and bias applied once: Σ x(s·q + b) = s·Σ xq + b·Σ x.
template <typename T, int BITS, int GS, int MR, int NC, int U>
__device__ __forceinline__ void qmv_tile(const T* x, const uint32_t* w, const T* scales,
                                         const T* biases, T* y, int M, int K, int N) {
  const int lane = threadIdx.x;
  const int row0 = blockIdx.x * MR;
  const int col0 = (blockIdx.y * blockDim.y + threadIdx.y) * NC;
  const int chunks = K / 32, row_words = chunks * BITS, groups = K / GS;
  const T* xr[MR];
#pragma unroll
  for (int r = 0; r < MR; ++r) xr[r] = x + size_t(min(row0 + r, M - 1)) * K;
  int cols[NC];
#pragma unroll
  for (int c = 0; c < NC; ++c) cols[c] = min(col0 + c, N - 1);
  float acc[MR][NC];
#pragma unroll
  for (int r = 0; r < MR; ++r)
#pragma unroll
    for (int c = 0; c < NC; ++c) acc[r][c] = 0.0f;

  // Two stages of U chunks each: the next stage's loads are issued before this one's math (one
  // stage at 8 rows, whose sums take the registers a second would need).
  constexpr int S = MR >= 8 ? 1 : 2;
  uint32_t wv[S][U][NC][BITS];
  float sc[S][U][NC], bi[S][U][NC];
  auto load = [&](int buf, int base) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int ch = base + 32 * u;
      if (ch < chunks) {
#pragma unroll
        for (int c = 0; c < NC; ++c) {
          load_chunk<BITS>(w + size_t(cols[c]) * row_words + ch * BITS, wv[buf][u][c]);
          sc[buf][u][c] = to_float(scales[size_t(cols[c]) * groups + ch * 32 / GS]);
          bi[buf][u][c] = to_float(biases[size_t(cols[c]) * groups + ch * 32 / GS]);
        }
      }
    }
  };
  auto math = [&](int buf, int base) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int ch = base + 32 * u;
      if (ch >= chunks) break;
      float dot[MR][NC], xs[MR];
#pragma unroll
      for (int r = 0; r < MR; ++r) {
        xs[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < NC; ++c) dot[r][c] = 0.0f;
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {  // 8 weights of each column at a time
        float q[NC][8];
#pragma unroll
        for (int c = 0; c < NC; ++c)
#pragma unroll
          for (int e = 0; e < 8; ++e) q[c][e] = weight_at<BITS>(wv[buf][u][c], j * 8 + e);
#pragma unroll
        for (int r = 0; r < MR; ++r) {
          float xf[8];
          load8(xr[r] + ch * 32 + j * 8, xf);
#pragma unroll
          for (int e = 0; e < 8; ++e) {
            xs[r] += xf[e];
#pragma unroll
            for (int c = 0; c < NC; ++c) dot[r][c] = fmaf(xf[e], q[c][e], dot[r][c]);
          }
        }
      }
#pragma unroll
      for (int r = 0; r < MR; ++r)
#pragma unroll
        for (int c = 0; c < NC; ++c)
          acc[r][c] = fmaf(sc[buf][u][c], dot[r][c], fmaf(bi[buf][u][c], xs[r], acc[r][c]));
    }
  };
  if constexpr (S == 1) {
    for (int base = lane; base < chunks; base += 32 * U) {
      load(0, base);
      math(0, base);
    }
  } else {
    load(0, lane);
    for (int base = lane; base < chunks; base += 64 * U) {
      load(S - 1, base + 32 * U);
      math(0, base);
      load(0, base + 64 * U);
      math(S - 1, base + 32 * U);
    }
  }

#pragma unroll
  for (int r = 0; r < MR; ++r)
#pragma unroll
    for (int c = 0; c < NC; ++c)
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) acc[r][c] += __shfl_xor_sync(0xffffffffu, acc[r][c], o);
#pragma unroll
  for (int r = 0; r < MR; ++r)
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int row = row0 + r, col = col0 + c;
      if (lane == ((r * NC + c) & 31) && row < M && col < N) store(y + size_t(row) * N + col, acc[r][c]);
    }
}

)";

// One kernel per format and tiling (MLX compiles each with NVRTC once per process; one kernel
// for every tile size would be allocated the registers of the largest).
constexpr const char* kSource = R"(
  const int M = x_shape[0], K = x_shape[1], N = w_shape[0];
  qmv_tile<T, BITS, GS, MR, NC, U>(x, w, scales, biases, y, M, K, N);
)";

struct Tiling {
  int rows;     // rows per tile: 1, 2, 4 or 8
  int columns;  // output columns per warp
  int ahead;    // chunks per load stage (two stages in flight below 8 rows)
  int warps;    // warps per block
};

// MLX_NATIVE_QMV_TILING="columns,ahead,warps" replaces the defaults (to measure other tilings).
std::optional<Tiling> tiling_override() {
  static const std::optional<Tiling> t = []() -> std::optional<Tiling> {
    const char* v = std::getenv("MLX_NATIVE_QMV_TILING");
    Tiling t{};
    if (!v || std::sscanf(v, "%d,%d,%d", &t.columns, &t.ahead, &t.warps) != 3) return std::nullopt;
    const auto in = [](int x, std::initializer_list<int> ok) {
      return std::find(ok.begin(), ok.end(), x) != ok.end();
    };
    if (!in(t.columns, {1, 2, 4, 8}) || !in(t.ahead, {1, 2, 4}) || !in(t.warps, {1, 2, 4, 8})) {
      std::cerr << "[mlx-native] MLX_NATIVE_QMV_TILING=" << v
                << " is not columns (1|2|4|8),ahead (1|2|4),warps (1|2|4|8): ignored\n";
      return std::nullopt;
    }
    return t;
  }();
  return t;
}

// Four columns a warp from 4096 outputs (else two), more chunks in flight where one row leaves
// registers free.
Tiling tiling(int M, int N, int bits) {
  Tiling t{M == 1 ? 1 : M == 2 ? 2 : M <= 4 ? 4 : 8, N >= 4096 ? 4 : 2, 1, 4};
  if (M == 1 && bits <= 4) t.ahead = 2;
  if (auto o = tiling_override()) t.columns = o->columns, t.ahead = o->ahead, t.warps = o->warps;
  return t;
}

const mx::fast::CustomKernelFunction& kernel() {
  static const auto* k = new mx::fast::CustomKernelFunction(mx::fast::cuda_kernel(
      "mlxn_qmv", {"x", "w", "scales", "biases"}, {"y"}, cuda_jit::compact(kSource),
      cuda_jit::compact(cuda_jit::kConversions) + cuda_jit::compact(kHeader), true, 0));
  return *k;
}

}  // namespace

bool supports(int bits, int group_size, int in_dims, mx::Dtype dtype, bool has_biases) {
  const bool bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8;
  const bool group_ok = group_size == 32 || group_size == 64 || group_size == 128;
  const bool dtype_ok = dtype == mx::float16 || dtype == mx::bfloat16 || dtype == mx::float32;
  return has_biases && bits_ok && group_ok && dtype_ok && in_dims > 0 && in_dims % 32 == 0;
}

mx::array matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                 const mx::array& biases, int bits, int group_size, mx::StreamOrDevice s) {
  if (x.ndim() != 2 || w.ndim() != 2) throw std::invalid_argument("[qmv] x and w must be matrices");
  const int M = x.shape(0), K = x.shape(1), N = w.shape(0);
  if (M < 1 || M > kMaxRows || !supports(bits, group_size, K, x.dtype(), true) ||
      w.shape(1) * 32 != K * bits || scales.dtype() != x.dtype() || biases.dtype() != x.dtype() ||
      scales.shape() != mx::Shape{N, K / group_size} || biases.shape() != scales.shape()) {
    throw std::invalid_argument("[qmv] unsupported shapes or format");
  }
  // Up to 8 rows share one read of the weights; more go in tiles of 8 (grid x, so a weight
  // block's tiles run together and the later ones read it from L2). Block: 32 × warps threads.
  const Tiling t = tiling(M, N, bits);
  const int tiles = (M + t.rows - 1) / t.rows;
  const int col_blocks = (N + t.warps * t.columns - 1) / (t.warps * t.columns);
  return kernel()({x, w, scales, biases}, {{M, N}}, {x.dtype()},
                  {32 * tiles, t.warps * col_blocks, 1}, {32, t.warps, 1},
                  {{"T", x.dtype()},
                   {"BITS", bits},
                   {"GS", group_size},
                   {"MR", t.rows},
                   {"NC", t.columns},
                   {"U", t.ahead}},
                  std::nullopt, false, s)[0];
}

}  // namespace mlxn::qmv
