// The native engine alone, without Node: loads a model on an Engine thread with the real
// Scheduler and times every token at the moment the scheduler hands it to the sink.
// Driven by the TypeScript bench (src/bench/systems/engine-binary.ts) over stdin/stdout:
//
//   engine_bench --format gguf --file M.gguf --arch llama --hidden 576 ... [--max-batch 16]
//   → {"ready":true,...}                       once the model is loaded
//   run MAX_TOKENS 1 2 3|4 5 6                  prompts ('|'-separated), submitted together
//   → {"streams":[{"tokenMs":[...],...}],...}   token times in ms after the submit
//   memory | reset-peak | profile STEPS CONTEXT BATCH | quit
//
// Every reply is one JSON line on stdout; diagnostics go to stderr.
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/errors.h"
#include "engine/scheduler.h"

namespace mx = mlx::core;
using namespace mlxn;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string json_numbers(const std::vector<double>& v) {
  std::ostringstream o;
  o.precision(6);
  o << std::fixed << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  o << "]";
  return o.str();
}

double max_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
#ifdef __APPLE__
  return double(u.ru_maxrss);  // bytes on macOS
#else
  return double(u.ru_maxrss) * 1024.0;  // kilobytes on Linux
#endif
}

// What the engine thread reports for one request, stamped when the sink receives it: that is
// when the scheduler delivers a token, the same moment the addon would hand it to JS.
struct Stream {
  std::vector<double> token_ms;
  std::string finish, error;
  bool done = false;
};

class RecordingSink : public EventSink {
 public:
  void start(Clock::time_point t0) {
    std::lock_guard<std::mutex> lock(mutex_);
    t0_ = t0;
    streams_.clear();
    results_.clear();
  }
  void push(Event&& e) override {
    const double t = ms_since(t0_);
    std::lock_guard<std::mutex> lock(mutex_);
    if (e.type == Event::Type::Tokens) {
      for (auto& [k, v] : e.fields) {
        if (k == "tokens")
          streams_[e.id].token_ms.insert(streams_[e.id].token_ms.end(),
                                         std::get<std::vector<int32_t>>(v).size(), t);
      }
    } else if (e.type == Event::Type::Done) {
      for (auto& [k, v] : e.fields) {
        if (k == "finishReason") streams_[e.id].finish = std::get<std::string>(v);
      }
      streams_[e.id].done = true;
    } else if (e.type == Event::Type::Error) {
      streams_[e.id].error = e.code + ": " + e.message;
      streams_[e.id].done = true;
    } else if (e.type == Event::Type::Result) {
      results_[e.id] = std::move(e);
    } else {
      return;  // progress
    }
    changed_.notify_all();
  }
  // Waits until requests [first, first + n) are done (or failed); returns them.
  std::vector<Stream> wait(uint64_t first, size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] {
      for (uint64_t id = first; id < first + n; ++id)
        if (!streams_[id].done) return false;
      return true;
    });
    std::vector<Stream> out;
    for (uint64_t id = first; id < first + n; ++id) out.push_back(streams_[id]);
    return out;
  }
  // Waits for the Result event of a posted task (or its Error).
  Event result(uint64_t id) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return results_.count(id) || streams_[id].done; });
    if (!results_.count(id)) throw std::runtime_error(streams_[id].error);
    return results_[id];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Clock::time_point t0_ = Clock::now();
  std::map<uint64_t, Stream> streams_;
  std::map<uint64_t, Event> results_;
};

std::string event_json(const Event& e) {
  std::ostringstream o;
  o.precision(10);
  for (const auto& [k, v] : e.fields) {
    o << "," << quote(k) << ":";
    if (auto* d = std::get_if<double>(&v))
      o << *d;
    else if (auto* s = std::get_if<std::string>(&v))
      o << quote(*s);
    else
      o << "null";
  }
  return o.str();
}

// `--key value` pairs; `--file` may repeat.
struct Args {
  std::map<std::string, std::string> kv;
  std::vector<std::string> files;
  std::string get(const std::string& k, const std::string& d = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? d : it->second;
  }
  double num(const std::string& k, double d) const {
    auto it = kv.find(k);
    return it == kv.end() ? d : std::stod(it->second);
  }
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::invalid_argument("expected --key value, got " + k);
    k = k.substr(2);
    if (k == "file")
      a.files.push_back(argv[i + 1]);
    else
      a.kv[k] = argv[i + 1];
  }
  return a;
}

