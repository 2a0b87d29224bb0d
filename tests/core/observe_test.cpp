// The ambient observer: observe_run() installs a run's Observer on its
// Simulation, and core::observe() from any task of that run (loop task or
// simulated thread) reaches it; outside a run, or in a run nothing observes,
// observe() does nothing.
#include "asgisim/core/observe.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "asgisim/core/client.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::core {
namespace {

Observation note(std::uint64_t value, Reporter reporter = Reporter::other) {
  return Observation{
      .kind = ObservationKind::context_entered, .layer = "test", .value = value, .reporter = reporter};
}

TEST(AmbientObserver, OutsideARunNothingIsObserved) {
  EXPECT_EQ(current_observer(), nullptr);
  observe(note(1));  // a no-op, not a crash
}

TEST(AmbientObserver, ARunWithoutAnObserverObservesNothing) {
  sim::Simulation sim({.seed = 1});
  bool ran = false;
  sim.spawn("task", [&] {
    EXPECT_EQ(current_observer(), nullptr);
    observe(note(1));
    ran = true;
  });
  ASSERT_TRUE(sim.run().ok());
  EXPECT_TRUE(ran);
}

// Loop tasks and simulated threads alike reach the installed observer; the
// time is the run's and the reporter is kept.
TEST(AmbientObserver, EveryTaskOfTheRunReachesTheInstalledObserver) {
  sim::Simulation sim({.seed = 1});
  Observer observer;
  observe_run(sim, observer);
  sim.spawn("loop", [&] {
    EXPECT_EQ(current_observer(), &observer);
    sim::sleep(5 * sim::kMillisecond);
    observe(note(1, Reporter::middleware));
  });
  sim.spawn_thread("worker", [&] {
    sim::thread_sleep(7 * sim::kMillisecond);
    observe(note(2, Reporter::thread_pool));
  });
  ASSERT_TRUE(sim.run().ok());
  ASSERT_EQ(observer.log().size(), 2U);
  EXPECT_EQ(observer.log()[0].value, 1U);
  EXPECT_EQ(observer.log()[0].time_ns, 5 * sim::kMillisecond);
  EXPECT_EQ(observer.log()[0].reporter, Reporter::middleware);
  EXPECT_EQ(observer.log()[1].value, 2U);
  EXPECT_EQ(observer.log()[1].time_ns, 7 * sim::kMillisecond);
  EXPECT_EQ(observer.log()[1].reporter, Reporter::thread_pool);
}

// A Simulation has one observer: installing it again is fine (the Server and
// the engine both do), installing another is an error.
TEST(AmbientObserver, ASimulationHasOneObserver) {
  sim::Simulation sim({.seed = 1});
  Observer observer;
  Observer other;
  observe_run(sim, observer);
  EXPECT_NO_THROW(observe_run(sim, observer));
  EXPECT_THROW(observe_run(sim, other), sim::UsageError);
  EXPECT_NO_THROW(Server(sim, observer, [](Scope&, const Receive&, const Send&) {}));
  EXPECT_THROW(Server(sim, other, [](Scope&, const Receive&, const Send&) {}), sim::UsageError);
}

// The Server installs the observer it is given, so a layer that nobody
// handed an observer (here a BackgroundTask) is observed.
TEST(AmbientObserver, TheServerInstallsItsObserver) {
  sim::Simulation sim({.seed = 1});
  Observer observer;
  TestClient client(sim, observer, [](Scope& scope, const Receive& receive, const Send& send) {
    PlainTextResponse("ok", {.background = BackgroundTask("audit", [] {}, {.request = scope.request_id})})(
        scope, receive, send);
  });
  sim.spawn("test", [&] { EXPECT_EQ(client.get("/").status, 200); });
  ASSERT_TRUE(sim.run().ok());
  int background = 0;
  for (const Observation& o : observer.log()) background += o.reporter == Reporter::background_task ? 1 : 0;
  EXPECT_EQ(background, 3);  // scheduled, started, finished
}

// Two runs at once on two OS threads (asgisim run --jobs) each reach their own observer.
TEST(AmbientObserver, RunsOnTwoThreadsKeepTheirOwnObservers) {
  Observer first;
  Observer second;
  const auto run = [](Observer& observer, std::uint64_t value) {
    sim::Simulation sim({.seed = value});
    observe_run(sim, observer);
    sim.spawn("task", [value] {
      for (int i = 0; i < 100; ++i) {
        observe(note(value));
        sim::checkpoint();
      }
    });
    return sim.run().ok();
  };
  bool first_ok = false;
  std::thread other([&] { first_ok = run(first, 1); });
  const bool second_ok = run(second, 2);
  other.join();
  EXPECT_TRUE(first_ok && second_ok);
  ASSERT_EQ(first.log().size(), 100U);
  ASSERT_EQ(second.log().size(), 100U);
  for (const Observation& o : first.log()) EXPECT_EQ(o.value, 1U);
  for (const Observation& o : second.log()) EXPECT_EQ(o.value, 2U);
}

}  // namespace
}  // namespace asgisim::core
