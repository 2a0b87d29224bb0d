// --isolate: each seed of a sweep runs in a fork of the command's process,
// so a run that crashes it (a segfault in a scenario's C++, a failed
// assertion) costs that seed, not the sweep, as libFuzzer's -fork and
// pytest-xdist's workers do. The child runs the seed exactly as the sweep
// would have and sends its outcome back through a pipe (outcome_codec.hpp);
// results are the same with and without --isolate.
//
//   scenarios::SweepOptions options;
//   options.run_seed = run_seed_isolated;      // the engine calls it per seed
//   options.on_crash = [](std::uint64_t seed, const std::string& how) { ... };
#pragma once

#include <cstdint>

#include "asgisim/scenarios/engine.hpp"

namespace asgisim::cli {

// Runs `seed` in a forked child and returns its outcome (a passing run's
// without its decision log: see encode_outcome). Throws SeedCrashed when the
// child dies without a result ("crashed with SIGSEGV"), RunAbandoned when
// settings.abandon is set while it runs (the child is killed), and, as
// run_seed would, UsageError or a std::runtime_error with the message of what
// the run threw in the child.
scenarios::RunOutcome run_seed_isolated(const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                                        std::uint64_t seed, const scenarios::RunSettings& settings);

}  // namespace asgisim::cli
