#include "qmv_device.h"

namespace mlxn::qmv {

// Tensor-core helpers: a streaming 128-bit load (weights are read once: kept out of L1, which
// holds the activations every warp reads), one m16n8k16 MMA with float32 sums, and the two
// 16-bit values of a packed pair: bits [s, s + 4) and [s + 16, s + 20) of w put into the low
// mantissa bits of `magic`, one LOP3 after the shift.
const char* const kMmaHelpers = R"(
__device__ __forceinline__ void mma(const __nv_bfloat16*, float (&d)[4], uint32_t a0, uint32_t a1,
                                    uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma(const __half*, float (&d)[4], uint32_t a0, uint32_t a1,
                                    uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void copy16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n"
               ::"r"(unsigned(__cvta_generic_to_shared(dst))), "l"(src));
}
__device__ __forceinline__ void copy4(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n"
               ::"r"(unsigned(__cvta_generic_to_shared(dst))), "l"(src));
}
// The aligned 4-byte word holding a 16-bit value (inside the value's allocation whenever the
// allocation is 4-byte aligned), and the value again from that word.
template <typename T>
__device__ __forceinline__ const void* aligned4(const T* p) {
  return reinterpret_cast<const void*>(reinterpret_cast<size_t>(p) & ~size_t(3));
}
template <typename T>
__device__ __forceinline__ float half_of(uint32_t word, const T* p) {
  const uint16_t bits = (reinterpret_cast<size_t>(p) & 2) ? uint16_t(word >> 16) : uint16_t(word);
  return to_float(*reinterpret_cast<const T*>(&bits));
}
__device__ __forceinline__ uint32_t nibble_pair(uint32_t w, int s, uint32_t mask, uint32_t magic) {
  return ((w >> s) & mask) | magic;
}
)";

// The tensor-core kernel, for 4- and 8-bit weights and float16 or bfloat16 activations (input
// sizes a multiple of one k-block, below). Compile-time: T, BITS, GS, MR (rows a tile: 1, 2, 4
// or 8), U (k-blocks a warp loads per stage), PRE, EPI, EPS as the CUDA-core kernel has them.
//
// A block computes 16 weight columns (8 gate and the 8 matching up columns for the swiglu
// epilogue) for MR rows; its warps split the input dimension in k-blocks (k-block i goes to warp
// i mod warps) and add their sums in smem, in warp order, at the end. In a warp, lane (g, c) =
// (lane / 4, lane % 4) loads 4 packed words of columns g and g + 8 for "slot" c of each k-block
// (a k-block is 4 slots of 4 words a column: 128 weights at 4 bits, 64 at 8).
//
// The weights go into the MMA's A operand as exact 16-bit integers, offset: a nibble n becomes
// MAGIC + n (128 + n in bfloat16, 1024 + n in float16; an 8-bit weight's high nibble 2048 + 16n or
// 16384 + 16n, whose ulp is 16). The MMA sums over its k in any order the operands agree on, so a
// lane's 4 values of a word are paired as the LOP3 leaves them and the activations permuted to
// match. B's column n is (row n / 4, slot n % 4): only the lane whose slot is n % 4 loads x there,
// the rest stay zero, so each (row, slot) is its own float32 sum C of (q + OFF)·x, and a row's
// sums are the same whatever rows share the MMA. Each k-block then adds, per (column, row, slot),
// s·C + (b − OFF·s)·Σx = s·Σ q·x + b·Σ x, with Σx over the slot summed once per warp into smem.
const char* const kMmaBody = R"(
const int K = x_shape[x_ndim - 1], N = w_shape[0];
constexpr bool BF16 = BF != 0;
// Words a lane loads per column and k-block, weights per word, a slot's and a k-block's weights,
// row pairs, output columns a block.
constexpr int WPS = 4, E = 32 / BITS, SK = WPS * E, KB = 4 * SK;
constexpr int P = (MR + 1) / 2, TC = EPI == 2 ? 8 : 16, S = U;
constexpr uint32_t LO = BF16 ? 0x43004300u : 0x64006400u, HI = BF16 ? 0x45004500u : 0x74007400u;
constexpr float OFF = BITS == 8 ? (BF16 ? 2176.0f : 17408.0f) : (BF16 ? 128.0f : 1024.0f);
const int KBLOCKS = K / KB, SLOTS = K / SK, ROW_WORDS = K * BITS / 32, GROUPS = K / GS;
const int OUT = EPI == 2 ? N / 2 : N;
int M = 1;
for (int d = 0; d + 1 < x_ndim; ++d) M *= x_shape[d];
const int lane = threadIdx.x, g = lane >> 2, c = lane & 3;
const int warp = threadIdx.y, warps = blockDim.y, row0 = blockIdx.x * MR, tile = blockIdx.y;
extern __shared__ __align__(16) unsigned char smem[];
T* xs = reinterpret_cast<T*>(smem);
float* xsum = reinterpret_cast<float*>(smem + (PRE ? MR * K * sizeof(T) : 0));
float* red = xsum + MR * SLOTS;
if constexpr (PRE) norm_rows<T, MR>(x, nw, xs, row0, M, K, __int_as_float(EPS));
auto xrow = [&](int r) -> const T* {
  if constexpr (PRE) return xs + r * K;
  return x + size_t(min(row0 + r, M - 1)) * K;
};
// Weight column of A row m (0..15).
auto column = [&](int m) {
  if constexpr (EPI == 2) {
    const int j = min(tile * 8 + (m & 7), OUT - 1);
    return m < 8 ? j : OUT + j;
  } else {
    return min(tile * 16 + m, N - 1);
  }
};
const int col[2] = {column(g), column(g + 8)};
const uint32_t* wrow[2] = {w + size_t(col[0]) * ROW_WORDS + c * WPS,
                           w + size_t(col[1]) * ROW_WORDS + c * WPS};
