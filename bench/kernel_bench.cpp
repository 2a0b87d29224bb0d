// Kernel benchmarks: the cost of a scheduler switch, of spawning and joining
// a task, and of 100,000 suspended tasks (time and resident memory), each
// also reported as a multiple of a plain Boost.Context round trip (`x_raw`).
//
//   build/release/bench/asgisim-bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Figures and targets: docs/performance.md.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

#include "asgisim/sim/simulation.hpp"
#include "stack_bench.hpp"

namespace {

namespace sim = asgisim::sim;

constexpr std::size_t kTasksCount = 100'000;

// ---- measurement helpers ----------------------------------------------------------

// CPU time of this thread: the clock behind Google Benchmark's "CPU" column
// (less disturbed than wall time by other processes on a shared machine).
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);  // nondeterminism-ok: benchmark measurement
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Resident set size of the process, from /proc/self/statm (resident pages x page size).
std::size_t resident_bytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");  // nondeterminism-ok: benchmark measurement
  if (file == nullptr) return 0;
  unsigned long size_pages = 0;
  unsigned long resident_pages = 0;
  const int fields = std::fscanf(file, "%lu %lu", &size_pages, &resident_pages);
  std::fclose(file);
  if (fields != 2) return 0;
  return resident_pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// CPU time spent in a benchmark's timed loop, read just outside it, so that
// `x_raw` and `ns_per_task` are plain numbers (Google Benchmark cannot
// divide a counter by the measured time without printing it as a rate).
class LoopClock {
 public:
  void start() { start_s_ = thread_cpu_seconds(); }
  void stop() { elapsed_s_ = thread_cpu_seconds() - start_s_; }
  double ns_per_iteration_of(benchmark::IterationCount iterations) const {
    return iterations > 0 ? elapsed_s_ * 1e9 / static_cast<double>(iterations) : 0.0;
  }
  double ns_per_iteration(const benchmark::State& state) const {
    return ns_per_iteration_of(state.iterations());
  }

 private:
  double start_s_ = 0.0;
  double elapsed_s_ = 0.0;
};

// Two plain fibers (no scheduler): round_trip() switches A -> B -> A.
class PingPong {
 public:
  PingPong()
      : partner_([this](boost::context::fiber&& caller) {
          while (!stop_) caller = std::move(caller).resume();
          return std::move(caller);
        }) {}
  ~PingPong() {
    stop_ = true;
    partner_ = std::move(partner_).resume();  // lets the partner return
  }
  PingPong(const PingPong&) = delete;
  PingPong& operator=(const PingPong&) = delete;

  void round_trip() { partner_ = std::move(partner_).resume(); }

 private:
  bool stop_ = false;
  boost::context::fiber partner_;
};

// The raw round-trip time every `x_raw` counter divides by: the minimum
// over several calibration runs (the least disturbed one on a shared machine).
double calibrate_raw_round_trip_ns() {
  constexpr int kRoundTrips = 2'000'000;
  constexpr int kRuns = 7;
  PingPong ping_pong;
  for (int i = 0; i < kRoundTrips / 10; ++i) ping_pong.round_trip();  // warm up
  double best_ns = std::numeric_limits<double>::infinity();
  for (int run = 0; run < kRuns; ++run) {
    const double start_s = thread_cpu_seconds();
    for (int i = 0; i < kRoundTrips; ++i) ping_pong.round_trip();
    const double elapsed_s = thread_cpu_seconds() - start_s;
    best_ns = std::min(best_ns, elapsed_s * 1e9 / kRoundTrips);
  }
  return best_ns;
}

double raw_round_trip_ns = 0.0;  // set by main() before any benchmark runs

void report_ratio_to_raw(benchmark::State& state, const LoopClock& clock) {
  state.counters["x_raw"] = clock.ns_per_iteration(state) / raw_round_trip_ns;
}

enum class Records { none, kept };

// Options for runs that last as long as the benchmark wants: no step budget;
// the trace hash always, its records (for a timeline) when `records` says: a
// sweep's seeds keep none, a replay with --timeline keeps them.
sim::SimulationOptions long_run_options(Records records) {
  sim::SimulationOptions options;
  options.strategy = sim::Strategy::fifo;
  if (records == Records::none) options.trace.records_max = 0;
  options.steps_max = std::numeric_limits<std::uint64_t>::max();
  return options;
}

void check_completed(benchmark::State& state, const sim::RunResult& result) {
  if (!result.ok()) state.SkipWithError(("run did not complete: " + result.report).c_str());
}

// ---- benchmarks ----------------------------------------------------------------

// Two plain boost::context fibers ping-ponging; one iteration is one round trip.
void BM_RawContextSwitch(benchmark::State& state) {
  PingPong ping_pong;
  LoopClock clock;
  clock.start();
  for (auto _ : state) ping_pong.round_trip();
  clock.stop();
  report_ratio_to_raw(state, clock);
}
BENCHMARK(BM_RawContextSwitch);

