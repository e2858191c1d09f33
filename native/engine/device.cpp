#include "device.h"

#include <mlx/backend/cuda/cuda.h>
#include <mlx/backend/metal/metal.h>
#include <mlx/mlx.h>

namespace mx = mlx::core;

namespace mlxn {

std::string backend_name() {
  if (mx::default_device() == mx::Device::cpu) return "cpu";
  if (mx::metal::is_available()) return "metal";
  if (mx::cu::is_available()) return "cuda";
  return "gpu";
}

void describe_device(Event& out) {
  const auto& dev = mx::default_device();
  out.set("backend", backend_name());
  out.set("device", std::string(dev == mx::Device::cpu ? "cpu" : "gpu"));
  out.set("mlxVersion", std::string(mx::version()));
  std::string name = "cpu";
  for (const auto& [key, value] : mx::device_info(dev)) {
    if (key == "device_name" && std::holds_alternative<std::string>(value)) {
      name = std::get<std::string>(value);
    }
  }
  out.set("deviceName", name);
  describe_memory(out);
}

void describe_memory(Event& out) {
  out.set("activeMemory", static_cast<double>(mx::get_active_memory()));
  out.set("peakMemory", static_cast<double>(mx::get_peak_memory()));
  out.set("cacheMemory", static_cast<double>(mx::get_cache_memory()));
}

}  // namespace mlxn
