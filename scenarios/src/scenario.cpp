// The scenario registry: a program adds its scenarios (and the built-in
// catalogue, catalogue.cpp) explicitly; the CLI and the tests look them up by name.
#include "asgisim/scenarios/scenario.hpp"

#include <algorithm>
#include <stdexcept>

namespace asgisim::scenarios {
namespace {

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.front() == '-' || name.back() == '-') return false;
  return std::ranges::all_of(
      name, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

std::string_view to_string(ConfigKind kind) {
  switch (kind) {
    case ConfigKind::buggy:
      return "buggy";
    case ConfigKind::fixed:
      return "fixed";
  }
  return "?";
}

void Registry::add(std::unique_ptr<Scenario> scenario) {
  if (!scenario) throw std::logic_error("Registry::add: null scenario");
  const std::string& name = scenario->info().name;
  if (!is_valid_name(name)) {
    throw std::logic_error("scenario name '" + name + "' must be lower-case letters, digits and '-'");
  }
  if (find(name) != nullptr) throw std::logic_error("scenario '" + name + "' registered twice");
  // Kept in name order, so `all()` and `asgisim list` are stable.
  const auto at = std::ranges::lower_bound(scenarios_, std::string_view(name), std::less<>{},
                                           [](const auto& s) { return std::string_view(s->info().name); });
  scenarios_.insert(at, std::move(scenario));
}

const Scenario* Registry::find(std::string_view name) const {
  for (const auto& scenario : scenarios_) {
    if (scenario->info().name == name) return scenario.get();
  }
  return nullptr;
}

std::vector<const Scenario*> Registry::all() const {
  std::vector<const Scenario*> out;
  out.reserve(scenarios_.size());
  for (const auto& scenario : scenarios_) out.push_back(scenario.get());
  return out;
}

}  // namespace asgisim::scenarios
