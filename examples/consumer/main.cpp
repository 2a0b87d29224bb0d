// timing-sim: our own asgisim. Every command (list, run, replay, shrink,
// trace, catalogue) works on our scenarios, and its reproduce lines name this
// program as it was invoked.
// [doc:main]
#include <memory>

#include "asgisim/cli.hpp"
#include "asgisim/scenarios/catalogue.hpp"
#include "timing_scenario.hpp"

int main(int argc, char** argv) {
  asgisim::scenarios::Registry registry;
  registry.add(timing::make_timing_scenario());
  asgisim::scenarios::add_catalogue(registry);  // the built-in scenarios too (optional)
  return asgisim::cli::main(argc, argv, registry);
}
// [/doc:main]