ModelSpec spec_from(const Args& a) {
  ModelSpec s;
  s.format = a.get("format", "gguf");
  s.files = a.files;
  s.dtype = a.get("dtype");
  ModelConfig& c = s.config;
  c.architecture = a.get("arch", "llama");
  c.hidden_size = int(a.num("hidden", 0));
  c.intermediate_size = int(a.num("intermediate", 0));
  c.num_layers = int(a.num("layers", 0));
  c.num_heads = int(a.num("heads", 0));
  c.num_kv_heads = int(a.num("kv-heads", c.num_heads));
  c.head_dim = int(a.num("head-dim", c.num_heads ? c.hidden_size / c.num_heads : 0));
  c.vocab_size = int(a.num("vocab", 0));
  c.context_length = int(a.num("context", 0));
  c.rms_norm_eps = float(a.num("eps", 1e-5));
  c.rope_theta = float(a.num("rope-theta", 10000));
  c.rope_traditional = a.num("rope-traditional", 0) != 0;
  c.tie_word_embeddings = a.num("tie", 0) != 0;
  c.rope_scaling.type = a.get("rope-scaling", "");
  c.rope_scaling.factor = float(a.num("rope-factor", 1));
  c.rope_scaling.low_freq_factor = float(a.num("rope-low-freq", 1));
  c.rope_scaling.high_freq_factor = float(a.num("rope-high-freq", 4));
  c.rope_scaling.original_max_position_embeddings = int(a.num("rope-original-max", 8192));
  return s;
}

std::vector<std::vector<int32_t>> parse_prompts(std::istringstream& in) {
  std::string rest;
  std::getline(in, rest);
  std::vector<std::vector<int32_t>> prompts(1);
  std::string tok;
  std::istringstream r(rest);
  while (r >> tok) {
    if (tok == "|") {
      prompts.emplace_back();
      continue;
    }
    prompts.back().push_back(int32_t(std::stol(tok)));
  }
  return prompts;
}

