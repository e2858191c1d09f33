#include "qmv_policy.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <tuple>

#include "../device.h"
#include "qmv_kernel.h"

namespace mlxn::qmv {

namespace {

constexpr std::array<int, 7> kBuckets{1, 2, 4, 8, 16, 32, 64};
// How much slower than quantized_matmul the bare kernel may time where it fuses (below).
constexpr double kFusedMargin = 1.10;

int bucket_of(int rows) {
  int b = 0;
  while (b + 1 < int(kBuckets.size()) && kBuckets[b] < rows) ++b;
  return b;
}

std::mutex table_mutex;
std::map<Format, std::array<bool, kBuckets.size()>>& table() {
  static auto* t = new std::map<Format, std::array<bool, kBuckets.size()>>();
  return *t;
}

// Seconds per call, graph building included: the best of 3 rounds of `reps` independent calls
// built and evaluated together.
double seconds_per_call(const MatmulFn& fn, const mx::array& x, int reps) {
  mx::eval(fn(x));  // compiles and warms up
  mx::synchronize();
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    // Graph building is timed too: a custom kernel costs more host time per call than MLX's own.
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<mx::array> outs;
    outs.reserve(reps);
    for (int i = 0; i < reps; ++i) outs.push_back(fn(x));
    mx::eval(outs);
    mx::synchronize();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best / reps;
}

}  // namespace

bool Format::operator<(const Format& o) const {
  return std::make_tuple(out_dims, in_dims, bits, group_size, int(dtype.val())) <
         std::make_tuple(o.out_dims, o.in_dims, o.bits, o.group_size, int(o.dtype.val()));
}

Mode mode() {
  static const Mode m = [] {
    if (backend_name() != "cuda") return Mode::off;
    const char* v = std::getenv("MLX_NATIVE_QMV");
    if (!v || !*v || std::strcmp(v, "auto") == 0) return Mode::automatic;
    if (std::strcmp(v, "on") == 0) return Mode::on;
    if (std::strcmp(v, "off") != 0)
      std::cerr << "[mlx-native] MLX_NATIVE_QMV=" << v << " is not off|on|auto: using off\n";
    return Mode::off;
  }();
  return m;
}

void tune(const Format& f, const MatmulFn& kernel, const MatmulFn& baseline) {
  if (mode() != Mode::automatic || !supports(f.bits, f.group_size, f.in_dims, f.dtype, true))
    return;
  {
    std::lock_guard<std::mutex> lock(table_mutex);
    if (table().count(f)) return;
  }
  std::array<bool, kBuckets.size()> wins{};
  const bool verbose = std::getenv("MLX_NATIVE_QMV_VERBOSE") != nullptr;
  try {
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      auto x = mx::astype(mx::random::normal({kBuckets[b], f.in_dims}), f.dtype);
      mx::eval(x);
      // About 2 ms of work per round whatever the size, at least 4 calls.
      const double bytes = double(f.out_dims) * f.in_dims * f.bits / 8;
      const int reps = std::clamp(int(2e-3 / (bytes / 2e12 + 5e-6)), 4, 64);
      const double k = seconds_per_call(kernel, x, reps), q = seconds_per_call(baseline, x, reps);
      // Up to 2 rows the kernel also takes a norm or a residual add (qmv_kernel.h, Fusion): one
      // MLX operation fewer, 3-4 µs of host time, which timing the bare kernel does not see.
      wins[b] = k < q * (kBuckets[b] <= 2 ? kFusedMargin : 1.0);
      if (verbose) {
        std::cerr << "[qmv] " << f.out_dims << "x" << f.in_dims << " " << f.bits << "-bit g"
                  << f.group_size << " rows " << kBuckets[b] << ": kernel " << k * 1e6
                  << " us, quantized_matmul " << q * 1e6 << " us\n";
      }
    }
  } catch (const std::exception& e) {
    // The kernel failed to compile or run here: this format keeps quantized_matmul.
    std::cerr << "[mlx-native] decode kernel unavailable (" << e.what()
              << "); using quantized_matmul\n";
    wins.fill(false);
  }
  std::lock_guard<std::mutex> lock(table_mutex);
  table()[f] = wins;
}

bool use_kernel(const Format& f, int rows) {
  const Mode m = mode();
  if (m == Mode::off || rows < 1 || rows > kMaxRows) return false;
  if (m == Mode::on) return supports(f.bits, f.group_size, f.in_dims, f.dtype, true);
  std::lock_guard<std::mutex> lock(table_mutex);
  auto it = table().find(f);
  return it != table().end() && it->second[bucket_of(rows)];
}

}  // namespace mlxn::qmv
