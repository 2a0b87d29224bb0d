// Tests of queue.SimpleQueue for simulated threads (threading.hpp): FIFO order,
// timeouts and nowait, a loop producer with a thread consumer, and daemon
// workers blocked on get().
#include "asgisim/sim/threading.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asgisim/sim/loop_future.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- queue.SimpleQueue ------------------------------------------------------------

TEST(SimpleQueue, FifoOrderTimeoutsAndNowait) {
  SimpleQueue<int> queue("jobs");
  queue.put(1);  // put works even before the run (setup code)
  std::vector<int> got;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("consumer", [&] {
    got.push_back(queue.get());
    EXPECT_THROW(queue.get(2 * kSecond), QueueEmpty);
    EXPECT_EQ(sim.now(), 2 * kSecond);
    got.push_back(queue.get());  // the loop's puts at 3 s
    got.push_back(queue.get());
    EXPECT_EQ(sim.now(), 3 * kSecond);
    EXPECT_THROW(queue.get_nowait(), QueueEmpty);
  });
  sim.spawn("producer", [&] {
    EXPECT_THROW(queue.get_nowait(), QueueEmpty);  // the consumer took item 1 first
    sim.sleep(3 * kSecond);
    EXPECT_EQ(queue.getters_waiting(), 1U);
    queue.put(2);  // handed straight to the waiting getter
    EXPECT_EQ(queue.qsize(), 0U);
    queue.put(3);
    EXPECT_EQ(queue.qsize(), 1U);
    EXPECT_FALSE(queue.empty());
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(queue.empty());
}

// The shape of run_in_executor: the loop puts requests on a queue, a worker
// thread gets them and hands each result back through a LoopFuture.
TEST(SimpleQueue, LoopProducerThreadConsumerWithResultsBack) {
  struct Request {
    int input;
    LoopFuture<int> reply;
  };
  SimpleQueue<Request> requests("requests");
  std::vector<int> replies;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread(
      "worker",
      [&] {
        for (;;) {
          Request request = requests.get();
          thread_sleep(kMillisecond);  // the blocking work
          request.reply.set_result(request.input * request.input);
        }
      },
      /*daemon=*/true);
  sim.spawn("endpoint", [&] {
    for (int i = 1; i <= 4; ++i) {
      LoopFuture<int> reply("reply");
      requests.put(Request{i, reply});
      replies.push_back(reply.get());
      EXPECT_EQ(sim.now(), i * kMillisecond);
    }
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(replies, (std::vector<int>{1, 4, 9, 16}));
}

// ---- daemons ------------------------------------------------------------------------

TEST(SimpleQueue, DaemonWorkerBlockedOnGetDoesNotKeepTheRunAliveAndIsUnwound) {
  SimpleQueue<int> queue;
  bool unwound = false;
  int handled = 0;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread(
      "idle-worker",
      [&] {
        SetOnDestruction sentinel{unwound};
        for (;;) {
          queue.get();
          ++handled;
        }
      },
      /*daemon=*/true);
  sim.spawn("loop", [&] {
    queue.put(1);
    queue.put(2);
    sim.sleep(kSecond);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(handled, 2);
  EXPECT_TRUE(unwound);
  EXPECT_EQ(queue.getters_waiting(), 0U);
}

// A pool worker is a daemon only while it waits for work.
TEST(SimpleQueue, WorkerTogglesDaemonWhileIdle) {
  SimpleQueue<int> queue;
  bool unwound = false;
  int handled = 0;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("pool-worker", [&] {
    SetOnDestruction sentinel{unwound};
    for (;;) {
      sim.set_daemon(sim.current_task(), true);
      queue.get();
      sim.set_daemon(sim.current_task(), false);
      thread_sleep(kSecond);  // busy: keeps the run alive although the loop is done
      ++handled;
    }
  });
  sim.spawn("loop", [&] {
    queue.put(1);
    // The worker is still a daemon until it runs: a pool must let it claim
    // the work (or clear the flag itself) before its last non-daemon task ends.
    sim.checkpoint();
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(handled, 1);
  EXPECT_EQ(result.end_time_ns, kSecond);
  EXPECT_TRUE(unwound);
}

TEST(SimpleQueue, NonDaemonThreadBlockedForeverIsADeadlock) {
  SimpleQueue<int> queue("never-fed");
  Simulation sim;
  sim.spawn_thread("stuck", [&] { queue.get(); });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  ASSERT_EQ(result.blocked.size(), 1U);
  EXPECT_NE(result.blocked[0].waits_on.find("queue.SimpleQueue 'never-fed'"), std::string::npos)
      << result.blocked[0].waits_on;
}

}  // namespace
}  // namespace asgisim::sim
