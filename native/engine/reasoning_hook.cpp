#include "reasoning_hook.h"

#include <cctype>

namespace mlxn {

namespace {

bool blank(const std::string& s) {
  for (unsigned char c : s) {
    if (!std::isspace(c)) return false;
  }
  return true;
}

}  // namespace

ReasoningHook::ReasoningHook(ReasoningSpec spec, std::shared_ptr<const GrammarVocab> vocab,
                             std::shared_ptr<LogitsHook> inner)
    : spec_(std::move(spec)),
      vocab_(std::move(vocab)),
      inner_(std::move(inner)),
      phase_(spec_.inside ? Phase::Inside : Phase::Before) {}

std::optional<std::vector<uint32_t>> ReasoningHook::allowed() {
  if (phase_ == Phase::Inside && spec_.budget >= 0 && thought_ >= spec_.budget &&
      !spec_.close_ids.empty()) {
    phase_ = Phase::Forcing;
    forced_ = 0;
  }
  if (phase_ == Phase::Forcing) {
    std::vector<uint32_t> mask(size_t(vocab_->size() + 31) / 32, 0u);
    int32_t t = spec_.close_ids[forced_];
    mask[size_t(t) / 32] |= 1u << (t % 32);
    return mask;
  }
  // Before the block: the answer may start with one (the model's choice) unless it is
  // constrained, in which case the grammar decides from the first token.
  if (phase_ == Phase::After || (phase_ == Phase::Before && inner_)) {
    return inner_ ? inner_->allowed() : std::nullopt;
  }
  return std::nullopt;
}

void ReasoningHook::accept(int32_t token) {
  switch (phase_) {
    case Phase::Before:
      if (inner_) {
        phase_ = Phase::After;
        inner_->accept(token);
        return;
      }
      text_ += vocab_->text(token);
      if (text_.size() >= spec_.open.size() || !blank(text_)) {
        size_t start = text_.find_first_not_of(" \t\r\n");
        if (start != std::string::npos &&
            text_.compare(start, spec_.open.size(), spec_.open) == 0) {
          phase_ = Phase::Inside;
          text_.erase(0, start + spec_.open.size());
        } else if (start != std::string::npos &&
                   spec_.open.compare(0, text_.size() - start, text_, start) != 0) {
          phase_ = Phase::After;  // the answer did not open a block
        }
      }
      return;
    case Phase::Inside:
      thought_ += 1;
      text_ += vocab_->text(token);
      if (text_.find(spec_.close) != std::string::npos) phase_ = Phase::After;
      if (text_.size() > 4 * spec_.close.size() + 64)
        text_.erase(0, text_.size() - spec_.close.size());  // keep only what a match needs
      return;
    case Phase::Forcing:
      if (++forced_ >= spec_.close_ids.size()) phase_ = Phase::After;
      return;
    case Phase::After:
      if (inner_) inner_->accept(token);
      return;
  }
}

}  // namespace mlxn
