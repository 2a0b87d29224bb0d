// Scenario-specific checks of the thread-pool and streaming entries of the
// catalogue (scenarios 6, 7, 8): not only that the buggy configuration fails
// (catalogue_test.cpp says that for every scenario) but that it fails for the
// reason the upstream issue describes, judged by the checkers, and that the
// report carries what the user needs (the growth curve and its plateau, the
// wait-for graph, the liveness budget).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::scenarios {
namespace {

const RunSettings kRandom{.strategy = sim::Strategy::random};

const Scenario& scenario(std::string_view name) {
  const Scenario* found = built_in_catalogue().find(name);
  if (found == nullptr) throw std::logic_error("scenario not registered: " + std::string(name));
  return *found;
}

// The first of `seeds` seeds whose run satisfies `wanted`.
std::optional<RunOutcome> first_outcome(const Scenario& scenario, ConfigKind config, std::uint64_t seeds,
                                        const std::function<bool(const RunOutcome&)>& wanted) {
  for (std::uint64_t seed = 0; seed < seeds; ++seed) {
    RunOutcome outcome = run_seed(scenario, config, seed, kRandom);
    if (wanted(outcome)) return outcome;
  }
  return std::nullopt;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// ---- 6: threadpool-growth ------------------------------------------------------

TEST(ThreadpoolGrowth, Python37DefaultExecutorGrowsPastTheMemoryBudgetAndPlateaus) {
  const std::optional<RunOutcome> outcome = first_outcome(
      scenario("threadpool-growth"), ConfigKind::buggy, 100, [](const RunOutcome& o) { return o.failed(); });
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->failure, FailureClass::invariant) << describe(*outcome);
  EXPECT_EQ(outcome->invariant, "memory-budget") << describe(*outcome);
  // The report shows the default executor's bound and the curve.
  EXPECT_TRUE(contains(outcome->report, "max_workers 200")) << outcome->report;
  EXPECT_TRUE(contains(outcome->report, "after call")) << outcome->report;
}

TEST(ThreadpoolGrowth, GrowthHasABoundThatThreadsBoundedAccepts) {
  // Growth to 200 threads is what Python 3.7 documents: threads-bounded
  // never fires, only the memory budget does.
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    const RunOutcome outcome = run_seed(scenario("threadpool-growth"), ConfigKind::buggy, seed, kRandom);
    for (const core::Violation& violation : outcome.violations) {
      EXPECT_NE(violation.invariant, "threads-bounded") << "seed " << seed << ": " << violation.detail;
    }
  }
}

TEST(ThreadpoolGrowth, APlateauAt200ThreadsIsReported) {
  const std::optional<RunOutcome> outcome =
      first_outcome(scenario("threadpool-growth"), ConfigKind::buggy, 100,
                    [](const RunOutcome& o) { return contains(o.report, "plateau: 200 threads"); });
  ASSERT_TRUE(outcome.has_value()) << "no buggy run of 100 reached the 200-thread plateau";
  EXPECT_TRUE(contains(outcome->report, "to the end")) << outcome->report;
}

TEST(ThreadpoolGrowth, Python38DefaultExecutorStaysWithin32Threads) {
  RunSettings settings = kRandom;
  settings.stack_override = {.python = "3.8"};
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const RunOutcome outcome = run_seed(scenario("threadpool-growth"), ConfigKind::buggy, seed, settings);
    for (const core::Violation& violation : outcome.violations) {
      EXPECT_NE(violation.invariant, "threads-bounded") << "seed " << seed << ": " << violation.detail;
    }
  }
}

// ---- 7: threadpool-deadlock ----------------------------------------------------

TEST(ThreadpoolDeadlock, WithoutAPoolTimeoutTheCycleIsReportedAsADeadlock) {
  const std::optional<RunOutcome> outcome =
      first_outcome(scenario("threadpool-deadlock"), ConfigKind::buggy, 100,
                    [](const RunOutcome& o) { return o.failure == FailureClass::deadlock; });
  ASSERT_TRUE(outcome.has_value()) << "no deadlock in 100 buggy seeds";
  EXPECT_EQ(outcome->invariant, "no-deadlock");
  // The wait-for graph closes through the DB pool and the limiter.
  EXPECT_TRUE(contains(outcome->report, "sqlalchemy.QueuePool 'engine'")) << outcome->report;
  EXPECT_TRUE(contains(outcome->report, "anyio.CapacityLimiter")) << outcome->report;
  EXPECT_TRUE(contains(outcome->report, "timeout=None")) << outcome->report;
}

TEST(ThreadpoolDeadlock, WithThe30SecondTimeoutRequestsStallPastTheLatencyBudget) {
  const std::optional<RunOutcome> outcome =
      first_outcome(scenario("threadpool-deadlock"), ConfigKind::buggy, 100,
                    [](const RunOutcome& o) { return o.invariant == "request-latency"; });
  ASSERT_TRUE(outcome.has_value()) << "no request-latency failure in 100 buggy seeds";
  EXPECT_EQ(outcome->failure, FailureClass::invariant);
  EXPECT_TRUE(contains(outcome->report, "timeout=30 s")) << outcome->report;
  EXPECT_TRUE(contains(outcome->report, "timed out")) << outcome->report;
}

// ---- 8: streaming-after-disconnect ---------------------------------------------

TEST(StreamingAfterDisconnect, NoListenerBehindDroppedSendsIsALivenessFailure) {
  const RunOutcome outcome = run_seed(scenario("streaming-after-disconnect"), ConfigKind::buggy, 0, kRandom);
  EXPECT_EQ(outcome.failure, FailureClass::liveness) << describe(outcome);
  EXPECT_EQ(outcome.invariant, "liveness");
  EXPECT_TRUE(contains(outcome.report, "spec_version 2.4")) << outcome.report;
  EXPECT_TRUE(contains(outcome.report, "stream 1: ")) << outcome.report;
  // Stopped by the scenario's small budgets, not after an hour of virtual time.
  EXPECT_LE(outcome.result.end_time_ns,
            scenario("streaming-after-disconnect").info().time_max_ns + sim::kSecond);
}

TEST(StreamingAfterDisconnect, Uvicorn0280RaisingSendsStopTheStreamToo) {
  // uvicorn 0.28.0 advertised 2.4 and raised on send after a disconnect:
  // Starlette's no_listen path works as designed there.
  RunSettings settings = kRandom;
  settings.stack_override = {.uvicorn = "0.28.0"};
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const RunOutcome outcome =
        run_seed(scenario("streaming-after-disconnect"), ConfigKind::buggy, seed, settings);
    EXPECT_FALSE(outcome.failed()) << "seed " << seed << ": " << describe(outcome);
  }
}

TEST(StreamingAfterDisconnect, StarletteBefore042ListensWhateverTheServer) {
  RunSettings settings = kRandom;
  settings.stack_override = {.starlette = "0.41.3"};
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const RunOutcome outcome =
        run_seed(scenario("streaming-after-disconnect"), ConfigKind::buggy, seed, settings);
    EXPECT_FALSE(outcome.failed()) << "seed " << seed << ": " << describe(outcome);
  }
}

}  // namespace
}  // namespace asgisim::scenarios
