// The CUDA decode kernel (native/engine/cuda/qmv_kernel.h) against MLX's quantized_matmul.
//
//   qmv_test backend   prints the backend MLX runs on ("cuda", "cpu", "metal")
//   qmv_test refuse    bad shapes and formats are refused with an error before anything runs
//                      (on every backend)
//   qmv_test check     exactness on random weights: every format the kernel takes (2/3/4/5/6/8
//                      bits × groups 32/64/128) in bfloat16, 4 and 8 bits in float16 too, 4
//                      bits g64 in float32, each at 1 to 64 rows; prints "ok ..."/"FAIL ..."
//                      lines, then "N passed, N failed" (--bits B: that width only); and the
//                      fused variants (norm before, residual or swiglu after) against the
//                      kernel with the MLX operations they replace around it; and that a row
//                      has the same bits at 1 to 8 rows a call
//   qmv_test bench     µs and GB/s per call at 1, 4, 8, 16, 64 rows (--rows) for Llama-3.1-8B's
//                      projection shapes, kernel vs quantized_matmul (4-bit g64 bfloat16 unless
//                      --bits/--group/--dtype; --baseline no: the kernel only), weights cycled
//                      through copies larger than L2. MLX_NATIVE_QMV_TILING picks the kernel's
//                      tiling (qmv_kernel.cpp), for check and bench alike.
//
// The reference is float32 on the CPU: x · (q·scale + bias)ᵀ, the weights dequantized in float32.
// The kernel sums in float32 and rounds once, so it must be within one rounding of the
// activation dtype of it (relative to the output's largest magnitude), and no further from
// quantized_matmul than quantized_matmul is from the reference (which rounds the dequantized
// weights to the activation dtype and sums in it) plus that rounding.
// On a backend other than CUDA, check and bench print "not run" and exit 0.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/blocks.h"
#include "engine/cuda/qmv_kernel.h"
#include "engine/device.h"
#include "engine/layers.h"
#include "support/kernel_checks.h"

using namespace mlxn;

