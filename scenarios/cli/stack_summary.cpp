// The resolved behaviour of each layer, for a run's first line: the versions
// of the scenario's configuration, overridden by --stack, as the engine
// resolves them (scenarios::resolve).
#include <fmt/format.h>

#include "asgisim/scenarios/stack.hpp"
#include "commands.hpp"

namespace asgisim::cli {

std::string stack_summary(const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                          const scenarios::RunSettings& settings) {
  const scenarios::ScenarioInfo& info = scenario.info();
  const scenarios::Configuration& configuration =
      config == scenarios::ConfigKind::buggy ? info.buggy : info.fixed;
  const scenarios::Stack stack =
      scenarios::resolve(scenarios::merge(configuration.versions, settings.stack_override));
  return fmt::format("; {} stack: {}", scenarios::to_string(config), scenarios::describe_behaviours(stack));
}

}  // namespace asgisim::cli
