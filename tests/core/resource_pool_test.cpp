// Tests of the simulated SQLAlchemy QueuePool (resource_pool.hpp): pool size
// and overflow, the 30 s checkout timeout in virtual time, hand-over to the
// longest waiter, wrong-side checkouts, and the deadlock report naming the
// pool and the tasks that hold its connections.
#include "asgisim/core/resource_pool.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::core {
namespace {

using sim::kSecond;
using sim::RunResult;
using sim::Simulation;
using sim::Strategy;

using sim_testing::describe;

TEST(QueuePool, OpensUpToSizePlusOverflowAndKeepsPoolSizeIdle) {
  QueuePool pool({.pool_size = 2, .max_overflow = 1, .timeout_ns = 0});
  Simulation sim;
  sim.spawn_thread("worker", [&] {
    const ConnectionId a = pool.checkout();
    const ConnectionId b = pool.checkout();
    const ConnectionId c = pool.checkout();  // the overflow connection
    EXPECT_EQ(pool.overflow(), 1U);
    EXPECT_THROW(pool.checkout(), PoolTimeout);  // timeout 0: no wait
    pool.checkin(c);
    pool.checkin(b);
    pool.checkin(a);  // the pool is full: this one is closed
    const QueuePoolStats stats = pool.stats();
    EXPECT_EQ(stats.open, 2U);
    EXPECT_EQ(stats.idle, 2U);
    EXPECT_EQ(stats.closed, 1U);
    EXPECT_EQ(stats.checked_out_peak, 3U);
    EXPECT_EQ(stats.timeouts, 1U);
    // Idle connections are reused first in, first out.
    EXPECT_EQ(pool.checkout(), c);
    EXPECT_THROW(pool.checkin(a), sim::UsageError);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
}

TEST(QueuePool, CheckoutTimesOutAfter30VirtualSeconds) {
  QueuePool pool({.pool_size = 1, .max_overflow = 0});
  Simulation sim;
  std::string message;
  sim.spawn_thread("holder", [&] {
    pool.checkout();
    sim::thread_sleep(100 * kSecond);
  });
  sim.spawn_thread("waiter", [&] {
    try {
      pool.checkout();
    } catch (const PoolTimeout& error) {
      message = error.what();
      EXPECT_EQ(sim::now(), 30 * kSecond);
    }
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(message, "QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 30.00");
  EXPECT_EQ(pool.stats().timeouts, 1U);
}

TEST(QueuePool, CheckinHandsTheConnectionToTheLongestWaiter) {
  QueuePool pool({.pool_size = 1, .max_overflow = 0, .timeout_ns = sim::kWaitForever});
  Simulation sim({.seed = 4, .strategy = Strategy::fifo});
  std::vector<std::string> order;
  sim.spawn_thread("holder", [&] {
    const ConnectionId connection = pool.checkout();
    sim::thread_sleep(kSecond);
    pool.checkin(connection);
  });
  for (const char* name : {"first", "second"}) {
    sim.spawn_thread(name, [&, name] {
      const ConnectionId connection = pool.checkout();
      order.push_back(name);
      sim::thread_sleep(kSecond);
      pool.checkin(connection);
    });
  }
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(result.end_time_ns, 3 * kSecond);
  EXPECT_EQ(pool.stats().opened, 1U);
}

TEST(QueuePool, OnlyAThreadMayWait) {
  QueuePool pool({.pool_size = 1, .max_overflow = 0});
  Simulation sim;
  sim.spawn("loop task", [&] {
    const ConnectionId connection = pool.checkout();  // free: no wait, fine on the loop
    EXPECT_THROW(pool.checkout(), sim::WrongSideError);
    pool.checkin(connection);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
}

TEST(QueuePool, DeadlockReportNamesThePoolAndItsHolders) {
  QueuePool pool({.pool_size = 1, .max_overflow = 0, .timeout_ns = sim::kWaitForever, .name = "db"});
  sim::ThreadLock lock("session registry");
  Simulation sim;
  sim.spawn_thread("a", [&] {
    pool.checkout();
    sim::thread_sleep(kSecond);
    lock.acquire();
  });
  sim.spawn_thread("b", [&] {
    lock.acquire();
    pool.checkout();
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, sim::RunStatus::deadlock) << describe(result);
  EXPECT_NE(result.report.find("sqlalchemy.QueuePool 'db'"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find("1/1+0 connections checked out"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find("cycle:"), std::string::npos) << result.report;
}

TEST(QueuePool, HolderResolverNamesTheTaskAThreadWorksFor) {
  QueuePool pool({.pool_size = 1, .max_overflow = 0, .timeout_ns = sim::kWaitForever});
  pool.set_holder_resolver([](sim::TaskId) { return sim::TaskId{42}; });
  Simulation sim;
  sim.spawn_thread("worker", [&] {
    const ConnectionId connection = pool.checkout();
    std::vector<sim::TaskId> holders;
    pool.holders(holders);
    EXPECT_EQ(holders, std::vector<sim::TaskId>{42});
    pool.set_holder(connection, 7);
    holders.clear();
    pool.holders(holders);
    EXPECT_EQ(holders, std::vector<sim::TaskId>{7});
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
}

}  // namespace
}  // namespace asgisim::core