// Times one decode step split into graph building (host) and evaluation (device), first
// synchronously, then pipelined as the scheduler runs it. Runs on the engine thread.
Event profile(const Model& m, int steps, int context, int batch) {
  // Prefill one row, then copy its cache: a batch of B costs one prefill, not B.
  KVCache first = m.make_cache();
  std::vector<int32_t> prompt(context);
  for (int i = 0; i < context; ++i) prompt[i] = 100 + i % 1000;
  mx::array x(prompt.data(), {1, context}, mx::int32);
  (void)m.forward(x, {&first});
  mx::eval(first.state());
  std::vector<KVCache> caches;
  for (int b = 0; b < batch; ++b) caches.push_back(first.prefix(context));
  std::vector<KVCache*> ptrs;
  for (auto& c : caches) ptrs.push_back(&c);
  mx::eval([&] {
    std::vector<mx::array> all;
    for (auto& c : caches)
      for (auto& a : c.state()) all.push_back(a);
    return all;
  }());
  auto next = [&](const mx::array& tok) {
    auto logits = m.forward(mx::reshape(tok, {batch, 1}), ptrs);
    return mx::astype(mx::argmax(logits, 1), mx::int32);
  };
  mx::array tok = mx::full({batch}, 42, mx::int32);
  double build = 0, eval = 0;
  for (int i = 0; i < steps; ++i) {
    auto t0 = Clock::now();
    tok = next(tok);
    double b = ms_since(t0);
    mx::eval(tok);
    build += b;
    eval += ms_since(t0) - b;
  }
  // Read step i on the host while step i+1 runs, as the scheduler does (one sync per step).
  auto read = [](mx::array& t) {
    mx::eval(t);
    (void)t.data<int32_t>()[0];
  };
  auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) {
    auto n = next(tok);
    mx::async_eval(n);
    read(tok);
    tok = n;
  }
  read(tok);
  double pipelined = ms_since(t0) / steps;
  Event e;
  e.set("steps", double(steps)).set("context", double(context)).set("batch", double(batch));
  e.set("buildMs", build / steps).set("evalMs", eval / steps).set("pipelinedStepMs", pipelined);
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  ModelSpec spec;
  SchedulerOptions options;
  try {
    args = parse_args(argc, argv);
    spec = spec_from(args);
    options.max_batch = int(args.num("max-batch", options.max_batch));
    options.prefill_chunk = int(args.num("prefill-chunk", options.prefill_chunk));
    // Benchmarks send distinct prompts; a prefix cache would only blur the prefill figures.
    options.prefix_budget = size_t(args.num("prefix-cache-bytes", 0));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_bench: %s\n", e.what());
    return 2;
  }
  auto sink = std::make_shared<RecordingSink>();
  Engine engine(sink);
  uint64_t next_id = 1;
  auto t_load = Clock::now();
  const uint64_t load_id = next_id++;
  engine.post(load_id, [&, load_id](Engine& eng) {
    auto model = Model::load(spec, [](double) {});
    Event e;
    e.id = load_id;
    e.set("weightBytes", double(model->weight_bytes()));
    e.set("parameterCount", model->parameter_count());
    e.set("quantization", model->quantization());
    e.set("mlxVersion", std::string(mx::version()));
    eng.set_worker(std::make_unique<Scheduler>(eng, std::move(model), options));
    eng.sink().push(std::move(e));
  });
  try {
    Event loaded = sink->result(load_id);
    std::cout << "{\"ready\":true,\"loadMs\":" << ms_since(t_load) << event_json(loaded) << "}"
              << std::endl;
  } catch (const std::exception& e) {
    std::cout << "{\"error\":" << quote(e.what()) << "}" << std::endl;
    return 1;
  }

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    try {
      if (cmd == "quit") break;
      if (cmd == "run") {
        int max_tokens = 0;
        in >> max_tokens;
        auto prompts = parse_prompts(in);
        const uint64_t first = next_id;
        next_id += prompts.size();
        auto t0 = Clock::now();
        sink->start(t0);
        // One task submits every prompt, so they reach the scheduler in the same step.
        engine.post(0, [first, prompts, max_tokens](Engine& eng) {
          auto* s = dynamic_cast<Scheduler*>(eng.worker());
          for (size_t i = 0; i < prompts.size(); ++i) {
            GenerateRequest r;
            r.id = first + i;
            r.prompt = prompts[i];
            r.max_tokens = max_tokens;  // no EOS ids: generation never stops early
            try {
              s->submit(std::move(r));
            } catch (const EngineError& e) {  // fail this request alone, so wait() returns
              eng.emit_error(first + i, e.code(), e.what());
            }
          }
        });
        auto streams = sink->wait(first, prompts.size());
        double wall = ms_since(t0);
        std::ostringstream o;
        o << "{\"wallMs\":" << wall << ",\"streams\":[";
        for (size_t i = 0; i < streams.size(); ++i) {
          const auto& s = streams[i];
          o << (i ? "," : "") << "{\"promptTokens\":" << prompts[i].size()
            << ",\"tokenMs\":" << json_numbers(s.token_ms)
            << ",\"finishReason\":" << quote(s.finish);
          if (!s.error.empty()) o << ",\"error\":" << quote(s.error);
          o << "}";
        }
        std::cout << o.str() << "]}" << std::endl;
      } else if (cmd == "memory" || cmd == "reset-peak") {
        const uint64_t id = next_id++;
        const bool reset = cmd == "reset-peak";
        engine.post(id, [id, reset](Engine& eng) {
          if (reset) mx::reset_peak_memory();
          Event e;
          e.id = id;
          e.set("activeMemory", double(mx::get_active_memory()));
          e.set("peakMemory", double(mx::get_peak_memory()));
          e.set("cacheMemory", double(mx::get_cache_memory()));
          eng.sink().push(std::move(e));
        });
        Event e = sink->result(id);
        std::cout << "{\"maxRss\":" << max_rss_bytes() << event_json(e) << "}" << std::endl;
      } else if (cmd == "profile") {
        int steps = 16, context = 128, batch = 1;
        in >> steps >> context >> batch;
        const uint64_t id = next_id++;
        engine.post(id, [id, steps, context, batch](Engine& eng) {
          auto* s = dynamic_cast<Scheduler*>(eng.worker());
          Event e = profile(s->model(), steps, context, batch);
          e.id = id;
          eng.sink().push(std::move(e));
        });
        const std::string fields = event_json(sink->result(id));  // may throw: print nothing yet
        std::cout << "{\"profile\":true" << fields << "}" << std::endl;
      } else {
        std::cout << "{\"error\":" << quote("unknown command " + cmd) << "}" << std::endl;
      }
    } catch (const std::exception& e) {
      std::cout << "{\"error\":" << quote(e.what()) << "}" << std::endl;
    }
  }
  engine.shutdown();
  return 0;
}
