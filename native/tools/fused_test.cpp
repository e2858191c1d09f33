// The fused decoder-layer kernels (native/engine/cuda/fused.h) against the MLX operations they
// replace, as the engine runs them when the kernels are off.
//
//   fused_test backend   prints the backend MLX runs on ("cuda", "cpu", "metal")
//   fused_test refuse    bad shapes, dtypes and ropes are refused with an error before anything
//                        runs (on every backend)
//   fused_test check     random inputs in float32, float16 and bfloat16: split_heads_rope over
//                        head shapes, ropes (plain, traditional, linear-scaled, with frequencies,
//                        none), Qwen3's q/k norms, one offset or one per row, 1 to 5 tokens;
//                        swiglu_halves over widths and rows. Prints "ok ..." / "FAIL ..." lines,
//                        then "N passed, N failed". --only NAME: the cases whose name starts
//                        with NAME (e.g. swiglu_halves).
//   fused_test hostcost  host µs per call (graph building, and encoding by mx::async_eval) of
//                        MLX operations, of mx::fast::cuda_kernel calls (bare, with template
//                        arguments, after a long header) and of the engine's kernels
//
// Both sides round to the activation dtype, from float32 arithmetic that may differ in order
// (a norm's sum) or in contraction: each output must be within two roundings of the dtype of the
// reference (relative to its largest magnitude). On a backend other than CUDA, check prints
// "not run" and exits 0.
#include "engine/cuda/fused.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/blocks.h"
#include "engine/cuda/qmv_kernel.h"
#include "engine/device.h"
#include "support/kernel_checks.h"

using namespace mlxn;

namespace {

float unit(mx::Dtype t) {
  return t == mx::bfloat16 ? 0x1p-8f : t == mx::float16 ? 0x1p-11f : 1e-5f;
}

const char* name_of(mx::Dtype t) {
  return t == mx::bfloat16 ? "bfloat16" : t == mx::float16 ? "float16" : "float32";
}

mx::array random(const mx::Shape& shape, mx::Dtype t, uint64_t seed, float scale = 1.0f) {
  return mx::astype(mx::random::normal(shape, mx::float32, 0.0f, scale, mx::random::key(seed)), t);
}

// "" or why `got` is not `want` within two roundings of want's dtype.
std::string compare(const char* what, const mx::array& got, const mx::array& want) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype())
    return std::string(what) + ": wrong shape or dtype";
  auto f = [](const mx::array& a) { return mx::astype(a, mx::float32); };
  const float scale = std::max(mx::max(mx::abs(f(want))).item<float>(), 1e-20f);
  const float err = mx::max(mx::abs(mx::subtract(f(got), f(want)))).item<float>() / scale;
  if (!std::isfinite(err) || err > 2 * unit(want.dtype()))
    return std::string(what) + " off by " + std::to_string(err) + " of its largest value";
  return "";
}

struct HeadCase {
  int B, L, H, KV, D;
  std::string rope;  // "plain", "traditional", "linear", "freqs", "none"
  bool norm, ragged;
  mx::Dtype dtype;
};

Rope rope_of(const HeadCase& c) {
  Rope r;
  if (c.rope == "none") return r;
  r.dims = c.D;
  r.traditional = c.rope == "traditional";
  if (c.rope == "freqs") {
    // Periods as Llama 3's scaling makes them: base^(2i/D), the long ones stretched.
    std::vector<float> f(c.D / 2);
    for (int i = 0; i < c.D / 2; ++i)
      f[i] = std::pow(500000.0f, 2.0f * i / c.D) * (i >= c.D / 4 ? 8.0f : 1.0f);
    r.freqs = mx::array(f.data(), {c.D / 2}, mx::float32);
  } else {
    r.base = c.rope == "traditional" ? 500000.0f : 10000.0f;
    if (c.rope == "linear") r.scale = 0.25f;
  }
  return r;
}

