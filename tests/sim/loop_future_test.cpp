// Tests of the bridges from simulated threads back to the loop (loop_future.hpp):
// the side checks, call_soon_threadsafe and LoopFuture.
#include "asgisim/sim/loop_future.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- wrong side -----------------------------------------------------------------------

TEST(WrongSide, BlockingThreadPrimitivesFromTheLoopRaise) {
  ThreadLock lock;
  ThreadSemaphore semaphore(0);
  ThreadEvent event;
  SimpleQueue<int> queue;
  Simulation sim;
  sim.spawn("loop", [&] {
    const std::string message = wrong_side_message([&] { lock.acquire(); });
    EXPECT_NE(message.find("threading.Lock.acquire() would block the event loop"), std::string::npos)
        << message;
    EXPECT_NE(message.find("simulated thread"), std::string::npos) << message;
    EXPECT_THROW(lock.acquire(true, kSecond), WrongSideError);
    EXPECT_THROW(semaphore.acquire(), WrongSideError);
    EXPECT_THROW(event.wait(), WrongSideError);
    EXPECT_THROW(event.wait(kSecond), WrongSideError);
    EXPECT_THROW(queue.get(), WrongSideError);
    EXPECT_THROW(thread_sleep(kSecond), WrongSideError);
    // Calls that cannot block are fine on the loop.
    EXPECT_TRUE(lock.acquire(false));
    EXPECT_FALSE(lock.acquire(true, 0));
    lock.release();
    EXPECT_FALSE(semaphore.acquire(false));
    EXPECT_FALSE(event.wait(0));
    EXPECT_THROW(queue.get(0), QueueEmpty);
    queue.put(7);
    EXPECT_EQ(queue.get_nowait(), 7);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(WrongSide, LoopFutureGetFromAThreadRaises) {
  LoopFuture<int> future;
  Simulation sim;
  sim.spawn_thread("thread", [&] {
    const std::string message = wrong_side_message([&] { future.get(); });
    EXPECT_NE(message.find("LoopFuture.get()"), std::string::npos) << message;
    EXPECT_NE(message.find("call_soon_threadsafe"), std::string::npos) << message;
    future.set_result(1);
  });
  sim.spawn("loop", [&] { EXPECT_EQ(future.get(), 1); });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(WrongSide, BlockingCallsOutsideARunRaise) {
  ThreadLock lock;
  lock.acquire(false);
  EXPECT_THROW(lock.acquire(), WrongSideError);
  EXPECT_THROW(thread_sleep(kSecond), WrongSideError);
  LoopFuture<int> future;
  EXPECT_THROW(future.get(), WrongSideError);
}

// ---- call_soon_threadsafe ----------------------------------------------------------------

TEST(CallSoonThreadsafe, RunsCallbacksOnTheLoopInOrder) {
  std::vector<std::string> log;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  auto callback = [&](int i) {
    return [&, i] {
      EXPECT_EQ(sim.current_task().domain(), Domain::loop);
      EXPECT_EQ(sim.current_task().name(), "call_soon_threadsafe");
      log.push_back("callback " + std::to_string(i));
    };
  };
  sim.spawn_thread("thread", [&] {
    for (int i = 0; i < 3; ++i) call_soon_threadsafe(callback(i));
    log.push_back("thread continues");  // fifo: it runs until it blocks
  });
  sim.spawn("loop", [&] {
    sim.sleep(kMillisecond);
    call_soon_threadsafe(sim, callback(3));  // from the loop: call_soon
    log.push_back("loop continues");
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"thread continues", "callback 0", "callback 1", "callback 2",
                                           "loop continues", "callback 3"}));
}

// ---- LoopFuture ------------------------------------------------------------------------------

TEST(LoopFuture, DeliversResultExceptionAndVoid) {
  LoopFuture<std::string> text("text");
  LoopFuture<int> failing("failing");
  LoopFuture<void> finished("finished");
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("thread", [&] {
    thread_sleep(kMillisecond);
    text.set_result("hello");
    EXPECT_FALSE(text.done());  // the loop sees it one callback later
    EXPECT_THROW(text.set_result("again"), UsageError);
    failing.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
    finished.set_result();
  });
  sim.spawn("loop", [&] {
    EXPECT_EQ(text.get(), "hello");
    EXPECT_EQ(sim.now(), kMillisecond);
    EXPECT_TRUE(text.done());
    EXPECT_THROW(text.get(), UsageError);  // one consumer
    EXPECT_THROW(failing.get(), std::runtime_error);
    finished.get();
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(LoopFuture, CancellableGetLeavesTheResultForLater) {
  LoopFuture<int> future;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("thread", [&] {
    thread_sleep(5 * kSecond);
    future.set_result(42);
  });
  sim.spawn("loop", [&] {
    EXPECT_TRUE(move_on_after(kSecond, [&] { future.get(); }));
    EXPECT_EQ(sim.now(), kSecond);
    EXPECT_EQ(future.get(), 42);  // the result stayed in the future
    EXPECT_EQ(sim.now(), 5 * kSecond);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(LoopFuture, ShieldedGetWaitsThroughCancellation) {
  LoopFuture<int> future;
  int got = 0;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("thread", [&] {
    thread_sleep(5 * kSecond);
    future.set_result(42);
  });
  sim.spawn("loop", [&] {
    move_on_after(kSecond, [&] {
      got = future.get(/*cancellable=*/false);
      EXPECT_EQ(sim.now(), 5 * kSecond);
      EXPECT_THROW(sim.checkpoint(), Cancelled);  // delivered at the next checkpoint
    });
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(got, 42);
}

TEST(LoopFuture, DeadlockReportNamesTheProducer) {
  LoopFuture<int> future("reply");
  ThreadEvent never("never");
  Simulation sim;
  auto worker = sim.spawn_thread("worker", [&] { never.wait(); });
  future.set_producer(worker.id());
  sim.spawn("loop", [&] { future.get(); });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  bool found = false;
  for (const auto& blocked : result.blocked) {
    if (blocked.waits_on.find("LoopFuture 'reply'") == std::string::npos) continue;
    found = true;
    EXPECT_EQ(blocked.held_by, std::vector<TaskId>{worker.id()});
  }
  EXPECT_TRUE(found) << result.report;
}

}  // namespace
}  // namespace asgisim::sim