const T* srow[2] = {scales + size_t(col[0]) * GROUPS, scales + size_t(col[1]) * GROUPS};
const T* brow[2] = {biases + size_t(col[0]) * GROUPS, biases + size_t(col[1]) * GROUPS};
// The B lane (g, c) loads x for row 2p + g / 4 of pair p at its own slot c, if g % 4 is c.
const T* xb[P];
bool xon[P];
#pragma unroll
for (int p = 0; p < P; ++p) {
  const int r = 2 * p + (g >> 2);
  xon[p] = (g & 3) == c && r < MR;
  xb[p] = xrow(min(r, MR - 1)) + c * SK;
}
// The nibble mask in a register the compiler cannot rebuild from a constant (LOP3 takes one
// immediate; the compiler would otherwise move the mask into a register before every LOP3).
const uint32_t nib = 0x000F000Fu | (threadIdx.x & 32u);
// This warp's k-blocks: warp, warp + warps, ...
const int NK = KBLOCKS > warp ? (KBLOCKS - warp + warps - 1) / warps : 0;
// The C lane (g, c) holds columns g, g + 8 (index h) and slots s0, s0 + 1 (index e) of row
// c / 2 + 2p; a k-block's scales and biases [h][e] (one group for both slots when a group spans
// two).
const int s0 = 2 * (c & 1);
constexpr int NE = GS >= 2 * SK ? 1 : 2;
// The weights stream through a ring of S k-blocks in smem, copied asynchronously (cp.async) S - 1
// k-blocks ahead: each lane copies its own 2 × 16 bytes of weights and the aligned 4-byte words
// holding its scales and biases, and reads back only what it copied, so a lane waits for its own
// copies and never for another's. The bytes in flight are the ring's, not registers'.
constexpr int RB = 32 + 16 * NE;  // bytes of a lane's k-block in the ring
unsigned char* ring = reinterpret_cast<unsigned char*>(red + warps * MR * 16) +
                      (size_t(warp) * S * 32 + lane) * RB;
