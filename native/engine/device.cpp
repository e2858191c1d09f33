#include "device.h"

#include <mlx/backend/cuda/cuda.h>
#include <mlx/backend/metal/metal.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "layers.h"

namespace mlxn {

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

std::vector<mx::Stream> matmul_streams(int requested) {
  if (mx::default_device() != mx::Device::cpu) return {};
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int n = requested > 0 ? requested : int(std::min(cores, 4u));
  if (n < 2) return {};
  std::vector<mx::Stream> streams{mx::default_stream(mx::Device::cpu)};
  for (int i = 1; i < n; ++i) streams.push_back(mx::new_stream(mx::Device::cpu));
  return streams;
}

}  // namespace mlxn
