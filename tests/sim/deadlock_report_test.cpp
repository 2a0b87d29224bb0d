// Deadlock reports (deadlock_report.cpp): when tasks are blocked with nothing
// ready and no timer pending, the run stops with the wait-for graph: every
// blocked task, what it waits on (by name), who holds it, and the first cycle.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "asgisim/sim/event.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/stream.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

const BlockedTask* find_blocked(const RunResult& result, const std::string& name) {
  auto it = std::find_if(result.blocked.begin(), result.blocked.end(),
                         [&](const BlockedTask& b) { return b.task_name == name; });
  return it == result.blocked.end() ? nullptr : &*it;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Strategies and seeds: the deadlock is found whatever the interleaving.
struct Schedule {
  Strategy strategy;
  std::uint64_t seed;
};

std::vector<Schedule> schedules() {
  std::vector<Schedule> out = {{Strategy::fifo, 0}};
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    out.push_back({Strategy::random, seed});
    out.push_back({Strategy::pct, seed});
  }
  return out;
}

TEST(Deadlock, AnAbbaLockCycleIsReportedWithBothTasksLocksHoldersAndTheCycle) {
  for (const Schedule& schedule : schedules()) {
    SCOPED_TRACE(testing::Message() << "seed " << schedule.seed << " strategy "
                                    << to_string(schedule.strategy));
    Lock accounts("accounts");
    Lock ledger("ledger");
    Simulation sim({.seed = schedule.seed, .strategy = schedule.strategy});
    sim.spawn("transfer", [&] {
      LockGuard first(accounts);
      sim::sleep(kMillisecond);  // both tasks hold their first lock by now
      LockGuard second(ledger);
    });
    sim.spawn("audit", [&] {
      LockGuard first(ledger);
      sim::sleep(kMillisecond);
      LockGuard second(accounts);
    });
    const RunResult result = sim.run();
    ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
    EXPECT_EQ(result.end_time_ns, kMillisecond);
    const std::string& report = result.report;
    EXPECT_TRUE(contains(report, "deadlock: 2 task(s) blocked")) << report;
    EXPECT_TRUE(contains(report, "task #1 'transfer' waits on anyio.Lock 'ledger'")) << report;
    EXPECT_TRUE(contains(report, "task #2 'audit' waits on anyio.Lock 'accounts'")) << report;
    EXPECT_TRUE(contains(report, "held by #2 'audit'")) << report;
    EXPECT_TRUE(contains(report, "held by #1 'transfer'")) << report;
    EXPECT_TRUE(contains(report, "cycle: #1 'transfer' -> #2 'audit' -> #1 'transfer'")) << report;

    ASSERT_EQ(result.blocked.size(), 2u);
    const BlockedTask* transfer = find_blocked(result, "transfer");
    const BlockedTask* audit = find_blocked(result, "audit");
    ASSERT_NE(transfer, nullptr);
    ASSERT_NE(audit, nullptr);
    EXPECT_EQ(transfer->task, 1u);
    EXPECT_EQ(audit->task, 2u);
    EXPECT_FALSE(transfer->thread);
    EXPECT_FALSE(transfer->daemon);
    EXPECT_TRUE(contains(transfer->waits_on, "anyio.Lock 'ledger'")) << transfer->waits_on;
    EXPECT_TRUE(contains(transfer->waits_on, "locked, 1 waiting")) << transfer->waits_on;
    EXPECT_EQ(transfer->held_by, (std::vector<TaskId>{2}));
    EXPECT_EQ(audit->held_by, (std::vector<TaskId>{1}));
    EXPECT_NE(transfer->object, kNoObject);
    EXPECT_NE(transfer->object, audit->object);
  }
}

TEST(Deadlock, ASendOnAZeroBufferStreamWithNoReceiverNamesTheStream) {
  auto [send, receive] = create_memory_object_stream<int>(0, "jobs");
  Simulation sim;
  sim.spawn("producer", [send = std::move(send)]() mutable { send.send(1); });
  // The receive end stays open (held here) but nobody ever receives.
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_TRUE(contains(result.report, "task #1 'producer' waits on MemoryObjectSendStream 'jobs'"))
      << result.report;
  ASSERT_EQ(result.blocked.size(), 1u);
  EXPECT_TRUE(contains(result.blocked[0].waits_on, "'jobs'")) << result.blocked[0].waits_on;
  EXPECT_TRUE(result.blocked[0].held_by.empty());
  EXPECT_FALSE(contains(result.report, "cycle:")) << "waiting on nobody is not a cycle";
  receive.close();
}

