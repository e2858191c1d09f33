#include "qmv_device.h"

namespace mlxn::qmv {

// Loads of 8 activations as float, and the value of one packed weight. MLX packs a row's b-bit
// weights as one little-endian bit stream (weight i in bits [i·b, i·b + b)), so a chunk of 32
// weights is exactly b uint32 words.
const char* const kDeviceHelpers = R"(
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
)";

// The kernel. Compile-time: T, BITS, GS, MR (rows a tile), NC (weight columns a tile), U (chunks
// a lane loads per stage), PRE (RMSNorm of x first), EPI (0: y; 1: y + res; 2: swiglu of the
// halves), EPS (the norm's epsilon as bits). The sizes come from the shapes (one compiled kernel
// serves every layer shape: MLX compiles custom kernels with NVRTC in each process, seconds each).
//
// A warp takes the tiles warp, warp + warps, ... (a grid no larger than the GPU holds at once),
// and a tile's chunks in stages of U per lane: the next stage's loads, of this tile or the
// warp's next one, are in flight while this stage's math runs, so each warp streams the weights
// without a gap at tile boundaries. Per chunk x·q and Σx are summed per row and the group's scale
// and bias applied once: Σ x(s·q + b) = s·Σ xq + b·Σ x. The warp adds its lanes' float32 sums
// in a fixed order (the same bits for a row whatever the batch) and rounds once, as MLX stores.
const char* const kDeviceBody = R"(
const int K = x_shape[x_ndim - 1], N = w_shape[0];
const int CH = K / 32, PER_LANE = (CH + 31) / 32, STAGES = (PER_LANE + U - 1) / U;
const int ROW_WORDS = CH * BITS, GROUPS = K / GS;
constexpr int TC = EPI == 2 ? NC / 2 : NC;
const int OUT = EPI == 2 ? N / 2 : N, TILES = (OUT + TC - 1) / TC;
int M = 1;
for (int d = 0; d + 1 < x_ndim; ++d) M *= x_shape[d];
const int lane = threadIdx.x, row0 = blockIdx.x * MR;
const int warp = blockIdx.y * blockDim.y + threadIdx.y, warps = gridDim.y * blockDim.y;
const T* xr[MR];
if constexpr (PRE) {
  // This block's rows RMS-normed into shared memory as MLX's rms_norm computes them: float32
  // squares summed per lane then over the warp, the normed value rounded to T, times the weight.
  extern __shared__ __align__(16) unsigned char smem[];
  T* xs = reinterpret_cast<T*>(smem);
  for (int r = threadIdx.y; r < MR; r += blockDim.y) {
    const T* src = x + size_t(min(row0 + r, M - 1)) * K;
    float sum = 0.0f;
    for (int i = lane * 8; i < K; i += 256) {
      float v[8];
      load8(src + i, v);
#pragma unroll
      for (int e = 0; e < 8; ++e) sum += v[e] * v[e];
    }
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const float inv = rsqrtf(sum / K + __int_as_float(EPS));
    for (int i = lane * 8; i < K; i += 256) {
      float v[8], g[8];
      load8(src + i, v);
      load8(nw + i, g);
#pragma unroll
      for (int e = 0; e < 8; ++e) store(xs + r * K + i + e, g[e] * rounded<T>(v[e] * inv));
    }
  }
  __syncthreads();
#pragma unroll
  for (int r = 0; r < MR; ++r) xr[r] = xs + r * K;
} else {
#pragma unroll
  for (int r = 0; r < MR; ++r) xr[r] = x + size_t(min(row0 + r, M - 1)) * K;
}
// Weight column c of tile t (gate column j and up column OUT + j for the swiglu epilogue).
auto column = [&](int t, int c) {
  if constexpr (EPI == 2) {
    const int j = min(t * TC + (c < TC ? c : c - TC), OUT - 1);
    return c < TC ? j : OUT + j;
  } else {
    return min(t * NC + c, N - 1);
  }
};
float acc[MR][NC];
#pragma unroll
for (int r = 0; r < MR; ++r)
#pragma unroll
  for (int c = 0; c < NC; ++c) acc[r][c] = 0.0f;
