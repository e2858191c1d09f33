// Embeddings on the engine thread: each input's hidden states after the final norm, pooled
// (mean over its tokens, or its last token). Work runs in bounded steps between the
// scheduler's decode steps, like prefill: short inputs together in one right-padded forward
// pass, a long one alone in chunks through its own KV cache.
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "engine.h"
#include "model.h"

namespace mlxn {

struct EmbedRequest {
  uint64_t id = 0;
  std::vector<std::vector<int32_t>> inputs;
  bool last_token = false;  // pooling: the last token's state; otherwise the mean
};

class Embedder {
 public:
  // Validates and queues; throws EngineError (EMPTY_PROMPT, INVALID_ARGUMENT, CONTEXT_OVERFLOW).
  void submit(EmbedRequest request, const ModelInfo& info);
  bool has_work() const { return !jobs_.empty(); }
  // One forward pass of at most `budget` padded tokens and `max_rows` inputs (one at least). A
  // finished request's EmbeddingEvent, or its error, goes to `engine`.
  void step(const Model& model, int budget, int max_rows, Engine& engine);
  // Ends every request with DISPOSED.
  void shutdown(Engine& engine);

 private:
  struct Job {
    EmbedRequest request;
    size_t next = 0;            // the first input not yet (fully) run
    int dims = 0, tokens = 0;   // hidden size once known; tokens run
    std::vector<float> values;  // pooled rows of the inputs before `next`
    // A long input in chunks: its cache, tokens done, and the pooled state so far.
    std::optional<KVCache> cache;
    int offset = 0;
    std::optional<mx::array> pooled;
  };

  void run_group(const Model& model, Job& job, size_t count, int length);
  void run_chunk(const Model& model, Job& job, int n);
  void store(Job& job, const mx::array& rows);

  std::deque<Job> jobs_;
};

}  // namespace mlxn
