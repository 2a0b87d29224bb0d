// Benchmarks of the ASGI stack model and the scenario layer: requests per
// second through a full Starlette-like stack behind the uvicorn model, one
// whole seed of each catalogue scenario (checkers, trace hash and the
// determinism re-run included), many concurrent connections, and the time to
// the first failure of the #1438 scenario. Trace hash and determinism checks
// stay on in every figure; trace records are kept only where the name says
// `Traced` (a sweep's seeds keep none, a replay with --timeline keeps them).
//
//   build/h-bench/bench/asgisim-bench --benchmark_filter='FullStack|ScenarioSeed|Connections|FirstFailure'
//
// Figures and targets: docs/performance.md; the Python side: bench/compare_python.sh.
#include "stack_bench.hpp"

#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/middleware/errors.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/routing.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::bench {
namespace {

namespace core = asgisim::core;
namespace sim = asgisim::sim;
namespace scn = asgisim::scenarios;

// CPU time of the whole process: sweeps may run on a thread of their own.
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);  // nondeterminism-ok: benchmark measurement
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// ---- the full stack ----------------------------------------------------------------

// What every request's background task has done so far, shared with the
// tasks that outlive the endpoint call.
struct BackgroundCount {
  std::uint64_t finished = 0;
};

// ServerErrorMiddleware -> [BaseHTTPMiddleware(passthrough)] -> Router ->
// `async def endpoint(request): return PlainTextResponse("Hello",
// background=BackgroundTask(work))` where work is `await anyio.sleep(0)`.
// The same stack as bench/starlette_stack.py builds in real Starlette.
core::App full_stack(std::optional<core::BaseHttpBehaviour> behaviour,
                     std::shared_ptr<BackgroundCount> count) {
  const core::Endpoint endpoint = [count](core::Request&) {
    return core::PlainTextResponse("Hello", {.background = core::BackgroundTask("work", [count] {
                                               sim::sleep(0);
                                               ++count->finished;
                                             })});
  };
  auto router =
      std::make_shared<core::Router>(core::Routes{core::Route("/", endpoint, {.name = "endpoint"})});
  core::App app = core::as_app(router);
  if (behaviour) {
    app = core::base_http_middleware(std::move(app), core::passthrough_dispatch(), {.behaviour = *behaviour});
  }
  return core::server_error_middleware(std::move(app));
}

// One GET on `connection`, read to the end of the response. Returns an
// error text, empty when the response was 200 "Hello".
std::string get_once(core::Connection& connection) {
  if (connection.send_head({.method = "GET", .path = "/"}) == 0)
    return "connection closed before the request";
  connection.end_request();
  int status = 0;
  std::size_t body_bytes = 0;
  for (;;) {
    core::ResponseEvent event = connection.read();
    switch (event.kind) {
      case core::ResponseEvent::Kind::start:
        status = event.status;
        break;
      case core::ResponseEvent::Kind::body:
        body_bytes += event.body.size();
        break;
      case core::ResponseEvent::Kind::end:
        if (status != 200 || body_bytes != 5) return "unexpected response, status " + std::to_string(status);
        return {};
      case core::ResponseEvent::Kind::closed:
        return "connection closed during the response";
    }
  }
}

enum class Records { none, kept };

// Options for a run as long as the benchmark wants: the trace hash always,
// the records (with their annotations, for a timeline) when `records` says.
sim::SimulationOptions long_run_options(Records records) {
  sim::SimulationOptions options;
  options.strategy = sim::Strategy::fifo;
  if (records == Records::none) options.trace.records_max = 0;
  options.steps_max = std::numeric_limits<std::uint64_t>::max();
  options.time_max_ns = std::numeric_limits<sim::Nanoseconds>::max() / 2;
  return options;
}

