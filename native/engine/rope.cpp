// Rotary position embeddings: the plain rotation and the scaled variants (linear, Llama 3,
// YaRN, LongRoPE). Frequencies are computed with MLX ops in float32, as mlx-lm computes them,
// so both engines rotate by the same angles.
#include <cmath>

#include "errors.h"
#include "kv_cache.h"
#include "layers.h"

namespace mlxn {

namespace {

// Llama 3 scaling: long wavelengths are slowed by `factor`, short ones kept, the band between
// interpolated. mx::fast::rope takes periods (angle = position / freq).
mx::array llama3_frequencies(int dims, const RopeConfig& c) {
  std::vector<float> freqs(dims / 2);
  const float orig = float(c.original_max_position_embeddings);
  const float low_wavelen = orig / c.low_freq_factor, high_wavelen = orig / c.high_freq_factor;
  for (int i = 0; i < dims / 2; ++i) {
    float f = std::pow(c.theta, (2.0f * i) / dims);
    float wavelen = 2.0f * float(M_PI) * f;
    if (wavelen > low_wavelen) {
      f *= c.factor;
    } else if (wavelen > high_wavelen) {
      float smooth =
          (orig / wavelen - c.low_freq_factor) / (c.high_freq_factor - c.low_freq_factor);
      f = f / ((1.0f - smooth) / c.factor + smooth);
    }
    freqs[i] = f;
  }
  return mx::array(freqs.data(), {dims / 2}, mx::float32);
}

// base^(2i / dims) for i < dims / 2: the unscaled periods.
mx::array base_periods(int dims, float base) {
  return mx::power(mx::array(base), mx::divide(mx::arange(0.0, double(dims), 2.0, mx::float32),
                                               mx::array(float(dims))));
}

float yarn_mscale(float scale, float mscale) {
  return scale <= 1.0f ? 1.0f : 0.1f * mscale * std::log(scale) + 1.0f;
}

// YaRN: periods interpolated by `factor` for the low-frequency dimensions, kept for the
// high-frequency ones, ramped between; features are scaled by the attention temperature.
void yarn(Rope& r, const RopeConfig& c, int dims) {
  auto correction_dim = [&](float rotations) {
    return dims * std::log(c.original_max_position_embeddings / (rotations * 2 * M_PI)) /
           (2 * std::log(double(c.theta)));
  };
  double low = std::max(std::floor(correction_dim(c.beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(c.beta_slow)), double(dims - 1));
  if (low == high) high += 0.001;  // no empty ramp
  auto extra = base_periods(dims, c.theta);
  auto inter = mx::multiply(mx::array(c.factor), extra);
  auto ramp =
      mx::clip(mx::divide(mx::subtract(mx::arange(dims / 2, mx::float32), mx::array(float(low))),
                          mx::array(float(high - low))),
               mx::array(0.0f), mx::array(1.0f));
  auto mask = mx::subtract(mx::array(1.0f), ramp);
  r.freqs = mx::divide(
      mx::multiply(inter, extra),
      mx::add(mx::multiply(inter, mask), mx::multiply(extra, mx::subtract(mx::array(1.0f), mask))));
  r.input_scale = yarn_mscale(c.factor, c.mscale) / yarn_mscale(c.factor, c.mscale_all_dim);
}

// LongRoPE (Phi-3 "su"): the long factors stretch each period; past the original context the
// features are scaled by sqrt(1 + ln(factor) / ln(original context)).
void longrope(Rope& r, const RopeConfig& c, int dims) {
  const auto& f = c.long_factor;
  if (f.size() != 1 && int(f.size()) != dims / 2) {
    throw EngineError("INVALID_MODEL", "[load] config.json: rope_scaling.long_factor has " +
                                           std::to_string(f.size()) + " entries, expected " +
                                           std::to_string(dims / 2));
  }
  auto factors = mx::array(f.data(), {int(f.size())}, mx::float32);
  r.freqs = mx::multiply(factors, base_periods(dims, c.theta));
  const double factor =
      double(c.max_position_embeddings) / double(c.original_max_position_embeddings);
  if (factor > 1.0) {
    r.input_scale = float(
        std::sqrt(1.0 + std::log(factor) / std::log(double(c.original_max_position_embeddings))));
  }
}

}  // namespace

Rope Rope::from(const RopeConfig& c, int dims) {
  Rope r;
  r.dims = dims;
  r.traditional = c.traditional;
  if (dims == 0) return r;
  if (c.scaling == "llama3") {
    r.freqs = llama3_frequencies(dims, c);
  } else if (c.scaling == "yarn") {
    yarn(r, c, dims);
  } else if (c.scaling == "longrope") {
    r.traditional = false;
    longrope(r, c, dims);
  } else {
    r.base = c.theta;
    if (c.scaling == "linear" && c.factor > 0) r.scale = 1.0f / c.factor;
  }
  if (r.freqs) mx::eval(*r.freqs);
  return r;
}

mx::array Rope::operator()(const mx::array& in, const CacheStep& step) const {
  if (dims == 0) return in;
  mx::array x = in;
  if (input_scale != 1.0f) {
    auto s = mx::array(input_scale, x.dtype());
    const int D = x.shape(-1);
    if (dims == D) {
      x = mx::multiply(x, s);
    } else {
      auto parts = mx::split(x, mx::Shape{dims}, -1);
      x = mx::concatenate({mx::multiply(parts[0], s), parts[1]}, -1);
    }
  }
  if (step.uniform)
    return mx::fast::rope(x, dims, traditional, base, scale, step.offsets[0], freqs);
  return mx::fast::rope(x, dims, traditional, base, scale, step.offset_array, freqs);
}

}  // namespace mlxn
