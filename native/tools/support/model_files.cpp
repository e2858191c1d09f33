#include "model_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mlxn::tools {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ModelSpec model_spec(const std::string& path, const std::string& config_file) {
  ModelSpec spec;
  const fs::path p(path);
  if (fs::is_directory(p)) {
    spec.format = "mlx";
    spec.config_json = read_file(config_file.empty() ? p / "config.json" : fs::path(config_file));
    std::set<std::string> files;
    if (fs::exists(p / "model.safetensors.index.json")) {
      auto index = Json::parse(read_file(p / "model.safetensors.index.json"));
      for (auto& [name, file] : index.at("weight_map").items())
        files.insert((p / file.get<std::string>()).string());
    } else {
      for (auto& e : fs::directory_iterator(p))
        if (e.path().extension() == ".safetensors") files.insert(e.path().string());
    }
    spec.files.assign(files.begin(), files.end());
  } else {
    if (config_file.empty()) throw std::runtime_error("a GGUF file needs --config CONFIG.json");
    spec.format = "gguf";
    spec.files = {path};
    spec.config_json = read_file(config_file);
  }
  return spec;
}

}  // namespace mlxn::tools
