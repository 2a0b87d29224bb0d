// The benchmarks of the ASGI stack and the scenario layer (stack_bench.cpp)
// that are registered at run time: one BM_ScenarioSeed/<name>/<config> per
// catalogue scenario, which exists only once the catalogue has registered
// itself (static initialisation of another library), so main() calls this.
//
//   benchmark::Initialize(&argc, argv);
//   asgisim::bench::register_scenario_benchmarks();
//   benchmark::RunSpecifiedBenchmarks();
#pragma once

namespace asgisim::bench {

void register_scenario_benchmarks();

}  // namespace asgisim::bench