namespace {

float max_abs(const mx::array& a) {
  return mx::max(mx::abs(mx::astype(a, mx::float32))).item<float>();
}

// Relative rounding unit of a dtype.
float unit(mx::Dtype t) {
  return t == mx::bfloat16 ? 0x1p-8f : t == mx::float16 ? 0x1p-11f : 1e-5f;
}

struct Case {
  int bits, group, rows, k, n;
  mx::Dtype dtype;
};

// Returns "" or why the case failed; fills the two distances.
std::string run_case(const Case& c, float& e_kernel, float& e_qmm) {
  auto key = mx::random::key(uint64_t(c.bits * 1000003 + c.group * 1009 + c.rows * 7 + c.n));
  auto [wkey, xkey] = mx::random::split(key);
  auto w = mx::astype(mx::random::normal({c.n, c.k}, mx::float32, 0.0f, 0.05f, wkey), c.dtype);
  auto q = mx::quantize(w, c.group, c.bits, "affine");
  auto x = mx::astype(mx::random::normal({c.rows, c.k}, mx::float32, 0.0f, 1.0f, xkey), c.dtype);
  auto y = qmv::matmul(x, q[0], q[1], q[2], c.bits, c.group);
  auto base = mx::quantized_matmul(x, q[0], q[1], q[2], true, c.group, c.bits, "affine");
  // The weights dequantized in float32 (q·scale + bias, unrounded): the kernel's arithmetic.
  auto dq = mx::dequantize(q[0], mx::astype(q[1], mx::float32), mx::astype(q[2], mx::float32),
                           c.group, c.bits, "affine");
  mx::eval({y, base, dq});
  auto ref = mx::matmul(mx::astype(x, mx::float32, mx::Device::cpu),
                        mx::transpose(dq, {1, 0}, mx::Device::cpu), mx::Device::cpu);
  mx::eval(ref);
  if (y.shape() != ref.shape() || y.dtype() != c.dtype) return "wrong shape or dtype";
  const float scale = std::max(max_abs(ref), 1e-20f);
  e_kernel = max_abs(mx::subtract(mx::astype(y, mx::float32), ref)) / scale;
  e_qmm = max_abs(mx::subtract(mx::astype(base, mx::float32), ref)) / scale;
  const float between =
      max_abs(mx::subtract(mx::astype(y, mx::float32), mx::astype(base, mx::float32))) / scale;
  if (!std::isfinite(e_kernel) || e_kernel > unit(c.dtype))
    return "off the float32 reference by " + std::to_string(e_kernel);
  if (between > e_qmm + unit(c.dtype)) return "off quantized_matmul by " + std::to_string(between);
  return "";
}

// The kernel with `f`'s steps against the unfused kernel between the MLX operations they replace
// (rms_norm; add; split and silu·up as the engine computes them). A residual add is bit for bit;
// the norm's sum and the sigmoid's float32 arithmetic may differ in order or contraction and round
// a value the other way, so with either the output is within two roundings of the dtype
// (relative to its largest magnitude).
std::string run_fused(const Case& c, const char* what) {
  const std::string steps = what;
  auto key = mx::random::key(uint64_t(c.bits * 7919 + c.rows * 31 + c.n + steps.size()));
  auto keys = mx::random::split(key, 4);
  auto slice = [&](int i) { return mx::reshape(mx::slice(keys, {i, 0}, {i + 1, 2}), {2}); };
  auto q = mx::quantize(
      mx::astype(mx::random::normal({c.n, c.k}, mx::float32, 0.0f, 0.05f, slice(0)), c.dtype),
      c.group, c.bits, "affine");
  auto x =
      mx::astype(mx::random::normal({c.rows, 1, c.k}, mx::float32, 0.0f, 2.0f, slice(1)), c.dtype);
  auto nw = mx::astype(mx::random::uniform(0.5f, 1.5f, {c.k}, mx::float32, slice(2)), c.dtype);
  const bool norm = steps.find("norm") != std::string::npos;
  const bool swiglu = steps.find("swiglu") != std::string::npos;
  const bool residual = steps.find("residual") != std::string::npos;
  auto r = mx::astype(
      mx::random::normal({c.rows, 1, swiglu ? c.n / 2 : c.n}, mx::float32, 0.0f, 1.0f, slice(3)),
      c.dtype);
  qmv::Fusion f;
  if (norm) f.norm = nw, f.eps = 1e-5f;
  if (residual) f.residual = r;
  f.swiglu = swiglu;
  auto got = qmv::matmul(x, q[0], q[1], q[2], c.bits, c.group, f);
  auto want =
      qmv::matmul(norm ? mx::fast::rms_norm(x, nw, 1e-5f) : x, q[0], q[1], q[2], c.bits, c.group);
  if (swiglu) {
    auto halves = mx::split(want, 2, -1);
    want = mlxn::swiglu(halves[0], halves[1]);
  }
  if (residual) want = mx::add(want, r);
  mx::eval({got, want});
  if (got.shape() != want.shape() || got.dtype() != c.dtype) return "wrong shape or dtype";
  const float scale = std::max(max_abs(want), 1e-20f);
  const float d =
      max_abs(mx::subtract(mx::astype(got, mx::float32), mx::astype(want, mx::float32)));
  if (!std::isfinite(d) || d / scale > (norm || swiglu ? 2 * unit(c.dtype) : 0.0f))
    return "off the unfused operations by " + std::to_string(d / scale);
  return "";
}

// A row's output has the same bits whatever rows share the call (1 to 8: every tile height), so
// a sequence decodes the same alone or batched.
std::string run_rows_agree(const Case& c) {
  auto key = mx::random::key(uint64_t(c.bits * 131 + c.group + c.k));
  auto [wkey, xkey] = mx::random::split(key);
  auto q = mx::quantize(
      mx::astype(mx::random::normal({c.n, c.k}, mx::float32, 0.0f, 0.05f, wkey), c.dtype), c.group,
      c.bits, "affine");
  auto x = mx::astype(mx::random::normal({8, c.k}, mx::float32, 0.0f, 1.0f, xkey), c.dtype);
  auto all = qmv::matmul(x, q[0], q[1], q[2], c.bits, c.group);
  for (int r : {1, 2, 3, 4, 5, 7}) {
    auto some = qmv::matmul(mx::slice(x, {0, 0}, {r, c.k}), q[0], q[1], q[2], c.bits, c.group);
    if (!mx::array_equal(some, mx::slice(all, {0, 0}, {r, c.n})).item<bool>())
      return "rows differ between " + std::to_string(r) + " and 8 rows a call";
  }
  return "";
}

// `only_bits` > 0: that width's cases only (checks of several widths can run side by side).
int check(int only_bits) {
  std::vector<Case> cases;
  const std::vector<int> rows{1, 2, 3, 4, 5, 8, 9, 16, 33, 64};
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int group : {32, 64, 128}) {
      for (int r : rows) cases.push_back({bits, group, r, 1024, 300, mx::bfloat16});
      if (bits == 4 || bits == 8) {
        for (int r : rows) cases.push_back({bits, group, r, 1024, 300, mx::float16});
      }
    }
  }
  for (int r : rows) cases.push_back({4, 64, r, 1024, 300, mx::float32});
  // Inputs of one group (K <= group size: tiny models), where MLX 0.32.4's CUDA quantized_matmul
  // is wrong from 3 rows (layers.cpp) and the engine relies on the kernel up to 64 rows.
  for (int r : {1, 3, 8, 18, 64}) {
    cases.push_back({4, 64, r, 64, 128, mx::float32});
    cases.push_back({8, 64, r, 64, 96, mx::bfloat16});
  }
  // Wide outputs (four columns a warp) and a long input, ragged in both.
  for (int r : {1, 3, 8, 64}) {
    cases.push_back({4, 64, r, 4096, 4100, mx::bfloat16});
    cases.push_back({8, 128, r, 4096 + 1024, 4098, mx::float16});
    cases.push_back({5, 32, r, 1056, 4097, mx::bfloat16});
  }
  std::vector<tools::Check> checks;
  // The fusions at the row counts that take them (1 and 2), in each dtype.
  for (const Case& f :
       {Case{4, 64, 0, 1024, 300, mx::bfloat16}, Case{8, 32, 0, 1024, 300, mx::float16},
        Case{4, 64, 0, 1024, 300, mx::float32}, Case{5, 128, 0, 4096, 4098, mx::bfloat16}}) {
    for (const char* what : {"norm", "residual", "swiglu", "norm swiglu", "norm residual"}) {
      for (int r : {1, 2}) {
        Case c = f;
        c.rows = r;
        if (only_bits > 0 && c.bits != only_bits) continue;
        char name[160];
        std::snprintf(name, sizeof(name), "fused %s %d-bit g%d %s rows %d K %d N %d", what, c.bits,
                      c.group, dtype_name(c.dtype).c_str(), c.rows, c.k, c.n);
        checks.push_back({name, [c, what](std::string&) { return run_fused(c, what); }});
      }
    }
  }
  for (const Case& c :
       {Case{4, 64, 8, 4096, 300, mx::bfloat16}, Case{8, 32, 8, 1024, 300, mx::float16},
        Case{8, 128, 8, 2048, 300, mx::bfloat16}, Case{5, 64, 8, 1024, 300, mx::bfloat16},
        Case{4, 64, 8, 1024, 300, mx::float32}}) {
    if (only_bits > 0 && c.bits != only_bits) continue;
    char name[160];
    std::snprintf(name, sizeof(name), "same bits for a row at 1 to 8 rows: %d-bit g%d %s K %d",
                  c.bits, c.group, dtype_name(c.dtype).c_str(), c.k);
    checks.push_back({name, [c](std::string&) { return run_rows_agree(c); }});
  }
  for (const auto& c : cases) {
    if (only_bits > 0 && c.bits != only_bits) continue;
    char name[160];
    std::snprintf(name, sizeof(name), "%d-bit g%d %s rows %d K %d N %d", c.bits, c.group,
                  dtype_name(c.dtype).c_str(), c.rows, c.k, c.n);
    checks.push_back({name, [c](std::string& note) {
                        float ek = NAN, eq = NAN;
                        std::string why = run_case(c, ek, eq);
                        char text[80];
                        std::snprintf(text, sizeof(text), "(kernel %.2e, quantized_matmul %.2e)",
                                      ek, eq);
                        note = text;
                        return why;
                      }});
  }
  return tools::run_checks(checks);
}

