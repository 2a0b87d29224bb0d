// asgisim-canary: the asgisim command line over the built-in catalogue plus
// `stack-canary`, so that a canary finding's decision log replays through the
// real command line (asgisim::cli, as any user's own program would use it).
#include "asgisim/cli.hpp"
#include "asgisim/scenarios/catalogue.hpp"
#include "stack_canary.hpp"

int main(int argc, char** argv) {
  asgisim::scenarios::Registry registry;
  asgisim::scenarios::add_catalogue(registry);
  registry.add(asgisim::fuzz::make_stack_canary_scenario());
  return asgisim::cli::main(argc, argv, registry);
}
