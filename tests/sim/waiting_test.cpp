// Tests of the waiting protocol (waiting.cpp): virtual time and timers, and
// the side checks that tell a loop task from a simulated thread.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- virtual time -----------------------------------------------------------------

TEST(VirtualTime, AnHourOfSleepTakesNoWallTime) {
  Simulation sim;
  Nanoseconds woke_at = -1;
  sim.spawn("sleeper", [&] {
    EXPECT_EQ(now(), 0);
    sim::sleep(3'600 * kSecond);
    woke_at = now();
  });
  const auto wall_start = std::chrono::steady_clock::now();
  const RunResult result = sim.run();
  const auto wall = std::chrono::steady_clock::now() - wall_start;
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(woke_at, 3'600 * kSecond);
  EXPECT_EQ(result.end_time_ns, 3'600 * kSecond);
  EXPECT_LT(wall, std::chrono::seconds(1));
}

TEST(VirtualTime, SleepsAddUpExactlyAndTimeOnlyMovesWhenNobodyIsReady) {
  using namespace literals;
  Simulation sim;
  std::vector<std::pair<std::string, Nanoseconds>> log;
  sim.spawn("a", [&] {
    sim::sleep(3_ms);
    log.emplace_back("a", now());
    sim::sleep(4_ms);
    log.emplace_back("a", now());
  });
  sim.spawn("b", [&] {
    for (int i = 0; i < 5; ++i) checkpoint();
    log.emplace_back("b", now());  // checkpoints take no virtual time
    sim::sleep(5_ms);
    log.emplace_back("b", now());
    sim::sleep(0);  // sleep(0) is a checkpoint, not a timer
    log.emplace_back("b", now());
  });
  ASSERT_TRUE(sim.run().ok());
  const std::vector<std::pair<std::string, Nanoseconds>> expected = {
      {"b", 0}, {"a", 3_ms}, {"b", 5_ms}, {"b", 5_ms}, {"a", 7_ms}};
  EXPECT_EQ(log, expected);
}

TEST(VirtualTime, TimersWithEqualDeadlinesFireInRegistrationOrder) {
  Simulation sim({.strategy = Strategy::fifo});
  std::vector<std::string> woke;
  const Nanoseconds deadline = 10 * kMillisecond;
  // Spawn order a, b, c; registration order b, c, a.
  sim.spawn("a", [&] {
    checkpoint();
    checkpoint();
    Simulation::current().sleep_until(deadline);
    woke.push_back("a");
  });
  sim.spawn("b", [&] {
    Simulation::current().sleep_until(deadline);
    woke.push_back("b");
  });
  sim.spawn("c", [&] {
    checkpoint();
    Simulation::current().sleep_until(deadline);
    woke.push_back("c");
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(woke, (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(result.end_time_ns, deadline);
}

TEST(VirtualTime, SleepUntilThePastIsACheckpoint) {
  Simulation sim;
  std::vector<std::string> log;
  sim.spawn("a", [&] {
    sim::sleep(kMillisecond);
    Simulation::current().sleep_until(0);
    log.push_back("a");
  });
  sim.spawn("b", [&] {
    sim::sleep(kMillisecond);
    log.push_back("b");
  });
  ASSERT_TRUE(sim.run().ok());
  // a's sleep_until(0) yields to b, which woke at the same time.
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));
}

// ---- loop side and thread side ----------------------------------------------------
TEST(Domains, RequireDomainExplainsTheWrongSide) {
  Simulation sim;
  std::string from_loop;
  std::string from_thread;
  std::string loop_ok = "unset";
  std::string thread_ok = "unset";
  sim.spawn("handler", [&] {
    Simulation& s = Simulation::current();
    EXPECT_EQ(s.current_task().domain(), Domain::loop);
    from_loop = wrong_side_message([&] { s.require_domain(Domain::thread, "time.sleep"); });
    loop_ok = wrong_side_message([&] { s.require_domain(Domain::loop, "anyio.Lock.acquire"); });
  });
  sim.spawn_thread("worker", [&] {
    Simulation& s = Simulation::current();
    EXPECT_EQ(s.current_task().domain(), Domain::thread);
    from_thread = wrong_side_message([&] { s.require_domain(Domain::loop, "anyio.Lock.acquire"); });
    thread_ok = wrong_side_message([&] { s.require_domain(Domain::thread, "time.sleep"); });
  });
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(loop_ok, "");
  EXPECT_EQ(thread_ok, "");
  EXPECT_NE(from_loop.find("time.sleep would block the event loop"), std::string::npos) << from_loop;
  EXPECT_NE(from_loop.find("loop task #1 'handler'"), std::string::npos) << from_loop;
  EXPECT_NE(from_thread.find("anyio.Lock.acquire is an event-loop primitive"), std::string::npos)
      << from_thread;
  EXPECT_NE(from_thread.find("simulated thread #2 'worker'"), std::string::npos) << from_thread;
  EXPECT_NE(from_thread.find("call_soon_threadsafe"), std::string::npos) << from_thread;

  const std::string outside =
      wrong_side_message([&] { sim.require_domain(Domain::loop, "anyio.Event.wait"); });
  EXPECT_NE(outside.find("anyio.Event.wait must be called from a simulated task"), std::string::npos)
      << outside;
  EXPECT_NE(wrong_side_message([&] { sim.current_task(); }), "");
  EXPECT_EQ(sim.current_task_or_null(), nullptr);
}

TEST(Domains, ASimulatedThreadSleepsUninterruptibly) {
  Simulation sim;
  Nanoseconds woke_at = -1;
  sim.spawn_thread("worker", [&] {
    sim::sleep(5 * kMillisecond);
    woke_at = now();
  });
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(woke_at, 5 * kMillisecond);
}

}  // namespace
}  // namespace asgisim::sim
