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

class Engine;

// Work that runs repeatedly on the engine thread while it has something to do (the scheduler).
class Worker {
 public:
  virtual ~Worker() = default;
  virtual bool has_work() const = 0;
  // One bounded unit of work (a decode step plus a prefill chunk). Must not block for long.
  virtual void step() = 0;
  // Cancellation requested from any thread; acted on at the next step.
  virtual void cancel(uint64_t id) = 0;
  // Called on the engine thread before it exits: finish every request with an abort.
  virtual void shutdown() = 0;
};

class Engine {
 public:
  using Task = std::function<void(Engine&)>;

  explicit Engine(std::shared_ptr<EventSink> sink);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. Runs `task` on the engine thread; an exception it throws becomes an Error
  // event for `id`. Returns false once the engine is shut down.
  bool post(uint64_t id, Task task);
  // Thread-safe. Forwards to the worker on the engine thread at its next step.
  void cancel(uint64_t id);
  // Thread-safe, idempotent. Aborts work in flight, drains nothing more, joins the thread.
  void shutdown();

  // True once shutdown() was called: long tasks check it between steps and give up.
  bool stopping() const { return stop_requested_.load(std::memory_order_relaxed); }

  // Engine thread only.
  EventSink& sink() { return *sink_; }
  void set_worker(std::unique_ptr<Worker> worker);
  Worker* worker() { return worker_.get(); }
  void emit_error(uint64_t id, const std::string& code, const std::string& message);

 private:
  void run();
  void run_task(uint64_t id, Task& task);

  std::shared_ptr<EventSink> sink_;
  std::unique_ptr<Worker> worker_;  // engine thread only

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