auto issue = [&](int i) {
  if (i < NK) {
    const unsigned kb = warp + i * warps;
    unsigned char* dst = ring + size_t(i % S) * 32 * RB;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      copy16(dst + 16 * h, wrow[h] + kb * 4 * WPS);
#pragma unroll
      for (int e = 0; e < NE; ++e) {
        const unsigned at = (kb * KB + unsigned(s0 + e) * SK) / GS;
        copy4(dst + 32 + 8 * (NE * h + e), aligned4(srow[h] + at));
        copy4(dst + 36 + 8 * (NE * h + e), aligned4(brow[h] + at));
      }
    }
  }
  asm volatile("cp.async.commit_group;\n" ::);
};
float acc[P][4];
#pragma unroll
for (int p = 0; p < P; ++p)
#pragma unroll
  for (int e = 0; e < 4; ++e) acc[p][e] = 0.0f;
#pragma unroll
for (int i = 0; i + 1 < S; ++i) issue(i);
// Σx of each (row, slot) of this warp's k-blocks, in float32 in order, while the copies fly.
for (int i = lane; i < NK * 4 * MR; i += 32) {
  const int r = i / (NK * 4), kb = warp + (i % (NK * 4) / 4) * warps, s = i % 4;
  const T* src = xrow(r) + kb * KB + s * SK;
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < SK; k += 8) {
    float v[8];
    load8(src + k, v);
#pragma unroll
    for (int e = 0; e < 8; ++e) sum += v[e];
  }
  xsum[r * SLOTS + kb * 4 + s] = sum;
}
__syncwarp();
for (int i = 0; i < NK; ++i) {
  issue(i + S - 1);
  asm volatile("cp.async.wait_group %0;\n" ::"n"(S - 1));
  const unsigned kb = warp + i * warps;
  const unsigned char* src = ring + size_t(i % S) * 32 * RB;
  const uint4 wq0 = *reinterpret_cast<const uint4*>(src);
  const uint4 wq1 = *reinterpret_cast<const uint4*>(src + 16);
  const uint32_t w0[4] = {wq0.x, wq0.y, wq0.z, wq0.w}, w1[4] = {wq1.x, wq1.y, wq1.z, wq1.w};
  // The lane's B values (zero where its B column is another slot's).
  uint32_t xv[P][WPS][4];
#pragma unroll
  for (int p = 0; p < P; ++p)
#pragma unroll
    for (int j = 0; j < WPS; ++j) {
      xv[p][j][0] = xv[p][j][1] = xv[p][j][2] = xv[p][j][3] = 0u;
      if (xon[p]) {
        const T* xp = xb[p] + kb * KB + j * E;
        if constexpr (BITS == 4) {
          const uint4 v = *reinterpret_cast<const uint4*>(xp);
          xv[p][j][0] = v.x, xv[p][j][1] = v.y, xv[p][j][2] = v.z, xv[p][j][3] = v.w;
        } else {
          const uint2 v = *reinterpret_cast<const uint2*>(xp);
          xv[p][j][0] = v.x, xv[p][j][1] = v.y;
        }
      }
    }
  float d[P][4];
#pragma unroll
  for (int p = 0; p < P; ++p)
#pragma unroll
    for (int e = 0; e < 4; ++e) d[p][e] = 0.0f;
#pragma unroll
  for (int j = 0; j < WPS; ++j) {
    // Word j: 4-bit values (q0, q4), (q1, q5), (q2, q6), (q3, q7); 8-bit low nibbles (w0, w2),
    // (w1, w3) and high nibbles likewise.
    const uint32_t a[4][2] = {
        {nibble_pair(w0[j], 0, nib, LO), nibble_pair(w1[j], 0, nib, LO)},
        {nibble_pair(w0[j], 4, nib, BITS == 8 ? HI : LO),
         nibble_pair(w1[j], 4, nib, BITS == 8 ? HI : LO)},
        {nibble_pair(w0[j], 8, nib, LO), nibble_pair(w1[j], 8, nib, LO)},
        {nibble_pair(w0[j], 12, nib, BITS == 8 ? HI : LO),
         nibble_pair(w1[j], 12, nib, BITS == 8 ? HI : LO)}};
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const uint32_t* x4 = xv[p][j];
      if constexpr (BITS == 4) {
        mma(static_cast<const T*>(nullptr), d[p], a[0][0], a[0][1], a[1][0], a[1][1],
            __byte_perm(x4[0], x4[2], 0x5410), __byte_perm(x4[0], x4[2], 0x7632));
        mma(static_cast<const T*>(nullptr), d[p], a[2][0], a[2][1], a[3][0], a[3][1],
            __byte_perm(x4[1], x4[3], 0x5410), __byte_perm(x4[1], x4[3], 0x7632));
      } else {
        const uint32_t b0 = __byte_perm(x4[0], x4[1], 0x5410);
        const uint32_t b1 = __byte_perm(x4[0], x4[1], 0x7632);
        mma(static_cast<const T*>(nullptr), d[p], a[0][0], a[0][1], a[2][0], a[2][1], b0, b1);
        mma(static_cast<const T*>(nullptr), d[p], a[1][0], a[1][1], a[3][0], a[3][1], b0, b1);
      }
    }
  }
  // The scale and bias words as copied: the value is the word's half its address named.
  float sv[2][NE], bv[2][NE];
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int e = 0; e < NE; ++e) {
      const unsigned at = (kb * KB + unsigned(s0 + e) * SK) / GS;
      const uint2 sb = *reinterpret_cast<const uint2*>(src + 32 + 8 * (NE * h + e));
      sv[h][e] = half_of<T>(sb.x, srow[h] + at);
      bv[h][e] = half_of<T>(sb.y, brow[h] + at);
    }
