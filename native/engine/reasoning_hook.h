// A thinking block ahead of a constrained or budgeted answer. While the sequence is inside the
// block ("<think>" … "</think>", or another family's markers) any token may follow; once the
// budget of thinking tokens is spent, the closing tokens are forced one by one. After the block
// the inner hook (a grammar, when the answer is constrained) takes over. The block's end is
// found on the decoded bytes, so it is seen however the model spelled the marker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "grammar.h"
#include "logits_hook.h"

namespace mlxn {

struct ReasoningSpec {
  std::string open, close;         // the block's markers, as text
  std::vector<int32_t> close_ids;  // the tokens forced when the budget runs out
  bool inside = false;             // the prompt already opened the block
  int budget = -1;                 // thinking tokens before the block is closed; -1: no limit
};

class ReasoningHook : public LogitsHook {
 public:
  // `inner` may be null (a budget alone).
  ReasoningHook(ReasoningSpec spec, std::shared_ptr<const GrammarVocab> vocab,
                std::shared_ptr<LogitsHook> inner);

  std::optional<std::vector<uint32_t>> allowed() override;
  void accept(int32_t token) override;

 private:
  enum class Phase { Before, Inside, Forcing, After };
  ReasoningSpec spec_;
  std::shared_ptr<const GrammarVocab> vocab_;
  std::shared_ptr<LogitsHook> inner_;
  Phase phase_;
  int thought_ = 0;  // tokens inside the block
  size_t forced_ = 0;
  std::string text_;  // decoded bytes of the block (or, before it, of the output so far)
};

}  // namespace mlxn
