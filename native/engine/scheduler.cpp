#include "scheduler.h"

#include <algorithm>

#include "device.h"
#include "errors.h"
#include "grammar.h"
#include "sequence.h"

namespace mlxn {

namespace {

double ms_between(std::chrono::steady_clock::time_point a,
                  std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

bool is_eos(const std::vector<int32_t>& eos, int32_t token) {
  return std::find(eos.begin(), eos.end(), token) != eos.end();
}

}  // namespace

Scheduler::Scheduler(Engine& engine, std::unique_ptr<Model> model, SchedulerOptions options)
    : engine_(engine),
      model_(std::move(model)),
      options_(options),
      prefix_cache_(options.prefix_budget) {
  if (options_.prefill_chunk <= 0) options_.prefill_chunk = default_prefill_chunk();
}

Scheduler::~Scheduler() = default;

void Scheduler::submit(GenerateRequest request) {
  const ModelInfo& info = model_->info();
  if (request.prompt.empty()) throw EngineError("EMPTY_PROMPT", "[generate] the prompt is empty");
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= info.vocab_size) {
      throw EngineError("INVALID_ARGUMENT", "[generate] prompt token " + std::to_string(t) +
                                                " is outside the vocabulary");
    }
  }
  const int context = info.context_length;
  if (context > 0 && int(request.prompt.size()) >= context) {
    throw EngineError("CONTEXT_OVERFLOW",
                      "[generate] the prompt has " + std::to_string(request.prompt.size()) +
                          " tokens; the context holds " + std::to_string(context));
  }
  if (context > 0)
    request.max_tokens = std::min<int>(request.max_tokens, context - int(request.prompt.size()));
  if (request.max_tokens < 1)
    throw EngineError("INVALID_ARGUMENT", "[generate] maxTokens must be at least 1");
  Sampler sampler(request.sampling, info.vocab_size);  // validates logit bias ids
  auto seq = std::make_unique<Sequence>(std::move(request), std::move(sampler));
  seq->submitted = Clock::now();
  const size_t total = seq->request.prompt.size() + size_t(seq->request.max_tokens);
  // Sliding-window layers need at most their window (kv_cache.h), global ones every position.
  size_t need = model_->make_cache(1).bytes_for(int(total), options_.prefill_chunk);
  if (need > options_.kv_budget) {
    throw EngineError("OUT_OF_MEMORY", "[generate] the request needs " +
                                           std::to_string(need >> 20) +
                                           " MiB of KV cache; the budget is " +
                                           std::to_string(options_.kv_budget >> 20) + " MiB");
  }
  seq->reserved = need;
  seq->tokens = seq->request.prompt;
  waiting_.push_back(std::move(seq));
}

void Scheduler::step() {
  decode_step();
  prefill_step();
  if (embedder_.has_work()) {
    // Alone, embeddings take bigger steps; beside running streams, prefill-sized ones.
    const bool idle = active_.empty() && waiting_.empty();
    embedder_.step(*model_, options_.prefill_chunk * (idle ? 4 : 1), options_.max_batch, engine_);
  }
  if (++steps_ % 256 == 0) mx::clear_cache();
}

std::optional<mx::array> Scheduler::penalty_tokens(const Sequence& seq) const {
  const auto& p = seq.request.sampling;
  if (!p.has_penalties() || p.penalty_context <= 0) return std::nullopt;
  const bool lazy = seq.pending && !seq.pending_read;  // the newest token is not on the host yet
  int host = std::min<int>(int(seq.tokens.size()), p.penalty_context - (lazy ? 1 : 0));
  std::vector<int32_t> tail(seq.tokens.end() - host, seq.tokens.end());
  mx::array ids(tail.data(), {int(tail.size())}, mx::int32);
  if (lazy) ids = host > 0 ? mx::concatenate({ids, seq.pending->token}, 0) : seq.pending->token;
  return ids;
}

SampleResult Scheduler::sample(Sequence& seq, const mx::array& logits_row) {
  mx::array row = logits_row;
  if (seq.request.hook) {
    if (auto mask = seq.request.hook->allowed()) row = apply_token_mask(row, *mask);
  }
  return seq.sampler.sample(row, penalty_tokens(seq));
}

