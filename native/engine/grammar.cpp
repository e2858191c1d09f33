#include "grammar.h"

#include <llguidance.h>

#include <chrono>

#include "errors.h"

namespace mlxn {

namespace {

class GrammarHook : public LogitsHook {
 public:
  GrammarHook(std::shared_ptr<const GrammarVocab> vocab, LlgMatcher* matcher)
      : vocab_(std::move(vocab)), matcher_(matcher) {
    mask_.resize(llg_matcher_get_mask_byte_size(matcher_) / 4);
  }
  ~GrammarHook() override { llg_free_matcher(matcher_); }

  std::optional<std::vector<uint32_t>> allowed() override {
    auto start = std::chrono::steady_clock::now();
    if (llg_matcher_is_stopped(matcher_) ||
        llg_matcher_compute_mask_into(matcher_, mask_.data(), mask_.size() * 4) != 0) {
      // Finished (or failed): only an end of sequence may follow.
      std::fill(mask_.begin(), mask_.end(), 0u);
      for (int32_t t : vocab_->eos()) mask_[size_t(t) / 32] |= 1u << (t % 32);
    }
    auto& c = grammar_counters();
    c.masks += 1;
    c.mask_ns += uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count());
    return mask_;
  }

  void accept(int32_t token) override {
    // A token outside the mask cannot be sampled; an error here only leaves the matcher stopped,
    // and the next mask then allows nothing but the end of the sequence.
    if (!llg_matcher_is_stopped(matcher_)) (void)llg_matcher_consume_token(matcher_, token);
  }

 private:
  std::shared_ptr<const GrammarVocab> vocab_;
  LlgMatcher* matcher_;
  std::vector<uint32_t> mask_;
};

}  // namespace

GrammarCounters& grammar_counters() {
  static GrammarCounters counters;
  return counters;
}

GrammarVocab::GrammarVocab(std::vector<uint8_t> bytes, std::vector<uint32_t> offsets,
                           std::vector<int32_t> eos)
    : bytes_(std::move(bytes)), offsets_(std::move(offsets)), eos_(std::move(eos)) {
  if (offsets_.size() < 2 || offsets_.back() != bytes_.size())
    throw EngineError("INVALID_ARGUMENT", "[grammar] token offsets do not match the token bytes");
  if (eos_.empty()) throw EngineError("INVALID_ARGUMENT", "[grammar] the vocabulary has no EOS");
  const int n = size();
  std::vector<uint32_t> lens(n);
  for (int t = 0; t < n; ++t) {
    if (offsets_[t + 1] < offsets_[t])
      throw EngineError("INVALID_ARGUMENT", "[grammar] token offsets must not decrease");
    lens[t] = offsets_[t + 1] - offsets_[t];
  }
  std::vector<LlgToken> extra;
  for (int32_t t : eos_) {
    if (t < 0 || t >= n)
      throw EngineError("INVALID_ARGUMENT", "[grammar] EOS is outside the vocabulary");
    if (t != eos_[0]) extra.push_back(LlgToken(t));
  }
  LlgTokenizerInitV2 init = {};
  init.struct_size = sizeof(init);
  init.vocab_size = uint32_t(n);
  init.tok_eos = LlgToken(eos_[0]);
  init.token_lens = lens.data();
  init.token_bytes = bytes_.data();
  // Grammars are matched on bytes; the forced-prefix tokenization only needs to be plausible.
  init.use_approximate_greedy_tokenize_fn = true;
  init.tok_eos_extra = extra.empty() ? nullptr : extra.data();
  init.tok_eos_extra_count = uint32_t(extra.size());
  char error[1024] = {0};
  tokenizer_ = llg_new_tokenizer_v2(&init, error, sizeof(error));
  if (!tokenizer_)
    throw EngineError("INVALID_ARGUMENT", std::string("[grammar] vocabulary refused: ") + error);
}

GrammarVocab::~GrammarVocab() {
  llg_free_tokenizer(tokenizer_);
}

std::string GrammarVocab::text(int32_t token) const {
  if (token < 0 || token >= size()) return "";
  auto begin = bytes_.begin() + offsets_[token], end = bytes_.begin() + offsets_[token + 1];
  if (begin != end && *begin == 0xFF) ++begin;
  return std::string(begin, end);
}

Grammar::Grammar(std::shared_ptr<const GrammarVocab> vocab, const std::string& kind,
                 const std::string& text)
    : vocab_(std::move(vocab)) {
  if (kind != "json_schema" && kind != "json_object" && kind != "lark" && kind != "regex")
    throw EngineError("INVALID_ARGUMENT", "[grammar] unknown grammar kind " + kind);
  LlgConstraintInit init = {};
  llg_constraint_init_set_defaults(&init, vocab_->tokenizer());
  init.log_stderr_level = 0;
  init.log_buffer_level = 0;
  init.limits.verbose_errors = false;
  const std::string data = kind == "json_object" ? std::string("{\"type\":\"object\"}") : text;
  matcher_ = llg_new_matcher(&init, kind == "json_object" ? "json" : kind.c_str(), data.c_str());
  const char* error = matcher_ ? llg_matcher_get_error(matcher_) : "out of memory";
  if (error) {
    std::string message = std::string("[grammar] ") + error;
    llg_free_matcher(matcher_);
    matcher_ = nullptr;
    throw EngineError("INVALID_ARGUMENT", message);
  }
}

Grammar::~Grammar() {
  llg_free_matcher(matcher_);
}

std::shared_ptr<LogitsHook> Grammar::hook() const {
  return std::make_shared<GrammarHook>(vocab_, llg_clone_matcher(matcher_));
}

}  // namespace mlxn
