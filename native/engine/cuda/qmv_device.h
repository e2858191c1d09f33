// The decode kernel's CUDA source text (qmv_kernel.cpp compiles one variant of it per format,
// shape and fusion through MLX's custom-kernel API).
#pragma once

namespace mlxn::qmv {

// Device helpers, after cuda_jit::kConversions: activation loads, packed-weight decoding, swiglu.
extern const char* const kDeviceHelpers;
// The kernel body, after the variant's compile-time constants (qmv_device.cpp says which).
extern const char* const kDeviceBody;

}  // namespace mlxn::qmv
