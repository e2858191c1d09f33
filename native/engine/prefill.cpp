// The scheduler's prefill side: admitting waiting requests and prefilling their prompts, several
// together in one padded forward pass, or a long one alone in budget-sized chunks.
#include <algorithm>

#include "errors.h"
#include "sequence.h"

namespace mlxn {

bool Scheduler::admit(Sequence& seq) {
  if (kv_reserved_ + seq.reserved > options_.kv_budget) {
    prefix_cache_.shrink_to(0);
    if (kv_reserved_ + seq.reserved > options_.kv_budget) return false;  // wait for memory
  }
  kv_reserved_ += seq.reserved;
  seq.admitted = true;
  seq.prefill_started = Clock::now();
  if (auto hit = prefix_cache_.lookup(seq.request.prompt)) {
    seq.cached = seq.prefilled = hit->offset();
    seq.cache = std::move(*hit);
    prefix_hits_ += 1;
    prefix_tokens_ += seq.cached;
  } else {
    seq.cache = model_->make_cache(1);
  }
  return true;
}

void Scheduler::prefill_step() {
  // The step's budget counts padded tokens: a group of B prompts right-padded to L costs B * L.
  const int budget = options_.prefill_chunk;
  std::vector<Sequence*> group;
  int length = 0;
  while (group.size() < waiting_.size() &&
         int(active_.size() + group.size()) < options_.max_batch) {
    Sequence& seq = *waiting_[group.size()];
    if (!seq.admitted && !admit(seq)) break;
    const int remaining = int(seq.request.prompt.size()) - seq.prefilled;
    if (group.empty() && remaining > budget) {
      prefill_chunk(seq, budget);  // a long prompt: one chunk this step
      return;
    }
    const int padded = std::max(length, remaining);
    if (!group.empty() && int(group.size() + 1) * padded > budget) break;
    group.push_back(&seq);
    length = padded;
  }
  if (!group.empty()) prefill_group(group, length);
}

void Scheduler::prefill_chunk(Sequence& seq, int n) {
  try {
    mx::array chunk(seq.request.prompt.data() + seq.prefilled, {1, n}, mx::int32);
    (void)model_->forward(chunk, *seq.cache);  // the logits of a middle chunk are unused
    seq.prefilled += n;
    mx::eval(seq.cache->state());
    mx::clear_cache();
  } catch (const std::exception& e) {
    auto owned = std::move(waiting_.front());
    waiting_.pop_front();
    const auto* ee = dynamic_cast<const EngineError*>(&e);
    fail(*owned, ee ? ee->code() : "MLX_ERROR", std::string("[prefill] ") + e.what());
  }
}

void Scheduler::prefill_group(const std::vector<Sequence*>& group, int length) {
  const int B = int(group.size());
  std::vector<std::unique_ptr<Sequence>> seqs;
  for (int b = 0; b < B; ++b) {
    seqs.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  std::vector<int32_t> tokens(size_t(B) * length, 0);
  std::vector<int> lengths(B);
  std::optional<KVCache> cache;
  try {
    for (int b = 0; b < B; ++b) {
      Sequence& s = *seqs[b];
      lengths[b] = int(s.request.prompt.size()) - s.prefilled;
      std::copy(s.request.prompt.begin() + s.prefilled, s.request.prompt.end(),
                tokens.begin() + size_t(b) * length);
      if (!cache) {
        cache = std::move(*s.cache);
      } else {
        cache->append(*s.cache);
      }
      s.cache.reset();
    }
    mx::array x(tokens.data(), {B, length}, mx::int32);
    auto logits = model_->forward(x, *cache, lengths);
    std::vector<mx::array> to_eval = cache->state();
    for (int b = 0; b < B; ++b) {
      Sequence& s = *seqs[b];
      s.prefilled = int(s.request.prompt.size());
      auto row = mx::reshape(mx::slice(logits, {b, 0}, {b + 1, logits.shape(1)}), {-1});
      s.pending = sample(s, row);
      to_eval.push_back(s.pending->token);
    }
    mx::eval(to_eval);
  } catch (const std::exception& e) {
    const auto* ee = dynamic_cast<const EngineError*>(&e);
    for (auto& s : seqs)
      fail(*s, ee ? ee->code() : "MLX_ERROR", std::string("[prefill] ") + e.what());
    return;
  }
  std::vector<int> keep;
  for (int b = 0; b < B; ++b) {
    Sequence& s = *seqs[b];
    s.first_token = Clock::now();
    std::string reason = deliver(s);
    if (reason.empty()) {
      keep.push_back(b);
    } else {
      finish(s, reason, &*cache, b);
    }
  }
  if (keep.empty()) return;
  cache->keep(keep);
  if (batch_) {
    batch_->append(*cache);
  } else {
    batch_ = std::move(*cache);
  }
  for (int b : keep) active_.push_back(std::move(seqs[b]));
}

}  // namespace mlxn
