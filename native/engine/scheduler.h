// Continuous batching on the engine thread. Each step runs one decode forward pass for every
// active sequence (their KV caches are the rows of one batch cache), then admits waiting
// requests in arrival order and prefills them: prompts that fit the step's token budget together
// in one forward pass (right-padded), a longer one alone in budget-sized chunks with a decode
// step between them, so a long prompt never stalls the streams already running.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "embed.h"
#include "engine.h"
#include "logits_hook.h"
#include "model.h"
#include "prefix_cache.h"
#include "sampler.h"

namespace mlxn {

struct GenerateRequest {
  uint64_t id = 0;
  std::vector<int32_t> prompt;
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<int32_t> eos;          // empty: never stop on a token
  std::shared_ptr<LogitsHook> hook;  // optional per-sequence constraint
};

struct SchedulerOptions {
  int max_batch = 16;     // sequences decoded together
  int prefill_chunk = 0;  // padded prompt tokens per prefill step (0: the device policy's)
  size_t kv_budget = size_t(2) << 30;        // bytes of KV cache for running sequences
  size_t prefix_budget = size_t(512) << 20;  // bytes of KV kept for prefix reuse
};

class Scheduler {
 public:
  Scheduler(Engine& engine, std::unique_ptr<Model> model, SchedulerOptions options);
  ~Scheduler();

  // Engine thread. Validates and queues; throws EngineError for a request it refuses.
  void submit(GenerateRequest request);
  // Engine thread. Validates and queues an embedding request (embed.h).
  void submit_embed(EmbedRequest request) { embedder_.submit(std::move(request), model_->info()); }
  bool has_work() const { return !waiting_.empty() || !active_.empty() || embedder_.has_work(); }
  // One bounded unit of work: a decode step, then a prefill step, then an embedding step.
  void step();
  void cancel(uint64_t id);
  // Ends every request with an abort.
  void shutdown();

  const Model& model() const { return *model_; }
  StatsEvent stats() const;
  void clear_prefix_cache() { prefix_cache_.clear(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Sequence;

  void decode_step();
  void prefill_step();
  // Prefills the next n prompt tokens of the front waiting sequence (a long prompt's chunk).
  void prefill_chunk(Sequence& seq, int n);
  // Prefills the rest of the first group.size() waiting prompts in one forward pass, samples
  // their first tokens and moves them into the batch.
  void prefill_group(const std::vector<Sequence*>& group, int length);
  bool admit(Sequence& seq);
  SampleResult sample(Sequence& seq, const mx::array& logits_row);
  // Reads `seq.pending` and delivers it; returns the finish reason or "" to go on.
  std::string deliver(Sequence& seq);
  // Ends a sequence; `cache` row `row` (when given) goes to the prefix cache.
  void finish(Sequence& seq, const std::string& reason, const KVCache* cache, int row);
  void fail(Sequence& seq, const std::string& code, const std::string& message);
  void release(Sequence& seq);
  std::optional<mx::array> penalty_tokens(const Sequence& seq) const;

  Engine& engine_;
  std::unique_ptr<Model> model_;
  SchedulerOptions options_;
  PrefixCache prefix_cache_;
  Embedder embedder_;
  std::deque<std::unique_ptr<Sequence>> waiting_;  // front may be mid-prefill
  std::vector<std::unique_ptr<Sequence>> active_;  // row b of batch_
  std::optional<KVCache> batch_;
  size_t kv_reserved_ = 0;
  uint64_t steps_ = 0;
  double prefix_hits_ = 0, prefix_tokens_ = 0;
};

}  // namespace mlxn