std::string split_heads_case(const HeadCase& c, uint64_t seed) {
  const int B = c.B, L = c.L, H = c.H, KV = c.KV, D = c.D;
  auto qkv = random({B, L, (H + 2 * KV) * D}, c.dtype, seed);
  std::optional<mx::array> qn, kn;
  if (c.norm) qn = random({D}, c.dtype, seed + 1, 0.5f), kn = random({D}, c.dtype, seed + 2, 0.5f);
  const float eps = 1e-6f;
  CacheStep step;
  step.length = L;
  for (int b = 0; b < B; ++b) step.offsets.push_back(c.ragged ? 5000 + 37 * b : 4093);
  step.uniform = !c.ragged;
  step.offset_array = c.ragged ? mx::array(step.offsets.data(), {B}, mx::int32)
                               : mx::array(step.offsets.data(), {1}, mx::int32);
  const Rope rope = rope_of(c);
  auto got = fused::split_heads_rope(qkv, H, KV, D, rope, step.offset_array, qn, kn, eps);
  // The engine's unfused path (blocks.cpp).
  auto parts = mx::split(qkv, mx::Shape{H * D, (H + KV) * D}, -1);
  auto heads = [&](const mx::array& x, int n) {
    return mx::transpose(mx::reshape(x, {B, L, n, D}), {0, 2, 1, 3});
  };
  auto q = heads(parts[0], H), k = heads(parts[1], KV), v = heads(parts[2], KV);
  if (c.norm) q = mx::fast::rms_norm(q, *qn, eps), k = mx::fast::rms_norm(k, *kn, eps);
  q = rope(q, step), k = rope(k, step);
  for (auto [what, g, w] : {std::tuple{"q", got[0], q}, {"k", got[1], k}, {"v", got[2], v}}) {
    auto why = compare(what, g, w);
    if (!why.empty()) return why;
  }
  return "";
}

std::string swiglu_case(int rows, int I, mx::Dtype t, uint64_t seed) {
  auto gu = random({rows, 1, 2 * I}, t, seed, 3.0f);
  auto halves = mx::split(gu, 2, -1);
  return compare("swiglu", fused::swiglu_halves(gu), swiglu(halves[0], halves[1]));
}

int check(const std::string& only) {
  std::vector<tools::Check> cases;
  uint64_t seed = 1;
  const std::vector<std::array<int, 3>> shapes{{32, 8, 128}, {14, 2, 64}, {6, 2, 96}, {4, 4, 256}};
  for (mx::Dtype t : {mx::bfloat16, mx::float16, mx::float32}) {
    // Every head shape in bfloat16; the Llama-3.1-8B shape in the other dtypes (each distinct
    // shape, rope and dtype is a kernel MLX compiles).
    for (const auto& [H, KV, D] : t == mx::bfloat16 ? shapes : decltype(shapes){shapes[0]}) {
      for (const char* rope : {"plain", "traditional", "linear", "freqs", "none"}) {
        for (bool norm : {false, true}) {
          for (const auto& [B, L, ragged] : std::vector<std::tuple<int, int, bool>>{
                   {1, 1, false}, {3, 1, true}, {2, 5, false}, {2, 3, true}}) {
            HeadCase c{B, L, H, KV, D, rope, norm, ragged, t};
            char name[160];
            std::snprintf(name, sizeof name, "split_heads_rope %s H%d KV%d D%d %s%s B%d L%d%s",
                          name_of(t), H, KV, D, rope, norm ? " qk-norm" : "", B, L,
                          ragged ? " per-row offsets" : "");
            const uint64_t s = seed++;
            cases.push_back({name, [c, s](std::string&) { return split_heads_case(c, s); }});
          }
        }
      }
    }
    // swiglu_halves over intermediate sizes I, at 1, 7 and 64 rows.
    auto widths = [&](const char* kernel, const char* axis, std::initializer_list<int> sizes,
                      std::string (*run)(int, int, mx::Dtype, uint64_t)) {
      for (int size : sizes) {
        for (int rows : {1, 7, 64}) {
          const uint64_t s = seed++;
          cases.push_back({std::string(kernel) + " " + name_of(t) + " " + axis +
                               std::to_string(size) + " rows " + std::to_string(rows),
                           [=](std::string&) { return run(rows, size, t, s); }});
        }
      }
    };
    widths("swiglu_halves", "I", {4864, 14336, 100}, swiglu_case);
  }
  if (!only.empty()) {
    std::erase_if(cases, [&](const tools::Check& c) { return c.name.rfind(only, 0) != 0; });
  }
  return tools::run_checks(cases);
}

