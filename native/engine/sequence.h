// A request's state inside the scheduler (shared by scheduler.cpp and prefill.cpp).
#pragma once

#include "scheduler.h"

namespace mlxn {

struct Scheduler::Sequence {
  Sequence(GenerateRequest r, Sampler s) : request(std::move(r)), sampler(std::move(s)) {}
  GenerateRequest request;
  Sampler sampler;
  std::optional<KVCache> cache;  // its own cache until it joins the batch
  bool admitted = false;
  std::vector<int32_t> tokens;  // prompt and the generated tokens read so far
  int prefilled = 0, cached = 0, generated = 0;
  size_t reserved = 0;
  std::optional<SampleResult> pending;  // sampled, not yet fed back
  bool pending_read = false;            // pending was already delivered
  Clock::time_point submitted, prefill_started, first_token, last_token;
};

}  // namespace mlxn