// Median µs per call of `fn` over `copies` weight copies, `calls` calls an evaluation.
template <typename F>
double micros(F fn, int copies, int calls) {
  for (int i = 0; i < 2; ++i) {
    std::vector<mx::array> outs;
    for (int j = 0; j < calls; ++j) outs.push_back(fn(j % copies));
    mx::eval(outs);
  }
  mx::synchronize();
  std::vector<double> t;
  for (int round = 0; round < 7; ++round) {
    std::vector<mx::array> outs;
    for (int j = 0; j < calls; ++j) outs.push_back(fn(j % copies));
    auto t0 = std::chrono::steady_clock::now();
    mx::eval(outs);
    mx::synchronize();
    t.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        calls);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int bench(int bits, int group, mx::Dtype dtype, const std::vector<int>& row_counts, bool baseline) {
  struct Shape {
    const char* name;
    int k, n;
  };
  // The engine fuses q/k/v and gate/up into one matmul each (blocks.cpp): those are the shapes a
  // decode step runs; the separate ones are the published layers.
  const std::vector<Shape> shapes{{"qkv (fused)", 4096, 6144},      {"o_proj", 4096, 4096},
                                  {"gate_up (fused)", 4096, 28672}, {"down_proj", 14336, 4096},
                                  {"k/v_proj", 4096, 1024},         {"gate/up_proj", 4096, 14336}};
  const char* tiling = std::getenv("MLX_NATIVE_QMV_TILING");
  std::printf("tiling %s\n", tiling ? tiling : "default");
  std::printf("%-15s %6s %6s %5s %12s %12s %10s %10s %8s\n", "shape", "K", "N", "rows", "kernel us",
              "qmm us", "kernel GB/s", "qmm GB/s", "speedup");
  for (const auto& s : shapes) {
    const double bytes =
        double(s.n) * s.k * bits / 8 + 2.0 * s.n * (s.k / group) * mx::size_of(dtype);
    const int copies = std::max(2, int(std::ceil(256e6 / bytes)));
    std::vector<std::vector<mx::array>> ws;
    for (int i = 0; i < copies; ++i) {
      auto w = mx::astype(mx::random::normal({s.n, s.k}, mx::float32, 0.0f, 0.05f), dtype);
      ws.push_back(mx::quantize(w, group, bits, "affine"));
      mx::eval(ws.back());
    }
    const int calls = std::max(32, copies);
    for (int rows : row_counts) {
      auto x = mx::astype(mx::random::normal({rows, s.k}), dtype);
      mx::eval(x);
      double tk =
          micros([&](int i) { return qmv::matmul(x, ws[i][0], ws[i][1], ws[i][2], bits, group); },
                 copies, calls);
      double tq = !baseline ? NAN
                            : micros(
                                  [&](int i) {
                                    return mx::quantized_matmul(x, ws[i][0], ws[i][1], ws[i][2],
                                                                true, group, bits, "affine");
                                  },
                                  copies, calls);
      std::printf("%-15s %6d %6d %5d %12.1f %12.1f %10.0f %10.0f %7.2fx\n", s.name, s.k, s.n, rows,
                  tk, tq, bytes / tk / 1e3, bytes / tq / 1e3, tq / tk);
      std::fflush(stdout);
    }
  }
  std::printf(
      "GB/s: weight bytes (packed + scales + biases) per call / µs per call; %s, %d-bit g%d\n",
      dtype_name(dtype).c_str(), bits, group);
  return 0;
}

// Inputs the kernel must refuse before anything runs (any backend): each throws
// std::invalid_argument naming the kernel.
int refuse() {
  auto q = mx::quantize(mx::zeros({64, 256}, mx::bfloat16), 64, 4, "affine");
  auto x = mx::zeros({2, 256}, mx::bfloat16);
  auto bad = [](const char* name, std::function<void()> call) {
    return tools::refusal(name, std::move(call), "[qmv]");
  };
  return tools::run_checks(
      {bad("a scalar x",
           [&] { qmv::matmul(mx::array(1.0f, mx::bfloat16), q[0], q[1], q[2], 4, 64); }),
       bad("65 rows",
           [&] {
             qmv::matmul(mx::zeros({65, 256}, mx::bfloat16), q[0], q[1], q[2], 4, 64);
           }),
       bad("bits that do not match the packing", [&] { qmv::matmul(x, q[0], q[1], q[2], 8, 64); }),
       bad("a group size it does not take", [&] { qmv::matmul(x, q[0], q[1], q[2], 4, 256); }),
       bad("scales of another dtype",
           [&] { qmv::matmul(x, q[0], mx::astype(q[1], mx::float16), q[2], 4, 64); }),
       bad("scales of another shape",
           [&] {
             qmv::matmul(x, q[0], mx::zeros({32, 4}, mx::bfloat16), q[2], 4, 64);
           }),
       bad("an input size not a multiple of 32",
           [&] {
             qmv::matmul(mx::zeros({1, 48}, mx::bfloat16), mx::zeros({64, 6}, mx::uint32),
                         mx::zeros({64, 1}, mx::bfloat16), mx::zeros({64, 1}, mx::bfloat16), 4, 48);
           }),
       bad("a norm weight of another width",
           [&] {
             qmv::matmul(x, q[0], q[1], q[2], 4, 64, {mx::zeros({128}, mx::bfloat16), 1e-5f});
           }),
       bad("a norm with eps 0",
           [&] {
             qmv::matmul(x, q[0], q[1], q[2], 4, 64, {mx::zeros({256}, mx::bfloat16), 0.0f});
           }),
       bad("a residual of another shape",
           [&] {
             qmv::matmul(x, q[0], q[1], q[2], 4, 64,
                         {std::nullopt, 0.0f, mx::zeros({2, 32}, mx::bfloat16), false});
           }),
       bad("a fusion at 3 rows",
           [&] {
             qmv::matmul(mx::zeros({3, 256}, mx::bfloat16), q[0], q[1], q[2], 4, 64,
                         {std::nullopt, 0.0f, mx::zeros({3, 64}, mx::bfloat16), false});
           }),
       bad("a residual and a swiglu together",
           [&] {
             qmv::matmul(x, q[0], q[1], q[2], 4, 64,
                         {std::nullopt, 0.0f, mx::zeros({2, 32}, mx::bfloat16), true});
           })},
      "refuses ");
}

std::string arg(int argc, char** argv, const std::string& key, const std::string& fallback) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (argv[i] == key) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  return tools::kernel_tool_main(
      argc, argv, "qmv_test",
      "qmv_test backend | refuse | check [--bits B] | bench [--bits 4] [--group 64] "
      "[--dtype bfloat16] [--rows 1,4,8,16,64] [--baseline yes|no]",
      "the kernel needs MLX's CUDA backend", refuse,
      {{"check", [&] { return check(std::stoi(arg(argc, argv, "--bits", "0"))); }},
       {"bench", [&] {
          std::vector<int> rows;
          std::istringstream list(arg(argc, argv, "--rows", "1,4,8,16,64"));
          for (std::string r; std::getline(list, r, ',');) rows.push_back(std::stoi(r));
          return bench(std::stoi(arg(argc, argv, "--bits", "4")),
                       std::stoi(arg(argc, argv, "--group", "64")),
                       parse_dtype(arg(argc, argv, "--dtype", "bfloat16")), rows,
                       arg(argc, argv, "--baseline", "yes") != "no");
        }}});
}