int refuse() {
  auto bf = [](mx::Shape s) { return mx::zeros(s, mx::bfloat16); };
  Rope plain;
  plain.dims = 64, plain.base = 10000.0f;
  Rope scaled = plain;
  scaled.input_scale = 1.1f;
  Rope partial = plain;
  partial.dims = 32;
  const auto one = mx::array({0}, mx::int32);
  auto bad = [](const char* name, std::function<void()> call) {
    return tools::refusal(name, std::move(call), "[fused]");
  };
  return tools::run_checks(
      {
          bad("a q/k/v width that is not (H + 2·KV)·D",
              [&] {
                fused::split_heads_rope(bf({1, 1, 500}), 4, 2, 64, plain, one, {}, {}, 1e-6f);
              }),
          bad("a rope that scales features first",
              [&] {
                fused::split_heads_rope(bf({1, 1, 512}), 4, 2, 64, scaled, one, {}, {}, 1e-6f);
              }),
          bad("a partial rotation",
              [&] {
                fused::split_heads_rope(bf({1, 1, 512}), 4, 2, 64, partial, one, {}, {}, 1e-6f);
              }),
          bad("float offsets",
              [&] {
                fused::split_heads_rope(bf({1, 1, 512}), 4, 2, 64, plain, mx::array({0.0f}), {}, {},
                                        1e-6f);
              }),
          bad("a q norm without a k norm",
              [&] {
                fused::split_heads_rope(bf({1, 1, 512}), 4, 2, 64, plain, one, bf({64}), {}, 1e-6f);
              }),
          bad("swiglu_halves of an odd width",
              [&] {
                fused::swiglu_halves(bf({1, 7}));
              }),
          bad("swiglu_halves of integers",
              [&] {
                fused::swiglu_halves(mx::zeros({1, 8}, mx::int32));
              }),
      },
      "refuses ");
}

