// Pieces of engine_bench: JSON output, argument parsing, and a sink that time-stamps tokens.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace mlxn::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string quote(const std::string& s);
std::string json_numbers(const std::vector<double>& v);
double max_rss_bytes();

// `--key value` pairs.
struct Args {
  std::map<std::string, std::string> kv;
  std::string get(const std::string& k, const std::string& d = "") const;
  double num(const std::string& k, double d) const;
};
Args parse_args(int argc, char** argv);

// What the engine thread reports for one request, stamped when the sink receives it: that is
// when the scheduler delivers a token, the same moment the addon would hand it to JS.
struct Stream {
  std::vector<double> token_ms;
  std::string finish, error;
  bool done = false;
};

class RecordingSink : public EventSink {
 public:
  void start(Clock::time_point t0);
  void push(Event&& e) override;
  // Waits until requests [first, first + n) are done (or failed); returns them.
  std::vector<Stream> wait(uint64_t first, size_t n);
  // Waits for the final event of a posted task: its payload, or throws its error.
  EventPayload result(uint64_t id);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Clock::time_point t0_ = Clock::now();
  std::map<uint64_t, Stream> streams_;
  std::map<uint64_t, EventPayload> results_;
};

}  // namespace mlxn::bench
