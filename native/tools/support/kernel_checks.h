// What the CUDA kernel tools (qmv_test, fused_test) share: named checks and their report, checks
// that bad input is refused, and the command line around them.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mlxn::tools {

// One named check: returns "" when it passes (and may set `note`, printed after the name), else
// why it failed.
struct Check {
  std::string name;
  std::function<std::string(std::string& note)> run;
};

// Runs each check (an exception fails it) and prints "ok <prefix>NAME[ note]" or "FAIL NAME: why"
// lines, then "N passed, N failed". Returns the exit code: 0 when all passed.
int run_checks(const std::vector<Check>& checks, const std::string& ok_prefix = "");

// A check that `call` throws std::invalid_argument with a message starting with `tag`.
Check refusal(std::string name, std::function<void()> call, std::string tag);

// main() of a kernel tool. `backend` prints the backend MLX runs on; `refuse` runs on every
// backend; the commands in `cuda` need MLX's CUDA backend and elsewhere print "not run: <needs>;
// this is <backend>" and exit 0. Anything else prints `usage` and exits 2; an exception prints
// "<tool>: <what>" and exits 1.
int kernel_tool_main(int argc, char** argv, const std::string& tool, const std::string& usage,
                     const std::string& needs, const std::function<int()>& refuse,
                     const std::map<std::string, std::function<int()>>& cuda);

}  // namespace mlxn::tools
