#include "scheduler.h"

#include <algorithm>

#include "device.h"
#include "errors.h"

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
  // CPU prefill costs about as much per token as decode, so a big chunk would stall running
  // streams for seconds; GPUs prefill hundreds of tokens in the time of one decode step.
  if (options_.prefill_chunk <= 0) {
    options_.prefill_chunk = mx::default_device() == mx::Device::cpu ? 32 : 512;
  }
}

Scheduler::~Scheduler() = default;

void Scheduler::submit(GenerateRequest request) {
  const auto& c = model_->config();
  if (request.prompt.empty()) throw EngineError("EMPTY_PROMPT", "[generate] the prompt is empty");
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= c.vocab_size) {
      throw EngineError("INVALID_ARGUMENT", "[generate] prompt token " + std::to_string(t) +
                                                " is outside the vocabulary");
    }
  }
  if (c.context_length > 0 && int(request.prompt.size()) >= c.context_length) {
    throw EngineError("CONTEXT_OVERFLOW",
                      "[generate] the prompt has " + std::to_string(request.prompt.size()) +
                          " tokens; the context holds " + std::to_string(c.context_length));
  }
  if (c.context_length > 0) {
    request.max_tokens =
        std::min<int>(request.max_tokens, c.context_length - int(request.prompt.size()));
  }
  if (request.max_tokens < 1)
    throw EngineError("INVALID_ARGUMENT", "[generate] maxTokens must be at least 1");
  Sampler sampler(request.sampling, c.vocab_size);  // validates logit bias ids
  auto seq = std::make_unique<Sequence>(std::move(request), std::move(sampler));
  seq->submitted = Clock::now();
  size_t need = model_->kv_bytes_per_token() *
                (((seq->request.prompt.size() + seq->request.max_tokens) / KVCache::kStep + 1) *
                 KVCache::kStep);
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

void Scheduler::decode_step() {
  if (active_.empty()) return;
  const int B = int(active_.size());
  std::vector<mx::array> inputs;
  std::vector<KVCache*> caches;
  for (auto& s : active_) {
    inputs.push_back(s->pending->token);
    caches.push_back(&*s->cache);
  }
  std::vector<SampleResult> next;
  try {
    auto x = mx::reshape(B == 1 ? inputs[0] : mx::concatenate(inputs, 0), {B, 1});
    auto logits = model_->forward(x, caches);
    bool plain = std::all_of(active_.begin(), active_.end(),
                             [](auto& s) { return s->request.sampling.plain(); });
    std::vector<mx::array> to_eval;
    if (plain) {
      auto tokens = mx::astype(mx::argmax(logits, 1), mx::int32);
      auto rows = B == 1 ? std::vector<mx::array>{tokens} : mx::split(tokens, B, 0);
      for (auto& r : rows) next.emplace_back(r);
    } else {
      for (int b = 0; b < B; ++b) {
        auto row = mx::reshape(mx::slice(logits, {b, 0}, {b + 1, logits.shape(1)}), {-1});
        next.push_back(active_[b]->sampler.sample(row, penalty_tokens(*active_[b])));
      }
    }
    for (auto& r : next) {
      to_eval.push_back(r.token);
      for (auto* a : {&r.logprob, &r.top_ids, &r.top_logprobs}) {
        if (*a) to_eval.push_back(**a);
      }
    }
    // Queue step n+1 before reading step n: the host builds while the device computes.
    mx::async_eval(to_eval);
  } catch (const std::exception& e) {
    for (auto& s : active_) fail(*s, "MLX_ERROR", std::string("[decode] ") + e.what());
    active_.clear();
    return;
  }
  std::vector<std::unique_ptr<Sequence>> still;
  for (int b = 0; b < B; ++b) {
    Sequence& s = *active_[b];
    std::string reason = s.pending_read ? "" : deliver(s);
    s.pending = std::move(next[b]);
    s.pending_read = false;
    if (reason.empty()) {
      still.push_back(std::move(active_[b]));
    } else {
      finish(s, reason);
    }
  }
  active_.swap(still);
}

std::string Scheduler::deliver(Sequence& seq) {
  SampleResult& r = *seq.pending;
  int32_t token = r.token.item<int32_t>();
  seq.pending_read = true;
  seq.last_token = Clock::now();
  seq.generated += 1;
  seq.tokens.push_back(token);
  if (is_eos(seq.request.eos, token)) return "stop";
  Event e;
  e.id = seq.request.id;
  e.type = Event::Type::Tokens;
  e.set("tokens", std::vector<int32_t>{token});
  if (r.logprob) {
    e.set("logprob", std::vector<float>{r.logprob->item<float>()});
    if (r.top_ids) {
      const mx::array& ids = *r.top_ids;        // int32 (Sampler)
      const mx::array& vals = *r.top_logprobs;  // float32, like the logits
      mx::eval({ids, vals});
      e.set("topIds", std::vector<int32_t>(ids.data<int32_t>(), ids.data<int32_t>() + ids.size()));
      e.set("topLogprobs",
            std::vector<float>(vals.data<float>(), vals.data<float>() + vals.size()));
    }
  }
  engine_.sink().push(std::move(e));
  if (seq.generated >= seq.request.max_tokens) return "length";
  return "";
}

