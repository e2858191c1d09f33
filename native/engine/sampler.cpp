#include "sampler.h"

#include <cmath>
#include <limits>
#include <random>

#include "errors.h"

namespace mlxn {

Sampler::Sampler(const SamplingParams& params, int vocab_size) : params_(params) {
  for (int32_t id : params.bias_ids) {
    if (id < 0 || id >= vocab_size) {
      throw EngineError("INVALID_ARGUMENT", "[sampler] logit_bias token id " + std::to_string(id) +
                                                " is outside the vocabulary (0.." +
                                                std::to_string(vocab_size - 1) + ")");
    }
  }
  if (!params.bias_ids.empty()) {
    std::vector<float> dense(vocab_size, 0.0f);
    for (size_t i = 0; i < params.bias_ids.size(); ++i)
      dense[params.bias_ids[i]] += params.bias_values[i];
    bias_ = mx::array(dense.data(), {vocab_size}, mx::float32);
  }
  uint64_t seed = params.seed ? *params.seed : std::random_device{}();
  key_ = mx::random::key(seed);
}

SampleResult Sampler::sample(const mx::array& logits_in, const std::optional<mx::array>& recent) {
  const auto& p = params_;
  auto logits = logits_in;
  if (bias_) logits = mx::add(logits, *bias_);
  if (recent && p.has_penalties()) {
    const auto& ids = *recent;  // duplicates allowed: each update below is idempotent or counts
    if (p.repetition_penalty != 1.0f) {
      auto sel = mx::take(logits, ids, 0);
      auto r = p.repetition_penalty;
      sel = mx::where(mx::less(sel, mx::array(0.0f)), mx::multiply(sel, mx::array(r)),
                      mx::divide(sel, mx::array(r)));
      logits = mx::scatter(logits, {ids}, mx::expand_dims(sel, 1), {0});
    }
    if (p.presence_penalty != 0.0f) {
      auto pen = mx::full({int(ids.size()), 1}, p.presence_penalty, mx::float32);
      logits = mx::subtract(logits, mx::scatter(mx::zeros_like(logits), {ids}, pen, {0}));
    }
    if (p.frequency_penalty != 0.0f) {
      auto pen = mx::full({int(ids.size()), 1}, p.frequency_penalty, mx::float32);
      logits = mx::subtract(logits, mx::scatter_add(mx::zeros_like(logits), {ids}, pen, {0}));
    }
  }
  std::optional<mx::array> logprobs;
  auto log_softmax = [&] {
    if (!logprobs) logprobs = mx::subtract(logits, mx::logsumexp(logits, 0, true));
    return *logprobs;
  };

  SampleResult out(mx::array(0));
  if (p.greedy()) {
    out.token = mx::argmax(logits, 0, true);
  } else {
    const float neg_inf = -std::numeric_limits<float>::infinity();
    auto lp = log_softmax();
    auto filtered = lp;
    if (p.top_p > 0.0f && p.top_p < 1.0f) {
      // Keep the smallest set of most likely tokens whose probability reaches top_p.
      auto order = mx::argsort(filtered, 0);  // ascending
      auto sorted = mx::take(filtered, order, 0);
      auto cum = mx::cumsum(mx::exp(sorted), 0);
      auto keep_sorted = mx::greater(cum, mx::array(1.0f - p.top_p));
      auto keep = mx::scatter(mx::zeros(filtered.shape(), mx::bool_), {order},
                              mx::expand_dims(keep_sorted, 1), {0});
      filtered = mx::where(keep, filtered, mx::array(neg_inf));
    }
    if (p.min_p > 0.0f) {
      auto threshold = mx::add(mx::max(filtered, 0, true), mx::array(std::log(p.min_p)));
      filtered = mx::where(mx::less(filtered, threshold), mx::array(neg_inf), filtered);
    }
    if (p.top_k > 0 && p.top_k < filtered.shape(0)) {
      auto kth = mx::min(mx::topk(filtered, p.top_k, 0), 0, true);
      filtered = mx::where(mx::less(filtered, kth), mx::array(neg_inf), filtered);
    }
    auto keys = mx::random::split(key_);
    key_ = keys.first;
    out.token = mx::random::categorical(mx::multiply(filtered, mx::array(1.0f / p.temperature)), 0,
                                        keys.second);
    out.token = mx::reshape(out.token, {1});
  }
  out.token = mx::astype(out.token, mx::int32);
  if (p.logprobs >= 0) {
    auto lp = log_softmax();
    out.logprob = mx::take(lp, out.token, 0);
    if (p.logprobs > 0) {
      int k = std::min(p.logprobs, int(lp.shape(0)));
      auto part = mx::slice(mx::argpartition(mx::negative(lp), k - 1, 0), {0}, {k});
      auto vals = mx::take(lp, part, 0);
      auto order = mx::argsort(mx::negative(vals), 0);
      out.top_ids = mx::astype(mx::take(part, order, 0), mx::int32);
      out.top_logprobs = mx::take(vals, order, 0);
    }
  }
  return out;
}

}  // namespace mlxn
