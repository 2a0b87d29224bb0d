// The asgisim command line as a library: a program that links
// asgisim::cli and passes its own registry IS a full asgisim (list, catalogue,
// run, replay, shrink, trace) for those scenarios. Its reproduce lines name
// the program as it was invoked (argv[0]), so they run as printed.
//
//   #include "asgisim/cli.hpp"
//   #include "asgisim/scenarios/catalogue.hpp"
//
//   int main(int argc, char** argv) {
//     asgisim::scenarios::Registry registry;
//     registry.add(std::make_unique<TimingScenario>());   // your scenarios
//     asgisim::scenarios::add_catalogue(registry);         // and the built-in ones, if wanted
//     return asgisim::cli::main(argc, argv, registry);
//   }
#pragma once

#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::cli {

// Parses argv, runs one command over `registry` and returns the exit code
// (0 passed, 1 invariant, 2 bad usage or input, 3 deadlock, 4 liveness, 5
// nondeterminism). `registry` must outlive the call. Call it once per process:
// it also sets the program that reproduce lines name
// (scenarios::set_reproduce_program) to argv[0].
int main(int argc, char** argv, const scenarios::Registry& registry);

}  // namespace asgisim::cli
