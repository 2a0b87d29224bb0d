// Observation cannot be switched off by omission (issue 17, item 1): a
// scenario whose layers are never handed an observer still has every
// checker see them. The scenario below stacks BaseHTTPMiddleware (Starlette
// 0.20.4 when buggy: it cancels what runs after the response), a context
// manager middleware, an endpoint run on a worker thread and a background
// task; the run's observer appears only where a Server and a Client need it.
// Installing it by hand as well ("wiring everything") changes nothing.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "asgisim/core/client.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::scenarios {
namespace {

struct Deployment {
  core::AnyioToThread to_thread{};
  std::unique_ptr<core::Server> server{};
};

class Unwired final : public Scenario {
 public:
  explicit Unwired(bool install_by_hand) : install_by_hand_(install_by_hand) {}
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    static constexpr sim::Label kWork{"unwired.work", sim::Stream::other};
    if (install_by_hand_) core::observe_run(run.sim, run.observer);
    auto deployment = std::make_shared<Deployment>();
    core::Endpoint endpoint = core::Endpoint::sync(
        [](core::Request& request) {
          const sim::Nanoseconds work_ns = sim::choose(kWork, 3) * 5 * sim::kMillisecond;
          return core::PlainTextResponse(
              "ok", {.background = core::BackgroundTask(
                         "audit", [work_ns] { work_ns ? sim::sleep(work_ns) : sim::checkpoint(); },
                         {.request = request.scope().request_id})});
        },
        deployment->to_thread);
    core::App app =
        core::context_manager_middleware(core::request_response(std::move(endpoint)),
                                         {.name = "Session", .exit_sleep_ns = 10 * sim::kMillisecond});
    app = core::base_http_middleware(std::move(app), core::passthrough_dispatch(),
                                     {.behaviour = run.stack.base_http});
    deployment->server =
        std::make_unique<core::Server>(run.sim, run.observer, std::move(app), run.stack.server);
    for (int i = 1; i <= 2; ++i) {
      run.sim.spawn("client-" + std::to_string(i), [deployment] {
        core::Client client(*deployment->server, deployment->server->observer());
        client.run({core::RequestSpec{}, core::RequestSpec{}});
      });
    }
    // Any worker thread is over this bound: threads-bounded fails as soon as
    // the pool's thread_started reaches the checker.
    run.params.threads_bound = 0;
    run.describe = [deployment] { return std::string(); };  // keeps the deployment for the run
  }

 private:
  bool install_by_hand_;
  ScenarioInfo info_{
      .name = "test-unwired",
      .title = "toy: layers that nobody hands an observer",
      .upstream = "issue 17",
      .buggy = {.versions = {.starlette = "0.20.4"}, .summary = "cancel"},
      .fixed = {.versions = {.starlette = "0.29.0"}, .summary = "fixed"},
      .invariants = {"background-complete", "cleanup-runs", "threads-bounded", "response-complete"},
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond};
};

// Every invariant any seed of `config` violates.
std::set<std::string> violated(const Scenario& scenario, ConfigKind config, std::uint64_t seeds) {
  std::set<std::string> ids;
  for (std::uint64_t seed = 0; seed < seeds; ++seed) {
    const RunOutcome outcome =
        run_seed(scenario, config, seed, RunSettings{.strategy = sim::Strategy::random});
    for (const core::Violation& v : outcome.violations) ids.insert(v.invariant);
  }
  return ids;
}

TEST(UnwiredScenario, EveryCheckerSeesTheLayersNobodyWired) {
  const Unwired unwired(/*install_by_hand=*/false);
  const std::set<std::string> buggy = violated(unwired, ConfigKind::buggy, 30);
  EXPECT_TRUE(buggy.contains("background-complete"));  // the BackgroundTask reported
  EXPECT_TRUE(buggy.contains("cleanup-runs"));         // the context manager reported
  EXPECT_TRUE(buggy.contains("threads-bounded"));      // the thread pool reported
  // The fixed stack only breaks the deliberately impossible thread bound.
  EXPECT_EQ(violated(unwired, ConfigKind::fixed, 10), std::set<std::string>{"threads-bounded"});
}

TEST(UnwiredScenario, WiringByHandChangesNothing) {
  const Unwired unwired(/*install_by_hand=*/false);
  const Unwired wired(/*install_by_hand=*/true);
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    for (ConfigKind config : {ConfigKind::buggy, ConfigKind::fixed}) {
      const RunSettings settings{.strategy = sim::Strategy::random};
      const RunOutcome a = run_seed(unwired, config, seed, settings);
      const RunOutcome b = run_seed(wired, config, seed, settings);
      EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
      ASSERT_EQ(a.violations.size(), b.violations.size()) << "seed " << seed;
      for (std::size_t i = 0; i < a.violations.size(); ++i) {
        EXPECT_EQ(a.violations[i].invariant, b.violations[i].invariant);
        EXPECT_EQ(a.violations[i].layer, b.violations[i].layer);
      }
    }
  }
}

}  // namespace
}  // namespace asgisim::scenarios
