// Grammar-constrained decoding with llguidance: the model's vocabulary as llguidance sees it
// (built once per model from the token byte strings), grammars compiled from a JSON schema or a
// Lark grammar, and the LogitsHook that gives each constrained sequence its own matcher.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "logits_hook.h"

struct LlgTokenizer;
struct LlgMatcher;

namespace mlxn {

// The vocabulary as llguidance reads it. Token t's bytes are bytes[offsets[t], offsets[t + 1]);
// special tokens start with the byte 0xFF followed by their name (llguidance's convention, which
// Lark grammars address as <|name|>). Immutable once built; shared by every grammar of a model.
class GrammarVocab {
 public:
  // Throws EngineError INVALID_ARGUMENT when llguidance refuses the vocabulary.
  GrammarVocab(std::vector<uint8_t> bytes, std::vector<uint32_t> offsets, std::vector<int32_t> eos);
  ~GrammarVocab();
  GrammarVocab(const GrammarVocab&) = delete;
  GrammarVocab& operator=(const GrammarVocab&) = delete;

  int size() const { return int(offsets_.size()) - 1; }
  // The token's text (a special token's name without its 0xFF marker).
  std::string text(int32_t token) const;
  const std::vector<int32_t>& eos() const { return eos_; }
  const LlgTokenizer* tokenizer() const { return tokenizer_; }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> offsets_;
  std::vector<int32_t> eos_;
  LlgTokenizer* tokenizer_ = nullptr;
};

// A compiled grammar: a matcher in its start state that each sequence clones.
class Grammar {
 public:
  // kind: "json_schema", "json_object" (text ignored), "lark" or "regex". Throws EngineError
  // INVALID_ARGUMENT with llguidance's message when the grammar cannot be compiled.
  Grammar(std::shared_ptr<const GrammarVocab> vocab, const std::string& kind,
          const std::string& text);
  ~Grammar();
  Grammar(const Grammar&) = delete;
  Grammar& operator=(const Grammar&) = delete;

  // A fresh per-sequence hook over a clone of the start state.
  std::shared_ptr<LogitsHook> hook() const;
  const std::shared_ptr<const GrammarVocab>& vocab() const { return vocab_; }

 private:
  std::shared_ptr<const GrammarVocab> vocab_;
  LlgMatcher* matcher_ = nullptr;
};

// Host time spent computing grammar masks, over every model in the process (the bench reads it).
struct GrammarCounters {
  std::atomic<uint64_t> masks{0};
  std::atomic<uint64_t> mask_ns{0};
};
GrammarCounters& grammar_counters();

}  // namespace mlxn
