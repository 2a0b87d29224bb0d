// The report tests' runs, made on the kernel with the observer's own notes.
#include "report/report_runs.hpp"

#include <stdexcept>

#include "asgisim/core/observe.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::report::testing {
namespace {

sim::SimulationOptions options(sim::Strategy strategy) {
  sim::SimulationOptions o;
  o.seed = 7;
  o.strategy = strategy;
  o.trace.records_max = std::size_t{1} << 20;
  return o;
}

void send(const std::string& layer, core::Message message) {
  core::observe({.kind = core::ObservationKind::sent, .layer = layer, .message = std::move(message)});
}

}  // namespace

MadeRun injection_run() {
  sim::Simulation sim(options(sim::Strategy::fifo));
  core::Observer observer;
  core::observe_run(sim, observer);
  sim.spawn("client " + kInjection, [] { sim::sleep(sim::kMillisecond); });
  sim.spawn(kInjection, [] {
    const std::string layer = "server->" + kInjection;
    send(layer, core::Message::start(200, {{"x-evil", kInjection}}));
    sim::checkpoint();
    send(layer, core::Message::body_chunk(kInjection));
    sim::note(kInjection);
    throw std::runtime_error(kInjection);
  });
  const sim::RunResult result = sim.run();
  if (result.status != sim::RunStatus::task_error) throw std::logic_error("the injection run did not fail");
  MadeRun made{.trace = trace_data(sim.trace(), sim.task_names()), .info = {}};
  made.info.title = "injection " + kInjection;
  made.info.metadata["scenario"] = kInjection;
  made.info.failure = "invariant";
  made.info.invariant = "no-swallowed-error";
  made.info.layer = kInjection;
  made.info.explanation = sim::describe(result.error) + "\n" + result.report;
  made.info.violations.push_back(
      {.invariant = "no-swallowed-error", .layer = kInjection, .detail = kInjection, .trace_records = 0});
  return made;
}

MadeRun deadlock_run() {
  sim::Simulation sim(options(sim::Strategy::fifo));
  sim::Lock db("db");
  sim::Lock cache("cache");
  const auto take = [](sim::Lock& first, sim::Lock& second) {
    return [&first, &second] {
      const sim::LockGuard a(first);
      sim::sleep(sim::kMillisecond);
      const sim::LockGuard b(second);
    };
  };
  sim.spawn("handler A", take(db, cache));
  sim.spawn("handler B", take(cache, db));
  const sim::RunResult result = sim.run();
  if (result.status != sim::RunStatus::deadlock)
    throw std::logic_error("the lock-order run did not deadlock");
  MadeRun made{.trace = trace_data(sim.trace(), sim.task_names()), .info = {}};
  made.info.title = "lock-order deadlock";
  made.info.failure = "deadlock";
  made.info.invariant = "no-deadlock";
  made.info.layer = "scheduler";
  made.info.explanation = result.report;
  made.info.blocked = result.blocked;
  return made;
}

MadeRun long_run(int tasks, int steps_each) {
  sim::Simulation sim(options(sim::Strategy::random));
  core::Observer observer;
  core::observe_run(sim, observer);
  for (int t = 0; t < tasks; ++t) {
    sim.spawn("worker " + std::to_string(t) + " of a long run", [steps_each, t] {
      for (int step = 0; step < steps_each; ++step) {
        if (step % 100 == 0)
          send("server->worker " + std::to_string(t),
               core::Message::body_chunk("chunk", step + 1 < steps_each));
        sim::checkpoint();
      }
    });
  }
  const sim::RunResult result = sim.run();
  if (!result.ok()) throw std::logic_error("the long run failed: " + result.report);
  MadeRun made{.trace = trace_data(sim.trace(), sim.task_names()), .info = {}};
  made.info.title = "a long run";
  made.info.metadata["steps"] = std::to_string(result.steps);
  return made;
}

}  // namespace asgisim::report::testing
