// `asgisim list`: one line per scenario (name, title, upstream issue,
// invariants), or with --invariants one line per invariant id.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "asgisim/scenarios/checkers.hpp"
#include "commands.hpp"
#include "registry.hpp"

namespace asgisim::cli {

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

}  // namespace

int list_command(const ListArgs& args) {
  if (args.invariants) {
    std::size_t width = 0;
    for (const std::string_view id : scenarios::invariant_ids()) width = std::max(width, id.size());
    for (const std::string_view id : scenarios::invariant_ids()) {
      fmt::print("{:<{}}  {}\n", id, width, scenarios::invariant_description(id));
    }
    return 0;
  }
  const std::vector<const scenarios::Scenario*> all = registry().all();
  std::size_t name_width = 0;
  std::size_t title_width = 0;
  for (const scenarios::Scenario* scenario : all) {
    name_width = std::max(name_width, scenario->info().name.size());
    title_width = std::max(title_width, scenario->info().title.size());
  }
  for (const scenarios::Scenario* scenario : all) {
    const scenarios::ScenarioInfo& info = scenario->info();
    fmt::print("{:<{}}  {:<{}}  [{}]  invariants: {}\n", info.name, name_width, info.title, title_width,
               info.upstream, joined(info.invariants));
  }
  return 0;
}

}  // namespace asgisim::cli
