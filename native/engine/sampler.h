// Token selection: logit bias, penalties, greedy or temperature sampling with top-p, min-p and
// top-k, and log-probabilities only when asked. Everything stays lazy (no host sync).
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace mlxn {

namespace mx = mlx::core;

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int penalty_context = 20;  // most recent tokens the penalties look at
  std::vector<int32_t> bias_ids;
  std::vector<float> bias_values;
  std::optional<uint64_t> seed;
  int logprobs = -1;  // -1: none; 0: chosen token only; k: with k alternatives

  bool greedy() const { return temperature <= 0.0f; }
  bool has_penalties() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
  // Greedy with nothing to adjust: a whole batch of these is one argmax.
  bool plain() const { return greedy() && !has_penalties() && bias_ids.empty() && logprobs < 0; }
};

struct SampleResult {
  explicit SampleResult(mx::array t) : token(std::move(t)) {}
  mx::array token;                        // [1] int32
  std::optional<mx::array> logprob;       // [1] float32, chosen token
  std::optional<mx::array> top_ids;       // [k] int32
  std::optional<mx::array> top_logprobs;  // [k] float32
};

// Per-sequence sampler state: its PRNG key and a dense logit-bias vector.
class Sampler {
 public:
  Sampler(const SamplingParams& params, int vocab_size);

  // Samples from one row of logits ([V]). `recent` are the tokens the penalties look at (may
  // include the still-lazy previous token).
  SampleResult sample(const mx::array& logits, const std::optional<mx::array>& recent);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::optional<mx::array> bias_;
  mx::array key_ = mx::array(0);
};

}  // namespace mlxn