#pragma unroll
  for (int p = 0; p < P; ++p) {
    const int r = 2 * p + (c >> 1);
    if (r >= MR) continue;
    const float2 sx = *reinterpret_cast<const float2*>(xsum + r * SLOTS + kb * 4 + s0);
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float sc = sv[h][e % NE], bi = bv[h][e % NE];
        float& v = acc[p][2 * h + e];
        v = fmaf(sc, d[p][2 * h + e], fmaf(fmaf(-OFF, sc, bi), e ? sx.y : sx.x, v));
      }
  }
}
asm volatile("cp.async.wait_all;\n" ::);
// A lane's two slots, then its neighbour's two (the same row): the row's sum for columns g, g + 8.
#pragma unroll
for (int p = 0; p < P; ++p) {
  float v[2] = {acc[p][0] + acc[p][1], acc[p][2] + acc[p][3]};
#pragma unroll
  for (int h = 0; h < 2; ++h) v[h] += __shfl_xor_sync(0xffffffffu, v[h], 1);
  const int r = 2 * p + (c >> 1);
  if ((c & 1) == 0 && r < MR) {
    red[(warp * MR + r) * 16 + g] = v[0];
    red[(warp * MR + r) * 16 + g + 8] = v[1];
  }
}
__syncthreads();
for (int t = warp * 32 + lane; t < MR * TC; t += warps * 32) {
  const int r = t / TC, m = t % TC, row = row0 + r, out_col = tile * TC + m;
  float v = 0.0f, up = 0.0f;
  for (int k = 0; k < warps; ++k) {
    v += red[(k * MR + r) * 16 + m];
    if constexpr (EPI == 2) up += red[(k * MR + r) * 16 + m + 8];
  }
  if (row < M && out_col < OUT) {
    if constexpr (EPI == 1) v = rounded<T>(v) + to_float(res[size_t(row) * OUT + out_col]);
    if constexpr (EPI == 2) v = swiglu_of<T>(rounded<T>(v), rounded<T>(up));
    store(y + size_t(row) * OUT + out_col, v);
  }
}
)";

}  // namespace mlxn::qmv
