#include "registry.h"

#include <algorithm>

namespace mlxn {

namespace {

std::vector<Family>& families() {
  static std::vector<Family> all;  // filled during static initialization, read-only after
  return all;
}

}  // namespace

FamilyRegistration::FamilyRegistration(Family family) {
  families().push_back(std::move(family));
}

const Family* find_family(const std::string& model_type) {
  for (const Family& f : families()) {
    if (std::find(f.types.begin(), f.types.end(), model_type) != f.types.end()) return &f;
  }
  return nullptr;
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const Family& f : families()) out.insert(out.end(), f.types.begin(), f.types.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mlxn
