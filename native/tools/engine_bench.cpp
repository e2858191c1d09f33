// The native engine alone, without Node: loads a model on an Engine thread with the real
// Scheduler and times every token at the moment the scheduler hands it to the sink.
// Driven by the TypeScript bench (src/bench/systems/engine-binary.ts) over stdin/stdout:
//
//   engine_bench --model DIR|FILE.gguf [--config CONFIG.json] [--max-batch 16]
//                [--prefill-chunk N] [--dtype float16] [--context N] [--kv-budget-mib N]
//   → {"ready":true,...}                       once the model is loaded
//   run MAX_TOKENS 1 2 3|4 5 6                  prompts ('|'-separated), submitted together
//   → {"streams":[{"tokenMs":[...],...}],...}   token times in ms after the submit
//   memory | reset-peak | profile STEPS CONTEXT BATCH | quit
//
// Every reply is one JSON line on stdout; diagnostics go to stderr.
#include <mlx/primitives.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <unordered_set>

#include "engine/errors.h"
#include "engine/scheduler.h"
#include "support/bench_support.h"
#include "support/model_files.h"

using namespace mlxn;
using namespace mlxn::bench;

namespace {

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

// The operations one step's graph will evaluate, by primitive (inputs already computed, such as
// weights, are not counted): every one costs host time to encode on a GPU.
std::string op_counts(const mx::array& out) {
  std::map<std::string, int> counts;
  std::unordered_set<std::uintptr_t> seen;
  std::vector<mx::array> todo{out};
  int total = 0;
  while (!todo.empty()) {
    mx::array a = todo.back();
    todo.pop_back();
    if (!a.has_primitive() || !seen.insert(a.id()).second) continue;
    for (const auto& s : a.siblings()) seen.insert(s.id());
    ++counts[a.primitive().name()];
    ++total;
    for (const auto& in : a.inputs()) todo.push_back(in);
  }
  std::ostringstream o;
  o << "{\"total\":" << total;
  for (const auto& [name, n] : counts) o << "," << quote(name) << ":" << n;
  return o.str() + "}";
}

// Times one decode step split into graph building (host) and evaluation (device), first
// synchronously, then pipelined as the scheduler runs it. Runs on the engine thread.
std::string profile(const Model& m, int steps, int context, int batch) {
  // Prefill one row, then copy it: a batch of B costs one prefill, not B.
  KVCache first = m.make_cache(1);
  std::vector<int32_t> prompt(context);
  for (int i = 0; i < context; ++i) prompt[i] = 100 + i % 1000;
  (void)m.forward(mx::array(prompt.data(), {1, context}, mx::int32), first);
  mx::eval(first.state());
  KVCache cache = m.make_cache(0);
  for (int b = 0; b < batch; ++b) cache.append(first);
  mx::eval(cache.state());
  auto next = [&](const mx::array& tok) {
    auto logits = m.forward(mx::reshape(tok, {batch, 1}), cache);
    return mx::astype(mx::argmax(logits, 1), mx::int32);
  };
  mx::array tok = mx::full({batch}, 42, mx::int32);
  mx::eval(next(tok));  // not timed: compiles what this batch size runs first
  std::string ops;
  double build = 0, eval = 0;
  for (int i = 0; i < steps; ++i) {
    auto t0 = Clock::now();
    tok = next(tok);
    double b = ms_since(t0);
    if (i == 0) {  // not timed
      auto tc = Clock::now();
      ops = op_counts(tok);
      t0 += Clock::now() - tc;
    }
    mx::eval(tok);
    build += b;
    eval += ms_since(t0) - b;
  }
  // Read step i on the host while step i+1 runs, as the scheduler does (one sync per step).
  auto read = [](mx::array& t) {
    mx::eval(t);
    (void)t.data<int32_t>()[0];
  };
  // encode: the host time async_eval takes to hand a step's graph to the device (on CUDA it
  // records and launches the kernels); a step is host-bound when build + encode ≈ the step.
  double encode = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) {
    auto n = next(tok);
    auto te = Clock::now();
    mx::async_eval(n);
    encode += ms_since(te);
    read(tok);
    tok = n;
  }
  read(tok);
  std::ostringstream o;
  o << "\"steps\":" << steps << ",\"context\":" << context << ",\"batch\":" << batch
    << ",\"buildMs\":" << build / steps << ",\"evalMs\":" << eval / steps
    << ",\"encodeMs\":" << encode / steps << ",\"ops\":" << ops
    << ",\"pipelinedStepMs\":" << ms_since(t0) / steps;
  return o.str();
}

std::string loaded_json(const LoadedEvent& e) {
  std::ostringstream o;
  o.precision(10);
  o << ",\"weightBytes\":" << e.weight_bytes << ",\"parameterCount\":" << e.parameters
    << ",\"quantization\":" << quote(e.quantization) << ",\"family\":" << quote(e.family)
    << ",\"dtype\":" << quote(e.dtype) << ",\"mlxVersion\":" << quote(e.device.mlx_version)
    << ",\"backend\":" << quote(e.device.backend)
    << ",\"deviceName\":" << quote(e.device.device_name);
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  ModelSpec spec;
  SchedulerOptions options;
  try {
    Args args = parse_args(argc, argv);
    spec = tools::model_spec(args.get("model"), args.get("config"));
    spec.dtype = args.get("dtype");
    spec.context_length = int(args.num("context", 0));
    options.max_batch = int(args.num("max-batch", options.max_batch));
    options.prefill_chunk = int(args.num("prefill-chunk", options.prefill_chunk));
    // Throughput runs: a KV budget that admits every stream (memory is reported on its own).
    options.kv_budget = size_t(args.num("kv-budget-mib", 32768)) << 20;
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
    eng.emit(load_id, eng.load_model(load_id, spec, options));
  });
  try {
    auto loaded = std::get<LoadedEvent>(sink->result(load_id));
    std::cout << "{\"ready\":true,\"loadMs\":" << ms_since(t_load) << loaded_json(loaded) << "}"
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
          for (size_t i = 0; i < prompts.size(); ++i) {
            GenerateRequest r;
            r.id = first + i;
            r.prompt = prompts[i];
            r.max_tokens = max_tokens;  // no EOS ids: generation never stops early
            try {
              eng.scheduler().submit(std::move(r));
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
          eng.emit(id, DeviceEvent{device_info(), memory_info()});
        });
        auto m = std::get<DeviceEvent>(sink->result(id)).memory;
        std::cout << "{\"maxRss\":" << max_rss_bytes() << ",\"activeMemory\":" << m.active
                  << ",\"peakMemory\":" << m.peak << ",\"cacheMemory\":" << m.cache << "}"
                  << std::endl;
      } else if (cmd == "profile") {
        int steps = 16, context = 128, batch = 1;
        in >> steps >> context >> batch;
        const uint64_t id = next_id++;
        // The task fills `fields`, then its event wakes result(). (No std::future: see the
        // visibility note in CMakeLists.txt.)
        auto fields = std::make_shared<std::string>();
        engine.post(id, [id, steps, context, batch, fields](Engine& eng) {
          *fields = profile(eng.scheduler().model(), steps, context, batch);
          eng.emit(id, DiagnosticEvent{});
        });
        (void)sink->result(id);  // throws the task's error
        std::cout << "{\"profile\":true," << *fields << "}" << std::endl;
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
