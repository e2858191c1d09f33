// Which MLX backend and device this process runs on.
#pragma once

#include "event.h"

namespace mlxn {

// "metal", "cuda" or "cpu": the backend the default device runs on.
std::string backend_name();
// Adds backend, device, device_name, mlx_version and memory counters to an event.
void describe_device(Event& out);
// MLX memory counters (bytes) as event fields: active, peak, cache.
void describe_memory(Event& out);

}  // namespace mlxn
