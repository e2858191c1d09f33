// The engine thread: one native thread owns every MLX call for the objects it serves.
// Other threads only enqueue tasks (and cancel flags); results go out through an EventSink.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "event.h"

namespace mlxn {

class Scheduler;
struct ModelSpec;
struct SchedulerOptions;

class Engine {
 public:
  using Task = std::function<void(Engine&)>;

  explicit Engine(std::shared_ptr<EventSink> sink);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. Runs `task` on the engine thread; an exception it throws becomes an ErrorEvent
  // for `id`. Returns false once the engine is shut down.
  bool post(uint64_t id, Task task);
  // Thread-safe. Forwards to the scheduler on the engine thread at its next step.
  void cancel(uint64_t id);
  // Thread-safe, idempotent. Aborts work in flight, drains nothing more, joins the thread.
  void shutdown();

  // True once shutdown() was called: long tasks check it between steps and give up.
  bool stopping() const { return stop_requested_.load(std::memory_order_relaxed); }

  // Engine thread only.
  void emit(uint64_t id, EventPayload payload) { sink_->push(Event{id, std::move(payload)}); }
  void emit_error(uint64_t id, const std::string& code, const std::string& message);

  // The model host (model_host.cpp), engine thread only. Loads a model and installs its
  // scheduler (one model per engine), sending progress events to `id`.
  LoadedEvent load_model(uint64_t id, const ModelSpec& spec, const SchedulerOptions& options);
  // The loaded model's scheduler; throws DISPOSED when no model is loaded.
  Scheduler& scheduler();

 private:
  void run();
  void run_task(uint64_t id, Task& task);

  std::shared_ptr<EventSink> sink_;
  std::unique_ptr<Scheduler> scheduler_;  // engine thread only

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<uint64_t, Task>> tasks_;
  std::deque<uint64_t> cancels_;
  bool stopping_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> joined_{false};
  std::thread thread_;
};

}  // namespace mlxn
