// The model families: each file under models/ registers its names (model_type values, with
// aliases) and a loader. Adding a family is one file that ends with a FamilyRegistration.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../model.h"

namespace mlxn {

using FamilyLoader = std::unique_ptr<Model> (*)(LoadContext& context);

struct Family {
  std::string name;                // the family, e.g. "llama"
  std::vector<std::string> types;  // config.json model_type values it loads
  FamilyLoader load;
};

// A static object of this type in a family's file registers it at start-up.
struct FamilyRegistration {
  explicit FamilyRegistration(Family family);
};

// The family that loads `model_type`, or nullptr.
const Family* find_family(const std::string& model_type);
// Every model_type the registry knows, sorted.
std::vector<std::string> supported_model_types();

}  // namespace mlxn
