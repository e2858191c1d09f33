#include "bench_support.h"

#include <sys/resource.h>

#include <stdexcept>

namespace mlxn::bench {

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

std::string Args::get(const std::string& k, const std::string& d) const {
  auto it = kv.find(k);
  return it == kv.end() ? d : it->second;
}

double Args::num(const std::string& k, double d) const {
  auto it = kv.find(k);
  return it == kv.end() ? d : std::stod(it->second);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::invalid_argument("expected --key value, got " + k);
    a.kv[k.substr(2)] = argv[i + 1];
  }
  return a;
}

void RecordingSink::start(Clock::time_point t0) {
  std::lock_guard<std::mutex> lock(mutex_);
  t0_ = t0;
  streams_.clear();
  results_.clear();
}

void RecordingSink::push(Event&& e) {
  const double t = ms_since(t0_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* tokens = std::get_if<TokensEvent>(&e.payload)) {
    auto& ms = streams_[e.id].token_ms;
    ms.insert(ms.end(), tokens->tokens.size(), t);
  } else if (auto* done = std::get_if<DoneEvent>(&e.payload)) {
    streams_[e.id].finish = done->finish_reason;
    streams_[e.id].done = true;
  } else if (auto* err = std::get_if<ErrorEvent>(&e.payload)) {
    streams_[e.id].error = err->code + ": " + err->message;
    streams_[e.id].done = true;
  } else if (!std::holds_alternative<ProgressEvent>(e.payload)) {
    results_.insert_or_assign(e.id, std::move(e.payload));
  } else {
    return;
  }
  changed_.notify_all();
}

std::vector<Stream> RecordingSink::wait(uint64_t first, size_t n) {
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

EventPayload RecordingSink::result(uint64_t id) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return results_.count(id) || streams_[id].done; });
  if (!results_.count(id)) throw std::runtime_error(streams_[id].error);
  return results_.at(id);
}

}  // namespace mlxn::bench