// One client task does state.iterations() GETs on one keep-alive
// connection; an iteration ends when the response was read and the
// request's background task has finished (with `fixed`, after the response;
// with `no_break`, before it, as the response waits for it).
void run_full_stack(benchmark::State& state, std::optional<core::BaseHttpBehaviour> behaviour,
                    Records records = Records::none) {
  sim::Simulation simulation(long_run_options(records));
  core::Observer observer;
  observer.set_keep_log(false);
  auto count = std::make_shared<BackgroundCount>();
  core::Server server(simulation, observer, full_stack(behaviour, count));
  std::string error;
  simulation.spawn("client", [&] {
    std::shared_ptr<core::Connection> connection = server.connect();
    std::uint64_t requests = 0;
    for (auto _ : state) {
      error = get_once(*connection);
      if (!error.empty()) break;
      ++requests;
      while (count->finished < requests) simulation.checkpoint();
    }
    connection->close();
  });
  const sim::RunResult result = simulation.run();
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
  } else if (!result.ok()) {
    state.SkipWithError(("run did not complete: " + result.report).c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["steps_per_request"] =
      static_cast<double>(result.steps) /
      static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
}

void BM_FullStackRequest(benchmark::State& state, core::BaseHttpBehaviour behaviour) {
  run_full_stack(state, behaviour);
}
BENCHMARK_CAPTURE(BM_FullStackRequest, fixed, core::BaseHttpBehaviour::fixed);
// What Starlette 0.23.1 to 0.27.x do, Debian's 0.26.1 among them (compare_python.sh).
BENCHMARK_CAPTURE(BM_FullStackRequest, no_break, core::BaseHttpBehaviour::no_break);

void BM_FullStackRequestNoMiddleware(benchmark::State& state) { run_full_stack(state, std::nullopt); }
BENCHMARK(BM_FullStackRequestNoMiddleware);

// The same requests with the trace's records and annotations kept, as a
// replay with --timeline, --trace or --html runs: what they add per request.
void BM_FullStackRequestTraced(benchmark::State& state, core::BaseHttpBehaviour behaviour) {
  run_full_stack(state, behaviour, Records::kept);
}
BENCHMARK_CAPTURE(BM_FullStackRequestTraced, no_break, core::BaseHttpBehaviour::no_break);

// ---- many connections ---------------------------------------------------------------

// n clients start at once, each opening its own connection for one GET
// through the full stack (BaseHTTPMiddleware `fixed`); one iteration is the
// whole run. Canary stacks for every task (as the 100k kernel test), from a
// pool kept warm across runs, so that 1k, 10k and 100k pay the same per stack.
sim::RunResult run_connections(sim::Runner& runner, std::int64_t connections, std::string& error) {
  sim::Simulation simulation(long_run_options(Records::none), nullptr, runner);
  core::Observer observer;
  observer.set_keep_log(false);
  auto count = std::make_shared<BackgroundCount>();
  core::Server server(simulation, observer, full_stack(core::BaseHttpBehaviour::fixed, count));
  for (std::int64_t i = 0; i < connections; ++i) {
    simulation.spawn("client", [&] {
      std::shared_ptr<core::Connection> connection = server.connect();
      std::string failed = get_once(*connection);
      if (!failed.empty() && error.empty()) error = std::move(failed);
      connection->close();
    });
  }
  sim::RunResult result = simulation.run();
  if (error.empty() && count->finished != static_cast<std::uint64_t>(connections)) {
    error = "background tasks finished: " + std::to_string(count->finished);
  }
  return result;
}

void BM_Connections(benchmark::State& state) {
  static sim::Runner runner(sim::StackPoolOptions{.guarded_stacks_max = 0});
  const std::int64_t connections = state.range(0);
  std::string error;
  run_connections(runner, connections, error);  // warms the pool and the allocator
  for (auto _ : state) {
    const sim::RunResult result = run_connections(runner, connections, error);
    if (!result.ok() || !error.empty()) {
      state.SkipWithError((error.empty() ? "run did not complete: " + result.report : error).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * connections);
  // Time per connection: items_per_second inverted, as a plain number.
  state.counters["time_per_connection"] = benchmark::Counter(
      static_cast<double>(state.iterations() * connections),
      static_cast<benchmark::Counter::Flags>(benchmark::Counter::kIsRate | benchmark::Counter::kInvert));
}
BENCHMARK(BM_Connections)->ArgName("n")->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

// ---- scenarios ---------------------------------------------------------------------

// One whole seed per iteration (seeds 0, 1, 2, ...; random strategy): build,
// run, checkers, trace hash, and for a failing seed the second run that
// checks determinism.
void BM_ScenarioSeed(benchmark::State& state, const scn::Scenario* scenario, scn::ConfigKind config) {
  const scn::RunSettings settings{};
  std::uint64_t seed = 0;
  std::uint64_t failures = 0;
  for (auto _ : state) {
    const scn::RunOutcome outcome = scn::run_seed(*scenario, config, seed++, settings);
    if (outcome.failure == scn::FailureClass::nondeterminism) {
      state.SkipWithError(("nondeterministic: " + scn::describe(outcome)).c_str());
      break;
    }
    failures += outcome.failed() ? 1 : 0;
    benchmark::DoNotOptimize(outcome.trace_hash);
  }
  state.counters["failing_seeds"] =
      static_cast<double>(failures) / static_cast<double>(std::max<std::uint64_t>(1, seed));
}

// Time to the first failure of the buggy #1438 scenario: a sweep from seed
// base i (i = 0..sweeps-1) stopping at its first failure; the figure is the
// median over the sweeps (and the seeds each needed). One iteration is all
// the sweeps.
void BM_FirstFailure_1438(benchmark::State& state) {
  const scn::Scenario* scenario = scn::built_in_catalogue().find("background-cancelled");
  if (scenario == nullptr) {
    state.SkipWithError("scenario background-cancelled is not registered");
    return;
  }
  const auto sweeps = static_cast<std::uint64_t>(state.range(0));
  std::vector<double> seconds;
  std::vector<double> seeds;
  for (auto _ : state) {
    for (std::uint64_t base = 0; base < sweeps; ++base) {
      const double start_s = process_cpu_seconds();
      // 1,000 seeds is plenty (most seeds fail); a larger bound only costs
      // the sweep's per-seed bookkeeping, which it sets up front.
      const scn::SweepResult result =
          scn::sweep(*scenario, scn::ConfigKind::buggy, {},
                     {.seeds = 1'000, .seed_base = base, .stop_at_first_failure = true});
      seconds.push_back(process_cpu_seconds() - start_s);
      if (!result.first_failure) {
        state.SkipWithError("no failure in 1,000 seeds");
        return;
      }
      seeds.push_back(static_cast<double>(result.seeds_run));
    }
  }
  const auto median = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0.0 : values[values.size() / 2];
  };
  state.counters["median_cpu_us_to_failure"] = median(seconds) * 1e6;
  state.counters["median_seeds_to_failure"] = median(seeds);
}
BENCHMARK(BM_FirstFailure_1438)->ArgName("sweeps")->Arg(100)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

void register_scenario_benchmarks() {
  for (const scn::Scenario* scenario : scn::built_in_catalogue().all()) {
    for (const scn::ConfigKind config : {scn::ConfigKind::buggy, scn::ConfigKind::fixed}) {
      const std::string name =
          "BM_ScenarioSeed/" + scenario->info().name + "/" + std::string(scn::to_string(config));
      benchmark::RegisterBenchmark(name.c_str(), BM_ScenarioSeed, scenario, config)
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace asgisim::bench