TEST(Deadlock, AReceiverWaitingForASenderThatWaitsForItIsACycleThroughAnEvent) {
  Event ready("ready");
  auto [send, receive] = create_memory_object_stream<int>(0, "replies");
  Simulation sim;
  sim.spawn("client", [&, receive = std::move(receive)]() mutable {
    (void)receive.receive();  // waits for the server's reply
    ready.set();              // ... before it would let the server go on
  });
  sim.spawn("server", [&, send = std::move(send)]() mutable {
    ready.wait();
    send.send(1);
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_TRUE(contains(result.report, "'client' waits on MemoryObjectReceiveStream 'replies'"))
      << result.report;
  EXPECT_TRUE(contains(result.report, "'server' waits on anyio.Event 'ready' #")) << result.report;
  EXPECT_TRUE(contains(result.report, "not set, 1 waiting")) << result.report;
  EXPECT_EQ(result.blocked.size(), 2u);
}

TEST(Deadlock, ADeadlockBetweenSimulatedThreadsIsReported) {
  for (const Schedule& schedule : schedules()) {
    SCOPED_TRACE(testing::Message() << "seed " << schedule.seed << " strategy "
                                    << to_string(schedule.strategy));
    ThreadLock pool("db-pool");
    ThreadLock cache("cache");
    Simulation sim({.seed = schedule.seed, .strategy = schedule.strategy});
    sim.spawn_thread("worker-1", [&] {
      pool.acquire();
      thread_sleep(kMillisecond);
      cache.acquire();
    });
    sim.spawn_thread("worker-2", [&] {
      cache.acquire();
      thread_sleep(kMillisecond);
      pool.acquire();
    });
    const RunResult result = sim.run();
    ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
    const std::string& report = result.report;
    EXPECT_TRUE(contains(report, "task #1 'worker-1' [thread] waits on threading.Lock 'cache'")) << report;
    EXPECT_TRUE(contains(report, "task #2 'worker-2' [thread] waits on threading.Lock 'db-pool'")) << report;
    EXPECT_TRUE(contains(report, "cycle: #1 'worker-1' -> #2 'worker-2' -> #1 'worker-1'")) << report;
    ASSERT_EQ(result.blocked.size(), 2u);
    for (const BlockedTask& b : result.blocked) {
      EXPECT_TRUE(b.thread) << b.task_name;
      EXPECT_EQ(b.held_by.size(), 1u) << b.task_name;
    }
  }
}

TEST(Deadlock, ALoopTaskAndAThreadDeadlockAcrossTheBoundary) {
  ThreadEvent wakeup("wakeup");
  LoopFuture<int> result_future("result");
  Simulation sim;
  sim.spawn_thread("worker", [&] {
    wakeup.wait();  // never set: the loop waits for this thread first
    result_future.set_result(1);
  });
  sim.spawn("handler", [&] {
    result_future.set_producer(1);
    (void)result_future.get();
    wakeup.set();
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_TRUE(contains(result.report, "'worker' [thread] waits on threading.Event 'wakeup'"))
      << result.report;
  EXPECT_TRUE(contains(result.report, "'handler' waits on LoopFuture 'result'")) << result.report;
  EXPECT_TRUE(contains(result.report, "held by #1 'worker'")) << result.report;
}

TEST(Deadlock, BlockedDaemonsAreListedButNotCounted) {
  Lock lock("conn");
  Simulation sim;
  sim.spawn("holder", [&] {
    lock.acquire();
    Event never("never");
    never.wait();
  });
  sim.spawn(
      "idle-worker", [&] { LockGuard guard(lock); }, SpawnOptions{.daemon = true});
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_TRUE(contains(result.report, "deadlock: 1 task(s) blocked")) << result.report;
  EXPECT_TRUE(contains(result.report, "'idle-worker' [daemon] waits on anyio.Lock 'conn'")) << result.report;
  const BlockedTask* daemon = find_blocked(result, "idle-worker");
  ASSERT_NE(daemon, nullptr);
  EXPECT_TRUE(daemon->daemon);
}

TEST(Deadlock, AJoinThatCanNeverEndNamesTheTaskJoined) {
  Simulation sim;
  sim.spawn("parent", [] {
    TaskHandle child = Simulation::current().spawn("child", [] {
      Event never("never");
      never.wait();
    });
    child.join();
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_TRUE(contains(result.report, "task #1 'parent' waits on join #")) << result.report;
  EXPECT_TRUE(contains(result.report, "(task #2 'child') held by #2 'child'")) << result.report;
  EXPECT_TRUE(contains(result.report, "task #2 'child' waits on anyio.Event 'never'")) << result.report;
}

TEST(Deadlock, ATaskBlockedOnItsOwnLockIsAOneTaskCycle) {
  ThreadLock lock("reentrant?");
  Simulation sim;
  sim.spawn_thread("worker", [&] {
    lock.acquire();
    lock.acquire();  // threading.Lock is not reentrant
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_TRUE(contains(result.report, "cycle: #1 'worker' -> #1 'worker'")) << result.report;
}

TEST(Deadlock, ASleepingTaskIsNeverADeadlockAndTimeoutsBreakOne) {
  Lock a("a");
  Lock b("b");
  Simulation sim;
  bool timed_out = false;
  sim.spawn("first", [&] {
    LockGuard guard(a);
    sim::sleep(kMillisecond);
    // With a timeout the same cycle is a stall, not a deadlock.
    timed_out = move_on_after(30 * kSecond, [&] { LockGuard inner(b); });
  });
  sim.spawn("second", [&] {
    LockGuard guard(b);
    sim::sleep(kMillisecond);
    LockGuard inner(a);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(result.end_time_ns, kMillisecond + 30 * kSecond);
}

}  // namespace
}  // namespace asgisim::sim
