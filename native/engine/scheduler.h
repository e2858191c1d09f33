// Continuous batching on the engine thread. Each step runs one batched decode for every active
// sequence, then admits waiting requests in arrival order and runs one bounded prefill chunk,
// so a long prompt never stalls the streams already running.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "engine.h"
#include "model.h"
#include "prefix_cache.h"
#include "sampler.h"

namespace mlxn {

struct GenerateRequest {
  uint64_t id = 0;
  std::vector<int32_t> prompt;
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<int32_t> eos;  // empty: never stop on a token
};

struct SchedulerOptions {
  int max_batch = 16;     // sequences decoded together
  int prefill_chunk = 0;  // prompt tokens prefilled per step, over one or more requests (0: auto)
  size_t kv_budget = size_t(2) << 30;        // bytes of KV cache for running sequences
  size_t prefix_budget = size_t(512) << 20;  // bytes of KV kept for prefix reuse
};

class Scheduler : public Worker {
 public:
  Scheduler(Engine& engine, std::unique_ptr<Model> model, SchedulerOptions options);
  ~Scheduler() override;

  // Engine thread. Validates and queues; failures become an Error event for the request.
  void submit(GenerateRequest request);
  bool has_work() const override { return !waiting_.empty() || !active_.empty(); }
  void step() override;
  void cancel(uint64_t id) override;
  void shutdown() override;

  const Model& model() const { return *model_; }
  void describe(Event& out) const;  // counters for stats()
  void clear_prefix_cache() { prefix_cache_.clear(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Sequence {
    Sequence(GenerateRequest r, Sampler s) : request(std::move(r)), sampler(std::move(s)) {}
    GenerateRequest request;
    Sampler sampler;
    std::optional<KVCache> cache;
    std::vector<int32_t> tokens;  // prompt and the generated tokens read so far
    int prefilled = 0, cached = 0, generated = 0;
    size_t reserved = 0;
    std::optional<SampleResult> pending;  // sampled, not yet fed back
    bool pending_read = false;            // pending was already delivered
    Clock::time_point submitted, prefill_started, first_token, last_token;
  };

  void decode_step();
  void prefill_step();
  // Prefills the next n prompt tokens of the front waiting sequence; true once its first token
  // is out (it moved to the batch or finished).
  bool run_prefill_chunk(Sequence& seq, int n);
  bool admit(Sequence& seq);
  // Reads `seq.pending`, delivers it; returns the finish reason or "" to go on.
  std::string deliver(Sequence& seq);
  void finish(Sequence& seq, const std::string& reason);
  void fail(Sequence& seq, const std::string& code, const std::string& message);
  std::optional<mx::array> penalty_tokens(const Sequence& seq) const;

  Engine& engine_;
  std::unique_ptr<Model> model_;
  SchedulerOptions options_;
  PrefixCache prefix_cache_;
  std::deque<std::unique_ptr<Sequence>> waiting_;  // front may be mid-prefill
  std::vector<std::unique_ptr<Sequence>> active_;
  size_t kv_reserved_ = 0;
  uint64_t steps_ = 0;
  double prefix_hits_ = 0, prefix_tokens_ = 0;
};

}  // namespace mlxn
