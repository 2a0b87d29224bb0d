// Small scenarios for the engine's tests: not registered (the catalogue owns
// the registry); each is a minimal case of one kind of run.
#pragma once

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "asgisim/core/client.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/validator.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios::toys {

// A pass-through BaseHTTPMiddleware over an endpoint whose response has a
// background task; clients from the choice stream. Buggy: Starlette 0.20.4
// (the task group is cancelled after the response).
class BackgroundBehindBaseHttp final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    static constexpr sim::Label kWork{"toy.work", sim::Stream::other};
    core::Observer& observer = run.observer;
    core::Endpoint endpoint = [](core::Request& request) {
      const sim::Nanoseconds work_ns = sim::choose(kWork, 3) * 5 * sim::kMillisecond;
      return core::PlainTextResponse(
          "ok", {.background = core::BackgroundTask(
                     "audit", [work_ns] { work_ns ? sim::sleep(work_ns) : sim::checkpoint(); },
                     {.request = request.scope().request_id})});
    };
    const core::BaseHttpOptions options{.behaviour = run.stack.base_http};
    core::App app = core::validated_chain({{"BaseHTTPMiddleware",
                                            [options](core::App inner) {
                                              return core::base_http_middleware(
                                                  std::move(inner), core::passthrough_dispatch(), options);
                                            }}},
                                          core::request_response(std::move(endpoint)), observer);
    auto server = std::make_shared<core::Server>(run.sim, observer, std::move(app), run.stack.server);
    for (int i = 1; i <= 2; ++i) {
      run.sim.spawn("client-" + std::to_string(i), [server] {
        core::Client client(*server, server->observer());
        client.run({core::RequestSpec{}, core::RequestSpec{}});
      });
    }
  }

 private:
  ScenarioInfo info_{
      .name = "test-background",
      .title = "toy: background task behind BaseHTTPMiddleware",
      .upstream = "encode/starlette#1438",
      .buggy = {.versions = {.starlette = "0.20.4"}, .summary = "cancel"},
      .fixed = {.versions = {.starlette = "0.29.0"}, .summary = "fixed"},
      .invariants = {"background-complete", "response-complete", "start-once", "body-after-start"},
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond};
};

// Fails (an uncaught exception) when a four-sided coin shows 3, after a
// chosen number of irrelevant choices: a seed-dependent failure with a
// decision log that shrinks to two decisions.
class Coin final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    run.sim.spawn("coin", [] {
      static constexpr sim::Label kCount{"toy.count", sim::Stream::other};
      static constexpr sim::Label kNoise{"toy.noise", sim::Stream::other};
      static constexpr sim::Label kCoin{"toy.coin", sim::Stream::other};
      const std::uint64_t noise = sim::choose(kCount, 40);
      for (std::uint64_t i = 0; i < noise; ++i) {
        sim::choose(kNoise, 10);
        sim::sleep(sim::kMillisecond);
      }
      if (sim::choose(kCoin, 4) == 3) throw std::runtime_error("the coin showed 3");
    });
  }

 private:
  ScenarioInfo info_{.name = "test-coin", .title = "toy: fails one seed in four", .invariants = {}};
};

// Waits on an event nobody sets: a deadlock.
class WaitsForever final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    auto never = std::make_shared<sim::Event>("never-set");
    run.sim.spawn("waiter", [never] { never->wait(); });
  }

 private:
  ScenarioInfo info_{.name = "test-deadlock", .title = "toy: waits forever", .invariants = {}};
};

// Checkpoints forever: a liveness failure once the step budget runs out
// (with a budget of 2^62 steps, a run that ends only when abandoned).
class Spins final : public Scenario {
 public:
  explicit Spins(std::uint64_t steps_max = 5'000) { info_.steps_max = steps_max; }
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    run.sim.spawn("spinner", [] {
      for (;;) sim::checkpoint();
    });
  }

 private:
  ScenarioInfo info_{.name = "test-spin", .title = "toy: spins", .invariants = {}, .steps_max = 5'000};
};

// Fails every run, and takes a different path on every other build() call:
// state outside the choice stream, so the second run hashes differently.
class Unseeded final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    const bool odd = calls_.fetch_add(1) % 2 == 1;
    run.sim.spawn("unseeded", [odd] {
      sim::sleep(odd ? 2 : 1);
      throw std::runtime_error("always fails");
    });
  }

 private:
  ScenarioInfo info_{.name = "test-unseeded", .title = "toy: reads global state", .invariants = {}};
  mutable std::atomic<int> calls_{0};
};

}  // namespace asgisim::scenarios::toys
