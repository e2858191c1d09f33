#include "device.h"

#include <mlx/backend/cuda/cuda.h>
#include <mlx/backend/metal/metal.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "layers.h"

namespace mlxn {

namespace {

// float32 means float32 on every backend. MLX computes float32 matmuls on TF32 tensor cores on
// CUDA unless MLX_ENABLE_TF32=0: 10 of float32's 23 mantissa bits, about 1e-3 relative error,
// so a float32 model disagreed with the CPU and with itself across batch sizes (seen on an
// H200). The engine computes in float32 only when asked to (GPUs default to float16), so TF32
// is off unless the user sets MLX_ENABLE_TF32 themselves. MLX reads the variable once, at the
// first float32 matmul, which comes after this library is loaded.
[[maybe_unused]] const bool kFloat32IsFloat32 = setenv("MLX_ENABLE_TF32", "0", 0) == 0;

}  // namespace

std::string backend_name() {
  if (mx::default_device() == mx::Device::cpu) return "cpu";
  if (mx::metal::is_available()) return "metal";
  if (mx::cu::is_available()) return "cuda";
  return "gpu";
}

DeviceInfo device_info() {
  const auto& dev = mx::default_device();
  DeviceInfo d{backend_name(), dev == mx::Device::cpu ? "cpu" : "gpu", "cpu", mx::version()};
  for (const auto& [key, value] : mx::device_info(dev)) {
    if (key == "device_name" && std::holds_alternative<std::string>(value)) {
      d.device_name = std::get<std::string>(value);
    }
    // Metal says memory_size, CUDA total_memory.
    if ((key == "memory_size" || key == "total_memory") && std::holds_alternative<size_t>(value)) {
      d.memory_bytes = double(std::get<size_t>(value));
    }
    if (key == "max_recommended_working_set_size" && std::holds_alternative<size_t>(value)) {
      d.recommended_working_set_bytes = double(std::get<size_t>(value));
    }
  }
  return d;
}

MemoryInfo memory_info() {
  return {double(mx::get_active_memory()), double(mx::get_peak_memory()),
          double(mx::get_cache_memory())};
}

mx::Dtype compute_dtype(const std::string& requested) {
  if (!requested.empty()) return parse_dtype(requested);
  return mx::default_device() == mx::Device::cpu ? mx::float32 : mx::float16;
}

int default_prefill_chunk() {
  return mx::default_device() == mx::Device::cpu ? 32 : 512;
}

int quantized_matmul_min_rows() {
  static const int rows = [] {
    if (const char* v = std::getenv("MLX_NATIVE_QMM_MIN_ROWS")) return std::atoi(v);
    return backend_name() == "cuda" ? 8 : 0;
  }();
  return rows;
}

bool quantized_matmul_wrong(const std::string& mode, int bits, int group_size, int in_dims) {
  static const bool cuda = backend_name() == "cuda";
  return cuda && mode == "affine" && (bits == 4 || bits == 8) && in_dims <= group_size;
}

namespace {

std::mutex pool_mutex;
std::vector<mx::Stream>& pool() {
  static auto* streams = new std::vector<mx::Stream>();  // lives as long as MLX's threads
  return *streams;
}

}  // namespace

StreamLease StreamLease::borrow(mx::Device::DeviceType type, int n) {
  StreamLease lease;
  std::lock_guard<std::mutex> lock(pool_mutex);
  auto& free = pool();
  for (int i = 0; i < n; ++i) {
    auto it = std::find_if(free.begin(), free.end(),
                           [&](const mx::Stream& s) { return s.device.type == type; });
    if (it != free.end()) {
      lease.streams_.push_back(*it);
      free.erase(it);
    } else {
      lease.streams_.push_back(mx::new_thread_unsafe_stream(mx::Device(type)));
    }
  }
  return lease;
}

StreamLease StreamLease::defaults_for_this_thread() {
  StreamLease lease = borrow(mx::Device::cpu, 1);
  if (mx::is_available(mx::Device::gpu)) {
    StreamLease gpu = borrow(mx::Device::gpu, 1);
    lease.streams_.push_back(gpu.streams_[0]);
    gpu.streams_.clear();
  }
  for (const auto& s : lease.streams_) mx::set_default_stream(s);
  return lease;
}

StreamLease& StreamLease::operator=(StreamLease&& other) noexcept {
  if (this != &other) {
    give_back();
    streams_ = std::move(other.streams_);
  }
  return *this;
}

StreamLease::~StreamLease() {
  give_back();
}

void StreamLease::give_back() {
  for (const auto& s : streams_) {
    try {
      mx::synchronize(s);  // nothing of this owner's may still run on it
    } catch (...) {
    }
  }
  std::lock_guard<std::mutex> lock(pool_mutex);
  pool().insert(pool().end(), streams_.begin(), streams_.end());
  streams_.clear();
}

StreamLease extra_matmul_streams(int requested) {
  if (mx::default_device() != mx::Device::cpu) return {};
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int n = requested > 0 ? requested : int(std::min(cores, 4u));
  if (n < 2) return {};
  return StreamLease::borrow(mx::Device::cpu, n - 1);
}

}  // namespace mlxn
