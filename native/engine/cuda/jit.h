// What the engine's custom CUDA kernels (mx::fast::cuda_kernel, compiled by MLX with NVRTC at
// first use) share: the activation types' float conversions, and compact source text.
#pragma once

#include <string>

namespace mlxn::cuda_jit {

// to_float(v) for float, __nv_bfloat16 and __half; store(p, v) rounds a float to *p's type
// (to nearest even); rounded<T>(v): v rounded to T and back, for arithmetic done in T;
// swiglu_of<T>(g, u): silu(g)·u of two T values as MLX's sigmoid, multiply and multiply round
// (1 / (1 + e^|g|), mirrored for g ≥ 0; each step rounded to T).
extern const char* const kConversions;

// `text` without comment lines and indentation. MLX rebuilds and hashes a custom kernel's source
// on every call, so a shorter text is less host time per call.
std::string compact(const char* text);

}  // namespace mlxn::cuda_jit