void Scheduler::decode_step() {
  if (active_.empty()) return;
  const int B = int(active_.size());
  std::vector<std::string> reasons(B);
  std::vector<bool> delivered(B, false);
  std::vector<SampleResult> next;
  try {
    std::vector<mx::array> inputs;
    for (auto& s : active_) inputs.push_back(s->pending->token);
    auto x = mx::reshape(B == 1 ? inputs[0] : mx::concatenate(inputs, 0), {B, 1});
    auto logits = model_->forward(x, *batch_);
    bool hooked = false;
    for (auto& s : active_) hooked = hooked || s->request.hook != nullptr;
    if (hooked) {
      // Start the forward pass, then read the constrained rows' previous tokens and compute
      // their masks on the host while the device works.
      mx::async_eval(logits);
      for (int b = 0; b < B; ++b) {
        Sequence& s = *active_[b];
        if (!s.request.hook || s.pending_read) continue;
        reasons[b] = deliver(s);
        delivered[b] = true;
      }
    }
    bool plain = std::all_of(active_.begin(), active_.end(),
                             [](auto& s) { return s->request.sampling.plain(); });
    if (plain) {
      // Greedy rows stay one batched argmax; constrained rows' masks join as one [B, V] mask.
      mx::array scores = logits;
      if (hooked) {
        std::vector<std::optional<std::vector<uint32_t>>> masks(B);
        for (int b = 0; b < B; ++b) {
          auto& hook = active_[b]->request.hook;
          if (hook && reasons[b].empty()) masks[b] = hook->allowed();
        }
        scores = apply_batch_token_mask(logits, masks);
      }
      auto tokens = mx::astype(mx::argmax(scores, 1), mx::int32);
      auto rows = B == 1 ? std::vector<mx::array>{tokens} : mx::split(tokens, B, 0);
      for (auto& r : rows) next.emplace_back(r);
    } else {
      for (int b = 0; b < B; ++b) {
        auto row = mx::reshape(mx::slice(logits, {b, 0}, {b + 1, logits.shape(1)}), {-1});
        if (!reasons[b].empty()) {
          next.emplace_back(mx::array({0}, mx::int32));  // finished: nothing to sample
          continue;
        }
        next.push_back(sample(*active_[b], row));
      }
    }
    std::vector<mx::array> to_eval;
    for (auto& r : next) {
      to_eval.push_back(r.token);
      for (auto* a : {&r.logprob, &r.top_ids, &r.top_logprobs}) {
        if (*a) to_eval.push_back(**a);
      }
    }
    // Queue step n+1 before reading step n: the host builds while the device computes.
    mx::async_eval(to_eval);
  } catch (const std::exception& e) {
    const auto* ee = dynamic_cast<const EngineError*>(&e);
    for (auto& s : active_)
      fail(*s, ee ? ee->code() : "MLX_ERROR", std::string("[decode] ") + e.what());
    active_.clear();
    batch_.reset();
    return;
  }
  std::vector<int> keep;
  std::vector<std::unique_ptr<Sequence>> still;
  for (int b = 0; b < B; ++b) {
    Sequence& s = *active_[b];
    if (!delivered[b] && !s.pending_read) reasons[b] = deliver(s);
    s.pending = std::move(next[b]);
    s.pending_read = false;
    if (reasons[b].empty()) {
      keep.push_back(b);
      still.push_back(std::move(active_[b]));
    } else {
      finish(s, reasons[b], &*batch_, b);
    }
  }
  active_.swap(still);
  if (active_.empty()) {
    batch_.reset();
  } else {
    batch_->keep(keep);
  }
}

std::string Scheduler::deliver(Sequence& seq) {
  SampleResult& r = *seq.pending;
  int32_t token = r.token.item<int32_t>();
  seq.pending_read = true;
  seq.last_token = Clock::now();
  seq.generated += 1;
  seq.tokens.push_back(token);
  if (seq.request.hook) seq.request.hook->accept(token);
  if (is_eos(seq.request.eos, token)) return "stop";
  TokensEvent e;
  e.tokens.push_back(token);
  if (r.logprob) {
    e.logprobs.push_back(r.logprob->item<float>());
    if (r.top_ids) {
      const mx::array& ids = *r.top_ids;        // int32 (Sampler)
      const mx::array& vals = *r.top_logprobs;  // float32, like the logits
      mx::eval({ids, vals});
      e.top_ids.assign(ids.data<int32_t>(), ids.data<int32_t>() + ids.size());
      e.top_logprobs.assign(vals.data<float>(), vals.data<float>() + vals.size());
    }
  }
  engine_.emit(seq.request.id, std::move(e));
  if (seq.generated >= seq.request.max_tokens) return "length";
  return "";
}

