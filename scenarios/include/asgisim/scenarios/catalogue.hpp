// The built-in catalogue of real bugs (DESIGN.md "The catalogue"), reached by
// explicit calls: nothing registers itself at static initialisation.
//
//   scenarios::Registry registry;
//   scenarios::add_catalogue(registry);                  // the built-in scenarios, if wanted
//   registry.add(std::make_unique<MyScenario>());        // and your own
//   return asgisim::cli::main(argc, argv, registry);     // asgisim/cli/main.hpp
//
//   const Scenario* found = scenarios::built_in_catalogue().find("background-cancelled");
#pragma once

#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::scenarios {

// Adds every built-in scenario to `registry` (throws std::logic_error if one
// of their names is there already).
void add_catalogue(Registry& registry);

// A registry holding only the built-in scenarios, built on first use
// (thread-safe); it lives until the program ends.
const Registry& built_in_catalogue();

}  // namespace asgisim::scenarios
