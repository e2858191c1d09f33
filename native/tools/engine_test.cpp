// Engine checks that need no Node: run by test/engine-native.test.ts on the fixture model.
//
//   engine_test --model DIR|FILE.gguf [--config CONFIG.json]
//
// Prints one line per check ("ok NAME" / "FAIL NAME: why") and then "N passed, N failed";
// exits non-zero when a check failed.
#include <functional>
#include <iostream>

#include "engine/errors.h"
#include "engine/scheduler.h"
#include "support/bench_support.h"
#include "support/model_files.h"

using namespace mlxn;
using namespace mlxn::bench;

namespace {

// Allows exactly one token at each step: the next one of `script`, then any token.
class ScriptHook : public LogitsHook {
 public:
  explicit ScriptHook(std::vector<int32_t> script) : script_(std::move(script)) {}
  std::optional<std::vector<uint32_t>> allowed() override {
    asked_ += 1;
    if (pos_ >= script_.size()) return std::nullopt;
    if (script_[pos_] < 0) return std::vector<uint32_t>{};  // nothing allowed
    std::vector<uint32_t> mask(size_t(script_[pos_]) / 32 + 1, 0);
    mask[script_[pos_] / 32] |= 1u << (script_[pos_] % 32);
    return mask;
  }
  void accept(int32_t token) override {
    accepted_.push_back(token);
    pos_ += 1;
  }
  const std::vector<int32_t>& accepted() const { return accepted_; }
  int asked() const { return asked_; }

 private:
  std::vector<int32_t> script_, accepted_;
  size_t pos_ = 0;
  int asked_ = 0;
};

// Collects each request's tokens.
class TokenSink : public EventSink {
 public:
  void push(Event&& e) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto* t = std::get_if<TokensEvent>(&e.payload)) {
      auto& v = tokens_[e.id];
      v.insert(v.end(), t->tokens.begin(), t->tokens.end());
    } else if (auto* err = std::get_if<ErrorEvent>(&e.payload)) {
      errors_[e.id] = err->code + ": " + err->message, done_[e.id] = true;
    } else if (std::holds_alternative<DoneEvent>(e.payload)) {
      done_[e.id] = true;
    } else if (!std::holds_alternative<ProgressEvent>(e.payload)) {
      done_[e.id] = true;
    }
    changed_.notify_all();
  }
  void wait(const std::vector<uint64_t>& ids) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] {
      for (auto id : ids)
        if (!done_[id]) return false;
      return true;
    });
    for (auto id : ids)
      if (errors_.count(id)) throw std::runtime_error(errors_[id]);
  }
  std::vector<int32_t> tokens(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return tokens_[id];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<uint64_t, std::vector<int32_t>> tokens_;
  std::map<uint64_t, bool> done_;
  std::map<uint64_t, std::string> errors_;
};

struct Harness {
  std::shared_ptr<TokenSink> sink = std::make_shared<TokenSink>();
  Engine engine{sink};
  uint64_t next = 1;

  // Submits every request in one engine task (so they share steps) and waits for them.
  std::vector<std::vector<int32_t>> run(std::vector<GenerateRequest> requests) {
    std::vector<uint64_t> ids;
    for (auto& r : requests) ids.push_back(r.id = next++);
    engine.post(0, [requests](Engine& eng) mutable {
      for (auto& r : requests) eng.scheduler().submit(std::move(r));
    });
    sink->wait(ids);
    std::vector<std::vector<int32_t>> out;
    for (auto id : ids) out.push_back(sink->tokens(id));
    return out;
  }
};

GenerateRequest greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  return r;
}

std::vector<int32_t> prompt_of(int length, int seed) {
  std::vector<int32_t> p;
  for (int i = 0; i < length; ++i) p.push_back(100 + (seed * 7919 + i * 104729) % 5000);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  SchedulerOptions options;
  options.max_batch = 16;
  options.prefill_chunk = 256;  // room for several prompts in one prefill forward pass
  Harness h;
  ModelSpec spec = tools::model_spec(args.get("model"), args.get("config"));
  // The batch checks compare rows decoded together with solo runs token for token: exact in
  // float32 on every backend; in float16 (the GPU default) a batch's other kernels round
  // differently and near-ties may flip.
  spec.dtype = "float32";
  h.engine.post(0, [&](Engine& eng) { eng.emit(0, eng.load_model(0, spec, options)); });
  try {
    h.sink->wait({0});
  } catch (const std::exception& e) {
    std::cerr << "engine_test: cannot load the model: " << e.what() << std::endl;
    return 2;
  }

  int passed = 0, failed = 0;
  auto check = [&](const std::string& name, const std::function<std::string()>& body) {
    std::string why;
    try {
      why = body();
    } catch (const std::exception& e) {
      why = std::string("threw ") + e.what();
    }
    std::cout << (why.empty() ? "ok " + name : "FAIL " + name + ": " + why) << std::endl;
    (why.empty() ? passed : failed) += 1;
  };

  check("a hooked row follows its mask while unhooked rows in the batch match their solo runs",
        [&]() -> std::string {
          auto a = prompt_of(9, 1), b = prompt_of(23, 2);
          auto solo = h.run({greedy(a, 12)})[0];
          std::vector<int32_t> script = {42, 4242, 17, 999, 3, 3, 3, 1234};
          auto hook = std::make_shared<ScriptHook>(script);
          auto constrained = greedy(b, 12);
          constrained.hook = hook;
          auto both = h.run({greedy(a, 12), constrained});
          if (both[0] != solo) return "the unhooked row changed";
          if (!std::equal(script.begin(), script.end(), both[1].begin()))
            return "the hooked row did not follow its mask";
          if (hook->accepted() != both[1]) return "the hook was not fed the sampled tokens";
          if (hook->asked() != 12) return "the hook was asked " + std::to_string(hook->asked());
          return "";
        });

  check("16 mixed-length greedy requests together equal their solo runs", [&]() -> std::string {
    std::vector<GenerateRequest> batch;
    std::vector<std::vector<int32_t>> solo;
    for (int i = 0; i < 16; ++i) {
      auto p = prompt_of(3 + (i * 13) % 40, 10 + i);
      solo.push_back(h.run({greedy(p, 10 + i % 5)})[0]);
      batch.push_back(greedy(p, 10 + i % 5));
    }
    auto together = h.run(std::move(batch));
    for (int i = 0; i < 16; ++i) {
      if (together[i] != solo[i]) return "request " + std::to_string(i) + " differs";
    }
    return "";
  });

  check("a mask that allows no token fails only its request", [&]() -> std::string {
    auto bad = greedy(prompt_of(5, 3), 4);
    bad.hook = std::make_shared<ScriptHook>(std::vector<int32_t>{-1});
    try {
      h.run({bad});
      return "no error";
    } catch (const std::exception& e) {
      if (std::string(e.what()).find("INVALID_ARGUMENT") == std::string::npos)
        return std::string("wrong error ") + e.what();
    }
    auto ok = h.run({greedy(prompt_of(5, 3), 4)});
    return ok[0].size() == 4 ? "" : "the next request failed too";
  });

  h.engine.shutdown();
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 ? 0 : 1;
}