uint32_t wa[U][NC][BITS], wb[U][NC][BITS];
float sa[U][NC], ba[U][NC], sb[U][NC], bb[U][NC];
auto load = [&](uint32_t (&wv)[U][NC][BITS], float (&sc)[U][NC], float (&bi)[U][NC], int t,
                int stage) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int i = stage * U + u, ch = lane + 32 * i;
    if (i < PER_LANE && ch < CH) {
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const size_t col = column(t, c);
        load_chunk<BITS>(w + col * ROW_WORDS + ch * BITS, wv[u][c]);
        sc[u][c] = to_float(scales[col * GROUPS + ch * 32 / GS]);
        bi[u][c] = to_float(biases[col * GROUPS + ch * 32 / GS]);
      }
    }
  }
};
auto math = [&](const uint32_t (&wv)[U][NC][BITS], const float (&sc)[U][NC],
                const float (&bi)[U][NC], int stage) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int i = stage * U + u, ch = lane + 32 * i;
    if (i >= PER_LANE || ch >= CH) break;
    float dot[MR][NC], xsum[MR];
#pragma unroll
    for (int r = 0; r < MR; ++r) {
      xsum[r] = 0.0f;
#pragma unroll
      for (int c = 0; c < NC; ++c) dot[r][c] = 0.0f;
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // 8 weights of each column at a time
      float q[NC][8];
#pragma unroll
      for (int c = 0; c < NC; ++c)
#pragma unroll
        for (int e = 0; e < 8; ++e) q[c][e] = weight_at<BITS>(wv[u][c], j * 8 + e);
#pragma unroll
      for (int r = 0; r < MR; ++r) {
        float xf[8];
        load8(xr[r] + ch * 32 + j * 8, xf);
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          xsum[r] += xf[e];
#pragma unroll
          for (int c = 0; c < NC; ++c) dot[r][c] = fmaf(xf[e], q[c][e], dot[r][c]);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < MR; ++r)
#pragma unroll
      for (int c = 0; c < NC; ++c)
        acc[r][c] = fmaf(sc[u][c], dot[r][c], fmaf(bi[u][c], xsum[r], acc[r][c]));
  }
};
auto finish = [&](int t) {
#pragma unroll
  for (int r = 0; r < MR; ++r)
#pragma unroll
    for (int c = 0; c < NC; ++c)
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) acc[r][c] += __shfl_xor_sync(0xffffffffu, acc[r][c], o);
#pragma unroll
  for (int r = 0; r < MR; ++r) {
    const int row = row0 + r;
#pragma unroll
    for (int c = 0; c < TC; ++c) {
      const int col = t * TC + c;
      if (lane != ((r * TC + c) & 31) || row >= M || col >= OUT) continue;
      float v = acc[r][c];
      if constexpr (EPI == 1) v = rounded<T>(v) + to_float(res[size_t(row) * OUT + col]);
      if constexpr (EPI == 2) v = swiglu_of<T>(rounded<T>(v), rounded<T>(acc[r][(c + TC) % NC]));
      store(y + size_t(row) * OUT + col, v);
    }
#pragma unroll
    for (int c = 0; c < NC; ++c) acc[r][c] = 0.0f;
  }
};
int t = warp, stage = 0;
if (t < TILES) load(wa, sa, ba, t, 0);
while (t < TILES) {
  int t1 = t, s1 = stage + 1;
  if (s1 == STAGES) s1 = 0, t1 += warps;
  if (t1 < TILES) load(wb, sb, bb, t1, s1);
  math(wa, sa, ba, stage);
  if (stage == STAGES - 1) finish(t);
  if (t1 >= TILES) break;
  int t2 = t1, s2 = s1 + 1;
  if (s2 == STAGES) s2 = 0, t2 += warps;
  if (t2 < TILES) load(wa, sa, ba, t2, s2);
  math(wb, sb, bb, s1);
  if (s1 == STAGES - 1) finish(t1);
  t = t2, stage = s2;
}
)";

}  // namespace mlxn::qmv