void Scheduler::finish(Sequence& seq, const std::string& reason) {
  auto now = Clock::now();
  Event e;
  e.id = seq.request.id;
  e.type = Event::Type::Done;
  e.set("finishReason", reason);
  e.set("promptTokens", double(seq.request.prompt.size()));
  e.set("completionTokens", double(seq.generated));
  e.set("cachedTokens", double(seq.cached));
  bool started = seq.generated > 0;
  e.set("timeToFirstTokenMs", started ? ms_between(seq.submitted, seq.first_token) : 0.0);
  double prefill_ms = started ? ms_between(seq.prefill_started, seq.first_token) : 0.0;
  double prefilled = double(seq.request.prompt.size() - seq.cached);
  e.set("prefillTokensPerSecond", prefill_ms > 0 ? prefilled / (prefill_ms / 1000.0) : 0.0);
  double decode_ms = seq.generated > 1 ? ms_between(seq.first_token, seq.last_token) : 0.0;
  e.set("decodeTokensPerSecond", decode_ms > 0 ? (seq.generated - 1) / (decode_ms / 1000.0) : 0.0);
  e.set("totalMs", ms_between(seq.submitted, now));
  engine_.sink().push(std::move(e));
  if (seq.cache) {
    kv_reserved_ -= seq.reserved;
    int n = std::min<int>(seq.cache->offset(), int(seq.tokens.size()));
    seq.tokens.resize(n);
    prefix_cache_.insert(std::move(seq.tokens), std::move(*seq.cache));
    seq.cache.reset();
  }
}

void Scheduler::fail(Sequence& seq, const std::string& code, const std::string& message) {
  if (seq.cache) kv_reserved_ -= seq.reserved, seq.cache.reset();
  engine_.emit_error(seq.request.id, code, message);
}

bool Scheduler::admit(Sequence& seq) {
  if (kv_reserved_ + seq.reserved > options_.kv_budget) {
    prefix_cache_.shrink_to(0);
    if (kv_reserved_ + seq.reserved > options_.kv_budget) return false;  // wait for memory
  }
  kv_reserved_ += seq.reserved;
  seq.prefill_started = Clock::now();
  if (auto hit = prefix_cache_.lookup(seq.request.prompt)) {
    seq.cached = seq.prefilled = hit->offset();
    seq.cache = std::move(*hit);
    prefix_hits_ += 1;
    prefix_tokens_ += seq.cached;
  } else {
    seq.cache = model_->make_cache();
  }
  return true;
}

void Scheduler::prefill_step() {
  // One step prefills at most `prefill_chunk` prompt tokens, spread over as many waiting
  // requests (in arrival order) as they cover: many short prompts start together, a long one
  // takes several steps with a decode step between its chunks.
  int budget = options_.prefill_chunk;
  while (budget > 0 && !waiting_.empty() && int(active_.size()) < options_.max_batch) {
    Sequence& seq = *waiting_.front();
    if (!seq.cache && !admit(seq)) return;
    const int n = std::min<int>(budget, int(seq.request.prompt.size()) - seq.prefilled);
    budget -= n;
    if (!run_prefill_chunk(seq, n)) return;  // mid-prompt (budget spent) or failed
  }
}

bool Scheduler::run_prefill_chunk(Sequence& seq, int n) {
  const auto& prompt = seq.request.prompt;
  try {
    mx::array chunk(prompt.data() + seq.prefilled, {1, n}, mx::int32);
    auto logits = model_->forward(chunk, {&*seq.cache});
    seq.prefilled += n;
    if (seq.prefilled < int(prompt.size())) {
      mx::eval(seq.cache->state());  // only the cache: the logits of a middle chunk are unused
      mx::clear_cache();
      return false;
    }
    auto row = mx::reshape(logits, {-1});
    seq.pending = seq.sampler.sample(row, penalty_tokens(seq));
    mx::eval({seq.pending->token});
  } catch (const std::exception& e) {
    auto owned = std::move(waiting_.front());
    waiting_.pop_front();
    const auto* ee = dynamic_cast<const EngineError*>(&e);
    fail(*owned, ee ? ee->code() : "MLX_ERROR", std::string("[prefill] ") + e.what());
    return false;
  }
  auto owned = std::move(waiting_.front());
  waiting_.pop_front();
  owned->first_token = Clock::now();
  std::string reason = deliver(*owned);
  if (reason.empty()) {
    active_.push_back(std::move(owned));
  } else {
    finish(*owned, reason);
  }
  return true;
}

void Scheduler::cancel(uint64_t id) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if ((*it)->request.id == id) {
      auto owned = std::move(*it);
      waiting_.erase(it);
      finish(*owned, "abort");
      return;
    }
  }
  for (auto it = active_.begin(); it != active_.end(); ++it) {
    if ((*it)->request.id == id) {
      auto owned = std::move(*it);
      active_.erase(it);
      finish(*owned, "abort");
      return;
    }
  }
}

void Scheduler::shutdown() {
  for (auto& s : active_) finish(*s, "abort");
  for (auto& s : waiting_) finish(*s, "abort");
  active_.clear();
  waiting_.clear();
  prefix_cache_.clear();
  mx::synchronize();
}

void Scheduler::describe(Event& out) const {
  out.set("activeSequences", double(active_.size()));
  out.set("waitingRequests", double(waiting_.size()));
  out.set("kvReservedBytes", double(kv_reserved_));
  out.set("prefixCacheBytes", double(prefix_cache_.bytes()));
  out.set("prefixCacheHits", prefix_hits_);
  out.set("prefixCacheTokens", prefix_tokens_);
  describe_memory(out);
}

}  // namespace mlxn
