// The short code samples of docs/ (README.md, invariants.md,
// writing-a-scenario.md), compiled and run: each check below fails the
// program (exit 1) if a sample stops doing what its doc says.
// scripts/check-doc-samples.py keeps the docs' copies equal to these regions.
#include <cstdio>
#include <iostream>

#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/checkers.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/simulation.hpp"

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "doc_snippets: %s\n", what);
    ++failures;
  }
}

void kernel_in_a_few_lines() {
  // [doc:kernel]
  namespace sim = asgisim::sim;

  sim::Simulation simulation({.seed = 42, .strategy = sim::Strategy::random});
  simulation.spawn("worker", [] { sim::sleep(5 * sim::kMillisecond); });
  sim::RunResult result = simulation.run();  // result.status, .trace_hash, .end_time_ns
  // [/doc:kernel]
  expect(result.ok() && result.end_time_ns == 5 * sim::kMillisecond, "the kernel sample ends at 5 ms");
}

void checkers_on_your_own_stack() {
  namespace sim = asgisim::sim;
  namespace core = asgisim::core;
  namespace scenarios = asgisim::scenarios;
  // [doc:checkers]
  core::Observer observer;
  scenarios::install_checkers(observer, {"background-complete", "cleanup-runs", "request-latency"},
                              {.latency_budget_ns = 1 * sim::kSecond});
  // [/doc:checkers]
  observer.finish();
  expect(observer.first_failure() == nullptr, "checkers on an empty run find nothing");
}

void engine_directly() {
  namespace sim = asgisim::sim;
  namespace scn = asgisim::scenarios;
  const scn::Scenario& scenario = *scn::built_in_catalogue().find("background-cancelled");
  // [doc:engine]
  scn::RunSettings settings{.strategy = sim::Strategy::random};
  scn::SweepResult result = scn::sweep(scenario, scn::ConfigKind::buggy, settings, {.seeds = 100, .jobs = 2});
  if (result.first_failure) {
    std::cerr << scn::describe(*result.first_failure)
              << scn::reproduce_command(*result.first_failure, settings) << '\n';
  }
  // [/doc:engine]
  expect(result.first_failure.has_value(), "the engine sample finds background-cancelled's bug");
}

void dispatch_that_reads_the_body() {
  namespace core = asgisim::core;
  // [doc:dispatch]
  core::DispatchFunction log_body = [](core::Request& request, const core::CallNext& call_next) {
    (void)request.body();  // cached; before 0.28 the endpoint then waits for it (#847)
    return call_next(request);
  };
  // [/doc:dispatch]
  expect(static_cast<bool>(log_body), "the dispatch sample is a dispatch function");
}

}  // namespace

int main() {
  dispatch_that_reads_the_body();
  kernel_in_a_few_lines();
  checkers_on_your_own_stack();
  engine_directly();
  return failures == 0 ? 0 : 1;
}
