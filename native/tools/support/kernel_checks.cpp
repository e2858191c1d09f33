#include "kernel_checks.h"

#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "engine/device.h"

namespace mlxn::tools {

int run_checks(const std::vector<Check>& checks, const std::string& ok_prefix) {
  int passed = 0, failed = 0;
  for (const auto& c : checks) {
    std::string why, note;
    try {
      why = c.run(note);
    } catch (const std::exception& e) {
      why = std::string("threw: ") + e.what();
    }
    if (why.empty()) {
      ++passed;
      std::printf("ok %s%s%s%s\n", ok_prefix.c_str(), c.name.c_str(), note.empty() ? "" : " ",
                  note.c_str());
    } else {
      ++failed;
      std::printf("FAIL %s: %s\n", c.name.c_str(), why.c_str());
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

Check refusal(std::string name, std::function<void()> call, std::string tag) {
  return {std::move(name), [call = std::move(call), tag = std::move(tag)](std::string&) {
            try {
              call();
            } catch (const std::invalid_argument& e) {
              const std::string what = e.what();
              return what.rfind(tag, 0) == 0 ? std::string() : "unclear: " + what;
            }
            return std::string("accepted");
          }};
}

int kernel_tool_main(int argc, char** argv, const std::string& tool, const std::string& usage,
                     const std::string& needs, const std::function<int()>& refuse,
                     const std::map<std::string, std::function<int()>>& cuda) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "backend") {
      std::cout << backend_name() << std::endl;
      return 0;
    }
    if (mode == "refuse") return refuse();
    auto command = cuda.find(mode);
    if (command == cuda.end()) {
      std::cerr << "usage: " << usage << "\n";
      return 2;
    }
    if (backend_name() != "cuda") {
      std::cout << "not run: " << needs << "; this is " << backend_name() << std::endl;
      return 0;
    }
    return command->second();
  } catch (const std::exception& e) {
    std::cerr << tool << ": " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace mlxn::tools