void Scheduler::release(Sequence& seq) {
  if (seq.admitted) kv_reserved_ -= seq.reserved, seq.admitted = false;
  seq.cache.reset();
}

void Scheduler::finish(Sequence& seq, const std::string& reason, const KVCache* cache, int row) {
  auto now = Clock::now();
  DoneEvent e;
  e.finish_reason = reason;
  e.prompt_tokens = int(seq.request.prompt.size());
  e.completion_tokens = seq.generated;
  e.cached_tokens = seq.cached;
  const bool started = seq.generated > 0;
  e.time_to_first_token_ms = started ? ms_between(seq.submitted, seq.first_token) : 0.0;
  double prefill_ms = started ? ms_between(seq.prefill_started, seq.first_token) : 0.0;
  double prefilled = double(seq.request.prompt.size() - seq.cached);
  e.prefill_tokens_per_second = prefill_ms > 0 ? prefilled / (prefill_ms / 1000.0) : 0.0;
  double decode_ms = seq.generated > 1 ? ms_between(seq.first_token, seq.last_token) : 0.0;
  e.decode_tokens_per_second = decode_ms > 0 ? (seq.generated - 1) / (decode_ms / 1000.0) : 0.0;
  e.total_ms = ms_between(seq.submitted, now);
  engine_.emit(seq.request.id, std::move(e));
  if (cache && options_.prefix_budget > 0) {
    int n = std::min<int>(cache->offset(row), int(seq.tokens.size()));
    if (n > 0) {
      seq.tokens.resize(n);
      if (auto copy = cache->row(row, n)) prefix_cache_.insert(std::move(seq.tokens), *copy);
    }
  }
  release(seq);
}

void Scheduler::fail(Sequence& seq, const std::string& code, const std::string& message) {
  release(seq);
  engine_.emit_error(seq.request.id, code, message);
}

void Scheduler::cancel(uint64_t id) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if ((*it)->request.id == id) {
      auto owned = std::move(*it);
      waiting_.erase(it);
      finish(*owned, "abort", owned->cache ? &*owned->cache : nullptr, 0);
      return;
    }
  }
  for (size_t b = 0; b < active_.size(); ++b) {
    if (active_[b]->request.id != id) continue;
    auto owned = std::move(active_[b]);
    active_.erase(active_.begin() + b);
    finish(*owned, "abort", &*batch_, int(b));
    std::vector<int> keep;
    for (size_t r = 0; r <= active_.size(); ++r) {
      if (r != b) keep.push_back(int(r));
    }
    if (active_.empty()) {
      batch_.reset();
    } else {
      batch_->keep(keep);
    }
    return;
  }
}

void Scheduler::shutdown() {
  for (auto& s : active_) finish(*s, "abort", nullptr, 0);
  for (auto& s : waiting_) finish(*s, "abort", nullptr, 0);
  active_.clear();
  waiting_.clear();
  embedder_.shutdown(engine_);
  batch_.reset();
  prefix_cache_.clear();
  mx::synchronize();
}

StatsEvent Scheduler::stats() const {
  StatsEvent e;
  e.active_sequences = int(active_.size());
  e.waiting_requests = int(waiting_.size());
  e.kv_reserved_bytes = double(kv_reserved_);
  e.prefix_cache_bytes = double(prefix_cache_.bytes());
  e.prefix_cache_hits = prefix_hits_;
  e.prefix_cache_tokens = prefix_tokens_;
  e.decode_steps = double(steps_);
  e.grammar_masks = double(grammar_counters().masks.load());
  e.grammar_mask_ms = double(grammar_counters().mask_ns.load()) / 1e6;
  e.memory = memory_info();
  return e;
}

}  // namespace mlxn
