#include "qmv_kernel.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "jit.h"
#include "qmv_device.h"

namespace mlxn::qmv {

namespace {

// Shared memory a block may take for its normed rows (MR·K values).
constexpr size_t kMaxSharedBytes = 100 * 1024;

struct Tiling {
  int rows;     // rows per tile: 1, 2, 4 or 8
  int columns;  // weight columns per tile (a warp's)
  int ahead;    // chunks per lane per load stage (two stages in flight)
  int warps;    // warps per block
  int grid;     // warps in the grid at most (each then takes several tiles)
};

// MLX_NATIVE_QMV_TILING="columns,ahead,warps[,grid]" replaces the defaults (to measure others).
std::optional<Tiling> tiling_override() {
  static const std::optional<Tiling> t = []() -> std::optional<Tiling> {
    const char* v = std::getenv("MLX_NATIVE_QMV_TILING");
    Tiling t{0, 0, 0, 0, 0};
    if (!v) return std::nullopt;
    const int n = std::sscanf(v, "%d,%d,%d,%d", &t.columns, &t.ahead, &t.warps, &t.grid);
    const auto in = [](int x, std::initializer_list<int> ok) {
      return std::find(ok.begin(), ok.end(), x) != ok.end();
    };
    if (n < 3 || !in(t.columns, {2, 4, 8}) || !in(t.ahead, {1, 2, 4}) ||
        !in(t.warps, {1, 2, 4, 8}) || (n == 4 && t.grid < 1)) {
      std::cerr << "[mlx-native] MLX_NATIVE_QMV_TILING=" << v
                << " is not columns (2|4|8),ahead (1|2|4),warps (1|2|4|8)[,grid warps]: ignored\n";
      return std::nullopt;
    }
    if (n == 3) t.grid = 0;
    return t;
  }();
  return t;
}

// Four columns a tile up to 2 rows (two above, for registers: 96 a thread at one row, about 20
// warps an SM), one chunk a lane a stage, and about 16 warps for each of an H200's 132 SMs in the
// grid (fewer where there are fewer tiles; a smaller GPU runs the rest as blocks finish).
Tiling tiling(int M) {
  Tiling t{M == 1 ? 1 : M == 2 ? 2 : M <= 4 ? 4 : 8, M <= 2 ? 4 : 2, 1, 4, 2048};
  if (auto o = tiling_override()) {
    t.columns = o->columns, t.ahead = o->ahead, t.warps = o->warps;
    if (o->grid > 0) t.grid = o->grid;
  }
  return t;
}

const char* cuda_type(mx::Dtype::Val t) {
  return t == mx::Dtype::Val::bfloat16  ? "__nv_bfloat16"
         : t == mx::Dtype::Val::float16 ? "__half"
                                        : "float";
}

int bits_of(float v) {
  int i;
  std::memcpy(&i, &v, sizeof i);
  return i;
}

// What makes one compiled kernel: its compile-time constants (in the source, not template
// arguments: MLX rebuilds those into the source on every call, about 0.12 µs each) and its shared
// memory. Variants are few per model: the format, the rows a tile and the fusion.
struct Variant {
  mx::Dtype::Val dtype;
  int bits, group_size, rows, columns, ahead, norm, epilogue, eps_bits, shared_bytes;
  auto key() const {
    return std::array<int, 10>{int(dtype), bits, group_size, rows,     columns,
                               ahead,      norm, epilogue,   eps_bits, shared_bytes};
  }
};

using KernelFn = mx::fast::CustomKernelFunction;
// Looked up on every call (an integer key); the source is written once, when first asked for.
const KernelFn& kernel_for(const Variant& v) {
  static std::mutex mutex;
  static auto* kernels = new std::map<std::array<int, 10>, std::unique_ptr<KernelFn>>();
  std::lock_guard<std::mutex> lock(mutex);
  auto& k = (*kernels)[v.key()];
  if (!k) {
    static const std::string header =
        cuda_jit::compact(cuda_jit::kConversions) + cuda_jit::compact(kDeviceHelpers);
    char constants[320];
    std::snprintf(
        constants, sizeof(constants),
        "using T = %s;\nconstexpr int BITS = %d, GS = %d, MR = %d, NC = %d, U = %d, PRE = %d, "
        "EPI = %d, EPS = %d;\n",
        cuda_type(v.dtype), v.bits, v.group_size, v.rows, v.columns, v.ahead, v.norm, v.epilogue,
        v.eps_bits);
    k = std::make_unique<KernelFn>(mx::fast::cuda_kernel(
        "mlxn_qmv", {"x", "w", "scales", "biases", "nw", "res"}, {"y"},
        constants + cuda_jit::compact(kDeviceBody), header, true, v.shared_bytes));
  }
  return *k;
}

bool float_type(mx::Dtype t) {
  return t == mx::float16 || t == mx::bfloat16 || t == mx::float32;
}

}  // namespace

bool supports(int bits, int group_size, int in_dims, mx::Dtype dtype, bool has_biases) {
  const bool bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8;
  const bool group_ok = group_size == 32 || group_size == 64 || group_size == 128;
  return has_biases && bits_ok && group_ok && float_type(dtype) && in_dims > 0 && in_dims % 32 == 0;
}

bool can_fuse(const Fusion& f, int in_dims, int rows, mx::Dtype dtype) {
  // Each fusion and tile height is a kernel MLX compiles in each process (seconds): fused up to
  // the 2-row tile, where a step's host time matters most.
  if (f.residual && f.swiglu) return false;
  if (!f.norm && !f.residual && !f.swiglu) return true;
  if (rows > 2) return false;
  if (!f.norm) return true;
  const size_t shared = size_t(tiling(rows).rows) * in_dims * mx::size_of(dtype);
  return in_dims % 256 == 0 && shared <= kMaxSharedBytes && f.eps > 0.0f;
}

mx::array matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                 const mx::array& biases, int bits, int group_size, const Fusion& f,
                 mx::StreamOrDevice s) {
  if (x.ndim() < 1 || w.ndim() != 2 || x.shape(-1) < 1)
    throw std::invalid_argument("[qmv] x must have an input axis and w must be a matrix");
  const int K = x.shape(-1), M = int(x.size() / K), N = w.shape(0);
  if (M < 1 || M > kMaxRows || !supports(bits, group_size, K, x.dtype(), true) ||
      w.shape(1) * 32 != K * bits || scales.dtype() != x.dtype() || biases.dtype() != x.dtype() ||
      scales.shape() != mx::Shape{N, K / group_size} || biases.shape() != scales.shape()) {
    throw std::invalid_argument("[qmv] unsupported shapes or format");
  }
  mx::Shape out_shape = x.shape();
  out_shape.back() = f.swiglu ? N / 2 : N;
  if ((f.swiglu && N % 2 != 0) || !can_fuse(f, K, M, x.dtype()) ||
      (f.norm && (f.norm->dtype() != x.dtype() || f.norm->shape() != mx::Shape{K})) ||
      (f.residual && (f.residual->dtype() != x.dtype() || f.residual->shape() != out_shape))) {
    throw std::invalid_argument("[qmv] unsupported fusion for these shapes");
  }
  // Up to 8 rows share one read of the weights; more go in tiles of 8 (grid x, so a weight
  // block's tiles run together and the later ones read it from L2). Block: 32 × warps threads.
  const Tiling t = tiling(M);
  const int columns = f.swiglu ? std::max(t.columns, 2) : t.columns;
  const int out = out_shape.back(), per_tile = f.swiglu ? columns / 2 : columns;
  const int tiles = (out + per_tile - 1) / per_tile;
  const int grid_warps = std::min(tiles, t.grid);
  const int col_blocks = (grid_warps + t.warps - 1) / t.warps;
  const int shared = f.norm ? int(size_t(t.rows) * K * mx::size_of(x.dtype())) : 0;
  const Variant v{x.dtype().val(),
                  bits,
                  group_size,
                  t.rows,
                  columns,
                  t.ahead,
                  f.norm ? 1 : 0,
                  f.residual ? 1
                  : f.swiglu ? 2
                             : 0,
                  f.norm ? bits_of(f.eps) : 0,
                  shared};
  // Unused inputs are bound to x (the kernel never reads them; a new array costs host time).
  return kernel_for(v)({x, w, scales, biases, f.norm ? *f.norm : x, f.residual ? *f.residual : x},
                       {out_shape}, {x.dtype()},
                       {32 * ((M + t.rows - 1) / t.rows), t.warps * col_blocks, 1},
                       {32, t.warps, 1}, {}, std::nullopt, false, s)[0];
}

}  // namespace mlxn::qmv
