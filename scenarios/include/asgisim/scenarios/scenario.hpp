// A scenario builds a stack and its clients inside one simulation; it never
// states a verdict. The checkers of the invariants it names judge the run
// (checkers.hpp), and the engine (engine.hpp) runs it over seeds.
//
//   class BackgroundCancelled final : public Scenario {
//    public:
//     const ScenarioInfo& info() const override { return info_; }
//     void build(RunContext& run) const override {
//       core::App app = core::validated_chain({base_http_layer(run)}, endpoint(), run.observer);
//       auto server = std::make_shared<core::Server>(run.sim, run.observer, app, run.stack.server);
//       run.sim.spawn("client", [server] { core::Client(*server, server->observer()).run({{}, {}}); });
//     }
//    private:
//     ScenarioInfo info_{.name = "background-cancelled", .buggy = {.versions = {.starlette = "0.20.4"}},
//                        .fixed = {.versions = {.starlette = "0.29.0"}}, .invariants =
//                        {"background-complete"}};
//   };
//   registry.add(std::make_unique<BackgroundCancelled>());   // explicitly, see catalogue.hpp
//
// Everything a run varies (clients, disconnect points, body chunking,
// background durations, faults) must come from run.sim's choice stream, so
// the simulator, not the scenario author, finds the failing interleaving.
// Objects the run's tasks use must outlive them: hold them in shared_ptrs the
// tasks capture (the RunContext and the Scenario outlive the run, but a
// Scenario is shared by concurrent runs and must keep no per-run state).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/scenarios/stack.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios {

enum class ConfigKind : std::uint8_t { buggy, fixed };
std::string_view to_string(ConfigKind kind);

// One of a scenario's two configurations.
struct Configuration {
  StackVersions versions{};  // the versions that had this behaviour
  std::string summary{};     // one line: "BaseHTTPMiddleware cancel (Starlette 0.20.4)"
};

struct ScenarioInfo {
  std::string name{};      // "bg-cancelled-base-http": lower-case, digits and '-'
  std::string title{};     // one line for `asgisim list`
  std::string upstream{};  // "encode/starlette#1438, #919; fixed by #1715 (0.21.0)"
  Configuration buggy{};
  Configuration fixed{};
  // Invariant ids (DESIGN.md's table) the engine checks in every run of this
  // scenario, in addition to no-deadlock, liveness and deterministic, which
  // always apply.
  std::vector<std::string> invariants{};
  // The run's budgets (liveness): a scenario that should finish quickly
  // says so, so a hang is reported in milliseconds.
  std::uint64_t steps_max = 2'000'000;
  sim::Nanoseconds time_max_ns = 600 * sim::kSecond;
};

// Parameters some checkers need; a scenario's build() sets what applies.
struct CheckerParams {
  std::optional<sim::Nanoseconds> latency_budget_ns{};  // request-latency
  std::optional<std::uint64_t> threads_bound{};         // threads-bounded
  std::optional<std::uint64_t> memory_budget_bytes{};   // memory-budget
  bool send_after_disconnect_is_error = false;          // no-send-after-disconnect
};

// What build() gets: the simulation (not yet running), the observer the
// checkers sit on, the configuration and its resolved stack. The observer is
// already installed on `sim` (core::observe_run): the layers of the stack
// report to it without being handed it.
struct RunContext {
  sim::Simulation& sim;
  core::Observer& observer;
  ConfigKind config;
  const Stack& stack;
  CheckerParams params{};
  // Extra lines for a failure report (e.g. the thread pool's threads and
  // memory over time); called once after the run when it failed.
  std::function<std::string()> describe{};
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual const ScenarioInfo& info() const = 0;
  // Builds the stack and spawns the clients as tasks of run.sim. Called once
  // per run, before run.sim.run(); must not run the simulation itself.
  virtual void build(RunContext& run) const = 0;
};

// A set of scenarios by name, in name order. A program builds one by explicit
// calls (add(), add_catalogue() in catalogue.hpp) and hands it to the command
// line (asgisim::cli::main) or looks scenarios up itself. Nothing registers
// itself at static initialisation: that is lost when the scenarios sit in a
// static library nobody references by name.
class Registry {
 public:
  Registry() = default;
  Registry(Registry&&) noexcept = default;
  Registry& operator=(Registry&&) noexcept = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry() = default;

  // Throws std::logic_error on a duplicate or malformed name.
  void add(std::unique_ptr<Scenario> scenario);
  const Scenario* find(std::string_view name) const;
  std::vector<const Scenario*> all() const;

 private:
  std::vector<std::unique_ptr<Scenario>> scenarios_;
};

}  // namespace asgisim::scenarios