// Host µs per call, graph building and encoding (mx::async_eval) apart, of `call` chained
// `n` times: the median of 5 rounds after a warm-up (which compiles).
void host_cost(const char* what, const std::function<mx::array(const mx::array&)>& call,
               const mx::array& start, int n = 256) {
  using clock = std::chrono::steady_clock;
  auto us = [](clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  mx::eval(call(start));
  mx::synchronize();
  std::vector<double> build, encode;
  for (int round = 0; round < 6; ++round) {
    auto t0 = clock::now();
    mx::array x = start;
    for (int i = 0; i < n; ++i) x = call(x);
    auto t1 = clock::now();
    mx::async_eval(x);
    auto t2 = clock::now();
    mx::synchronize();
    if (round > 0) build.push_back(us(t1 - t0) / n), encode.push_back(us(t2 - t1) / n);
  }
  std::sort(build.begin(), build.end());
  std::sort(encode.begin(), encode.end());
  std::printf("%-58s build %6.2f us  encode %6.2f us\n", what, build[2], encode[2]);
}

int hostcost() {
  const auto t = mx::bfloat16;
  auto x = random({1, 1, 4096}, t, 1), w = random({4096}, t, 2, 0.3f);
  host_cost(
      "add (MLX)", [&](const mx::array& a) { return mx::add(a, w); }, x);
  host_cost(
      "reshape (MLX, a view)",
      [](const mx::array& a) {
        return mx::reshape(a, {1, 4096, 1});
      },
      mx::reshape(x, {1, 4096, 1}));
  host_cost(
      "rms_norm (MLX)", [&](const mx::array& a) { return mx::fast::rms_norm(a, w, 1e-5f); }, x);
  auto heads = random({1, 32, 1, 128}, t, 3);
  host_cost(
      "rope (MLX)",
      [](const mx::array& a) { return mx::fast::rope(a, 128, false, 500000.0f, 1.0f, 7); }, heads);
  // One tiny kernel three ways: the bare body, with 11 template arguments, after a 6 KB header.
  const char* body =
      "const int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < 4096) y[i] = x[i];";
  std::string big(6000, ' ');
  for (size_t i = 0; i + 1 < big.size(); i += 100)
    big[i] = '/', big[i + 1] = '/', big[i + 99] = '\n';
  auto bare = mx::fast::cuda_kernel("mlxn_probe_bare", {"x"}, {"y"}, body, "", true, 0);
  auto big_header = mx::fast::cuda_kernel("mlxn_probe_header", {"x"}, {"y"}, body, big, true, 0);
  auto launch = [&](const mx::fast::CustomKernelFunction& k, const mx::array& a,
                    std::vector<std::pair<std::string, mx::fast::TemplateArg>> targs) {
    return k({a}, {a.shape()}, {a.dtype()}, {4096, 1, 1}, {256, 1, 1}, targs, std::nullopt, false,
             {})[0];
  };
  host_cost(
      "cuda_kernel, bare copy", [&](const mx::array& a) { return launch(bare, a, {}); }, x);
  std::vector<std::pair<std::string, mx::fast::TemplateArg>> eleven;
  for (int i = 0; i < 11; ++i) eleven.push_back({"C" + std::to_string(i), 1000 + i});
  host_cost(
      "cuda_kernel, bare copy, 11 template arguments",
      [&](const mx::array& a) { return launch(bare, a, eleven); }, x);
  host_cost(
      "concatenate (MLX)",
      [](const mx::array& a) {
        return mx::concatenate(
            {mx::slice(a, {0, 0, 0}, {1, 1, 2048}), mx::slice(a, {0, 0, 2048}, {1, 1, 4096})}, -1);
      },
      x);
  host_cost(
      "cuda_kernel, bare copy after a 6 KB header",
      [&](const mx::array& a) { return launch(big_header, a, {}); }, x);
  // The engine's kernels at Llama-3.1-8B's decode shapes.
  auto qkv = random({1, 1, 6144}, t, 4);
  auto offsets = mx::array({160}, mx::int32);
  Rope rope;
  rope.dims = 128, rope.base = 500000.0f;
  host_cost(
      "fused split_heads_rope (+ a concatenate to chain it)",
      [&](const mx::array& a) {
        auto qkv = fused::split_heads_rope(a, 32, 8, 128, rope, offsets, {}, {}, 1e-5f);
        return mx::concatenate(
            {mx::reshape(qkv[0], {1, 1, 4096}), mx::reshape(qkv[1], {1, 1, 1024}),
             mx::reshape(qkv[2], {1, 1, 1024})},
            -1);
      },
      qkv);
  host_cost(
      "fused swiglu_halves (+ a concatenate to chain it)",
      [&](const mx::array& a) {
        return fused::swiglu_halves(mx::concatenate({a, a}, -1));
      },
      x);
  auto q = mx::quantize(random({4096, 4096}, t, 5, 0.05f), 64, 4, "affine");
  host_cost(
      "qmv kernel 4096x4096 4-bit, 1 row",
      [&](const mx::array& a) { return qmv::matmul(a, q[0], q[1], q[2], 4, 64); }, x);
  host_cost(
      "qmv kernel 4096x4096 4-bit, 1 row, norm before and residual after",
      [&](const mx::array& a) {
        return qmv::matmul(a, q[0], q[1], q[2], 4, 64, {w, 1e-5f, x, false});
      },
      x);
  host_cost(
      "quantized_matmul 4096x4096 4-bit, 1 row",
      [&](const mx::array& a) {
        return mx::quantized_matmul(a, q[0], q[1], q[2], true, 64, 4, "affine");
      },
      x);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string only = argc > 3 && std::string(argv[2]) == "--only" ? argv[3] : "";
  return tools::kernel_tool_main(argc, argv, "fused_test",
                                 "fused_test backend | refuse | check [--only NAME] | hostcost",
                                 "the kernels need MLX's CUDA backend", refuse,
                                 {{"check", [&] { return check(only); }}, {"hostcost", hostcost}});
}
