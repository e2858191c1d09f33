#include "engine.h"

#include <exception>

#include "device.h"
#include "errors.h"
#include "scheduler.h"

namespace mlxn {

Engine::Engine(std::shared_ptr<EventSink> sink) : sink_(std::move(sink)) {
  thread_ = std::thread([this] { run(); });
}

Engine::~Engine() {
  shutdown();
}

bool Engine::post(uint64_t id, Task task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return false;
    tasks_.emplace_back(id, std::move(task));
  }
  wake_.notify_one();
  return true;
}

void Engine::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancels_.push_back(id);
  }
  wake_.notify_one();
}

void Engine::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_requested_ = true;
  wake_.notify_one();
  // Only one caller joins; the others see a joined engine.
  if (thread_.joinable() && !joined_.exchange(true)) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // shutdown from a task: the loop exits on its own
    } else {
      thread_.join();
    }
  }
}

void Engine::emit_error(uint64_t id, const std::string& code, const std::string& message) {
  emit(id, ErrorEvent{code, message});
}

void Engine::run_task(uint64_t id, Task& task) {
  try {
    task(*this);
  } catch (const EngineError& e) {
    emit_error(id, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    emit_error(id, "OUT_OF_MEMORY", "[engine] out of memory");
  } catch (const std::exception& e) {
    // MLX throws std::invalid_argument / std::runtime_error with "[op] ..." messages.
    emit_error(id, "MLX_ERROR", e.what());
  } catch (...) {
    emit_error(id, "INTERNAL", "[engine] unknown native exception");
  }
}

void Engine::run() {
  // This thread's default streams come from the process-wide pool (device.h): MLX would keep a
  // new stream's worker thread for the life of the process.
  StreamLease defaults = StreamLease::defaults_for_this_thread();
  for (;;) {
    std::deque<std::pair<uint64_t, Task>> tasks;
    std::deque<uint64_t> cancels;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // The predicate runs on this thread, so it may look at the scheduler.
      wake_.wait(lock, [&] {
        return stopping_ || !tasks_.empty() || !cancels_.empty() ||
               (scheduler_ && scheduler_->has_work());
      });
      if (stopping_) break;
      tasks.swap(tasks_);
      cancels.swap(cancels_);
    }
    // Tasks first: a cancel posted right after its request (an already-aborted signal) arrives in
    // the same batch and must find the request submitted, or it is lost.
    for (auto& [id, task] : tasks) run_task(id, task);
    if (scheduler_) {
      for (uint64_t id : cancels) scheduler_->cancel(id);
    }
    if (scheduler_ && scheduler_->has_work()) {
      try {
        scheduler_->step();
      } catch (const std::exception& e) {
        // A step failure the scheduler did not attribute to one request: fail them all.
        emit_error(0, "INTERNAL", std::string("[scheduler] ") + e.what());
        scheduler_->shutdown();
      }
    }
  }
  // Abort what is in flight, then free every MLX object on this thread.
  std::deque<std::pair<uint64_t, Task>> rest;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rest.swap(tasks_);
  }
  for (auto& entry : rest) emit_error(entry.first, "DISPOSED", "[engine] engine was disposed");
  if (scheduler_) {
    try {
      scheduler_->shutdown();
    } catch (...) {
    }
    scheduler_.reset();
  }
}

}  // namespace mlxn
