#include "embed.h"

#include <algorithm>

#include "errors.h"

namespace mlxn {

void Embedder::submit(EmbedRequest request, const ModelInfo& info) {
  if (request.inputs.empty()) throw EngineError("EMPTY_PROMPT", "[embed] no inputs");
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const auto& input = request.inputs[i];
    const std::string which = "[embed] input " + std::to_string(i);
    if (input.empty()) throw EngineError("EMPTY_PROMPT", which + " has no tokens");
    if (info.context_length > 0 && int(input.size()) > info.context_length) {
      throw EngineError("CONTEXT_OVERFLOW", which + " has " + std::to_string(input.size()) +
                                                " tokens; the context holds " +
                                                std::to_string(info.context_length));
    }
    for (int32_t t : input) {
      if (t < 0 || t >= info.vocab_size)
        throw EngineError("INVALID_ARGUMENT",
                          which + ": token " + std::to_string(t) + " is outside the vocabulary");
    }
  }
  Job job;
  job.request = std::move(request);
  jobs_.push_back(std::move(job));
}

void Embedder::step(const Model& model, int budget, int max_rows, Engine& engine) {
  Job& job = jobs_.front();
  const auto& inputs = job.request.inputs;
  try {
    const int first = int(inputs[job.next].size()) - job.offset;
    if (job.cache || first > budget) {
      run_chunk(model, job, std::min(first, budget));
    } else {
      // As many following inputs as fit the budget, right-padded to the longest. Rows are
      // capped too: each gets its own KV cache rows for the pass.
      size_t count = 1;
      int length = first;
      while (job.next + count < inputs.size() && int(count) < max_rows) {
        const int padded = std::max(length, int(inputs[job.next + count].size()));
        if (int(count + 1) * padded > budget) break;
        length = padded;
        ++count;
      }
      run_group(model, job, count, length);
    }
  } catch (const std::exception& e) {
    const auto* ee = dynamic_cast<const EngineError*>(&e);
    engine.emit_error(job.request.id, ee ? ee->code() : "MLX_ERROR",
                      std::string("[embed] ") + e.what());
    jobs_.pop_front();
    mx::clear_cache();
    return;
  }
  if (job.next < inputs.size()) return;
  EmbeddingEvent done;
  done.dims = job.dims;
  done.prompt_tokens = job.tokens;
  done.values = std::move(job.values);
  engine.emit(job.request.id, std::move(done));
  jobs_.pop_front();
}

void Embedder::run_group(const Model& model, Job& job, size_t count, int length) {
  const int B = int(count);
  std::vector<int32_t> tokens(size_t(B) * length, 0);
  std::vector<int> lengths(B);
  for (int b = 0; b < B; ++b) {
    const auto& input = job.request.inputs[job.next + b];
    lengths[b] = int(input.size());
    std::copy(input.begin(), input.end(), tokens.begin() + size_t(b) * length);
    job.tokens += lengths[b];
  }
  KVCache cache = model.make_cache(B);
  auto h = model.hidden(mx::array(tokens.data(), {B, length}, mx::int32), cache, lengths);
  const int D = h.shape(2);
  mx::array n(lengths.data(), {B, 1, 1}, mx::int32);
  mx::array rows(0.0f);
  if (job.request.last_token) {
    auto at = mx::broadcast_to(mx::subtract(n, mx::array(1)), {B, 1, D});
    rows = mx::reshape(mx::take_along_axis(h, at, 1), {B, D});
  } else {
    // Padding positions are masked out; real ones never attended to them (causal mask).
    auto real = mx::less(mx::reshape(mx::arange(length, mx::int32), {1, length, 1}), n);
    auto sum = mx::sum(mx::where(real, h, mx::array(0.0f)), 1);
    rows = mx::divide(sum, mx::astype(mx::reshape(n, {B, 1}), mx::float32));
  }
  store(job, rows);
  job.next += count;
}

void Embedder::run_chunk(const Model& model, Job& job, int n) {
  const auto& input = job.request.inputs[job.next];
  if (!job.cache) job.cache = model.make_cache(1);
  auto h = model.hidden(mx::array(input.data() + job.offset, {1, n}, mx::int32), *job.cache);
  const int D = h.shape(2);
  job.offset += n;
  job.tokens += n;
  if (job.request.last_token) {
    job.pooled = mx::reshape(mx::slice(h, {0, n - 1, 0}, {1, n, D}), {1, D});
  } else {
    auto sum = mx::sum(h, 1);
    job.pooled = job.pooled ? mx::add(*job.pooled, sum) : sum;
  }
  if (job.offset < int(input.size())) {
    std::vector<mx::array> state = job.cache->state();
    state.push_back(*job.pooled);
    mx::eval(state);
    return;
  }
  auto rows = job.request.last_token ? *job.pooled
                                     : mx::divide(*job.pooled, mx::array(float(input.size())));
  job.cache.reset();
  job.pooled.reset();
  job.offset = 0;
  store(job, rows);
  job.next += 1;
}

void Embedder::store(Job& job, const mx::array& rows) {
  mx::array out = mx::astype(rows, mx::float32);
  mx::eval(out);
  job.dims = out.shape(1);
  job.values.insert(job.values.end(), out.data<float>(), out.data<float>() + out.size());
}

void Embedder::shutdown(Engine& engine) {
  for (auto& job : jobs_)
    engine.emit_error(job.request.id, "DISPOSED", "[embed] engine was disposed");
  jobs_.clear();
}

}  // namespace mlxn