// Two tasks yielding to each other through the scheduler (fifo, trace hash
// on; records kept in the `Traced` variant); one iteration is one round trip:
// A's checkpoint switches to B, B's back to A.
void run_scheduler_switch(benchmark::State& state, Records records) {
  sim::Simulation simulation(long_run_options(records));
  LoopClock clock;
  bool stop = false;
  simulation.spawn("a", [&] {
    clock.start();
    for (auto _ : state) simulation.checkpoint();
    clock.stop();
    stop = true;
  });
  simulation.spawn("b", [&] {
    while (!stop) simulation.checkpoint();
  });
  check_completed(state, simulation.run());
  report_ratio_to_raw(state, clock);
}
void BM_SchedulerSwitch(benchmark::State& state) { run_scheduler_switch(state, Records::none); }
BENCHMARK(BM_SchedulerSwitch);
void BM_SchedulerSwitchTraced(benchmark::State& state) { run_scheduler_switch(state, Records::kept); }
BENCHMARK(BM_SchedulerSwitchTraced);

// A driver task spawns a task that returns at once and joins it; one
// iteration is one spawn + join (two switches, a stack from the pool).
void BM_SpawnJoin(benchmark::State& state) {
  sim::Simulation simulation(long_run_options(Records::none));
  LoopClock clock;
  simulation.spawn("driver", [&] {
    clock.start();
    for (auto _ : state) {
      sim::TaskHandle child = simulation.spawn("child", [] {});
      child.join();
    }
    clock.stop();
  });
  check_completed(state, simulation.run());
  report_ratio_to_raw(state, clock);
}
BENCHMARK(BM_SpawnJoin);

// Spawns kTasksCount tasks that each sleep once, plus a last task that runs
// once all of them are suspended and calls `at_all_suspended`; runs it all.
template <class AtAllSuspended>
sim::RunResult run_sleeping_tasks(sim::Runner& runner, AtAllSuspended&& at_all_suspended) {
  sim::Simulation simulation(sim::SimulationOptions{.strategy = sim::Strategy::fifo}, nullptr, runner);
  for (std::size_t i = 0; i < kTasksCount; ++i) {
    simulation.spawn("sleeper", [&simulation] { simulation.sleep(sim::kMillisecond); });
  }
  // fifo runs tasks in spawn order, so this one runs after every sleeper blocked.
  simulation.spawn("probe", [&] { at_all_suspended(); });
  return simulation.run();
}

// What one run on a fresh pool (nothing resident yet) costs.
struct ColdRun {
  sim::RunResult result;
  double resident_bytes_per_task = 0.0;  // RSS with every task asleep minus RSS before
  double ns_per_task = 0.0;              // CPU time of the whole run, first touch included
};

// Measures a run on a fresh pool so that no stack page is resident before it.
ColdRun measure_cold_run() {
  malloc_trim(0);  // hand memory freed by earlier benchmarks back first
  const std::size_t before_bytes = resident_bytes();
  std::size_t suspended_bytes = 0;
  ColdRun cold;
  LoopClock clock;
  clock.start();
  {
    sim::Runner fresh_runner(sim::StackPoolOptions{.guarded_stacks_max = 0});
    cold.result = run_sleeping_tasks(fresh_runner, [&] { suspended_bytes = resident_bytes(); });
  }
  clock.stop();
  malloc_trim(0);
  cold.resident_bytes_per_task = (static_cast<double>(suspended_bytes) - static_cast<double>(before_bytes)) /
                                 static_cast<double>(kTasksCount);
  cold.ns_per_task = clock.ns_per_iteration_of(1) / static_cast<double>(kTasksCount);
  return cold;
}

// 100,000 tasks that each sleep once on canary stacks; one iteration is a
// whole run (spawn, all block, the clock jumps, all finish, teardown) on a
// warm pool: the Runner keeps its stacks from run to run, as a sweep does.
void BM_Tasks100k(benchmark::State& state) {
  static sim::Runner runner(sim::StackPoolOptions{.guarded_stacks_max = 0});
  const ColdRun cold = measure_cold_run();
  if (!cold.result.ok()) {
    state.SkipWithError(("cold run did not complete: " + cold.result.report).c_str());
    return;
  }
  if (runner.stacks().canary_created() <= kTasksCount) run_sleeping_tasks(runner, [] {});  // warm the pool
  LoopClock clock;
  clock.start();
  for (auto _ : state) {
    const sim::RunResult result = run_sleeping_tasks(runner, [] {});
    if (!result.ok()) {
      state.SkipWithError(("run did not complete: " + result.report).c_str());
      break;
    }
  }
  clock.stop();
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kTasksCount));
  state.counters["ns_per_task"] = clock.ns_per_iteration(state) / static_cast<double>(kTasksCount);
  state.counters["cold_ns_per_task"] = cold.ns_per_task;
  state.counters["rss_bytes_per_task"] = cold.resident_bytes_per_task;
  report_ratio_to_raw(state, clock);
}
BENCHMARK(BM_Tasks100k)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  asgisim::bench::register_scenario_benchmarks();
  raw_round_trip_ns = calibrate_raw_round_trip_ns();
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", raw_round_trip_ns);
  benchmark::AddCustomContext("raw_round_trip_cpu_ns (x_raw divides by this)", text);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
