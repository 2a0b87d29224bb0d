// Tests of the simulated-thread primitives (threading.hpp): each primitive
// used from threads, timeouts in virtual time, wrong-side errors, the hand-back
// to the loop, daemon workers, fifo's run-until-blocked rule, determinism.
#include "asgisim/sim/threading.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using asgisim::sim::call_soon_threadsafe;
using asgisim::sim::Cancelled;
using asgisim::sim::Domain;
using asgisim::sim::kMillisecond;
using asgisim::sim::kNoTask;
using asgisim::sim::kSecond;
using asgisim::sim::LoopFuture;
using asgisim::sim::move_on_after;
using asgisim::sim::Nanoseconds;
using asgisim::sim::QueueEmpty;
using asgisim::sim::RunResult;
using asgisim::sim::RunStatus;
using asgisim::sim::SimpleQueue;
using asgisim::sim::Simulation;
using asgisim::sim::Strategy;
using asgisim::sim::TaskId;
using asgisim::sim::thread_sleep;
using asgisim::sim::ThreadBoundedSemaphore;
using asgisim::sim::ThreadEvent;
using asgisim::sim::ThreadLock;
using asgisim::sim::ThreadSemaphore;
using asgisim::sim::UsageError;
using asgisim::sim::WrongSideError;

std::string describe(const RunResult& result) {
  return std::string(asgisim::sim::to_string(result.status)) + ": " + result.report;
}

// Runs `body` and returns the WrongSideError message it raised ("" if none).
template <class Body>
std::string wrong_side_message(Body&& body) {
  try {
    body();
  } catch (const WrongSideError& error) {
    return error.what();
  }
  return {};
}

// ---- threading.Lock ---------------------------------------------------------

TEST(ThreadLock, HandsOverToTheWaitingThreadOnRelease) {
  ThreadLock lock("db");
  std::vector<std::string> log;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  TaskId a_id = kNoTask;
  sim.spawn_thread("a", [&] {
    a_id = sim.current_task().id();
    EXPECT_TRUE(lock.acquire());
    EXPECT_TRUE(lock.locked());
    EXPECT_EQ(lock.owner(), a_id);
    log.push_back("a acquired");
    thread_sleep(10 * kMillisecond);
    std::vector<TaskId> holders;
    lock.holders(holders);
    EXPECT_EQ(holders, std::vector<TaskId>{a_id});
    EXPECT_EQ(lock.waiting(), 1U);
    lock.release();
    log.push_back("a released");
  });
  sim.spawn_thread("b", [&] {
    EXPECT_TRUE(lock.acquire());
    EXPECT_EQ(sim.now(), 10 * kMillisecond);
    EXPECT_EQ(lock.owner(), sim.current_task().id());
    log.push_back("b acquired");
    lock.release();
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"a acquired", "a released", "b acquired"}));
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.owner(), kNoTask);
}

TEST(ThreadLock, AcquireTimesOutInVirtualTime) {
  ThreadLock lock;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("holder", [&] {
    EXPECT_TRUE(lock.acquire());
    thread_sleep(5 * kSecond);
    lock.release();
  });
  sim.spawn_thread("impatient", [&] {
    EXPECT_FALSE(lock.acquire(true, 1 * kSecond));
    EXPECT_EQ(sim.now(), 1 * kSecond);
    EXPECT_EQ(lock.waiting(), 0U);
    EXPECT_FALSE(lock.acquire(false));
    EXPECT_FALSE(lock.acquire(true, 0));
    EXPECT_TRUE(lock.acquire(true, 10 * kSecond));
    EXPECT_EQ(sim.now(), 5 * kSecond);
    lock.release();
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.end_time_ns, 5 * kSecond);
}

// The holder releases at the very instant the waiter's timeout fires: the
// waiter has already been woken with timed_out but is still queued. The lock
// handed to it must not be lost.
TEST(ThreadLock, ReleaseRacingATimeoutDoesNotLoseTheLock) {
  int handed_over = 0;
  int timed_out = 0;
  for (Strategy strategy : {Strategy::fifo, Strategy::random, Strategy::pct}) {
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      ThreadLock lock;
      ThreadEvent held;
      bool got = false;
      Simulation sim({.seed = seed, .strategy = strategy});
      sim.spawn_thread("holder", [&] {
        EXPECT_TRUE(lock.acquire());
        held.set();
        thread_sleep(1 * kSecond);
        lock.release();
      });
      sim.spawn_thread("waiter", [&] {
        EXPECT_TRUE(held.wait());
        got = lock.acquire(true, 1 * kSecond);
        EXPECT_EQ(sim.now(), 1 * kSecond);
        if (got) {
          EXPECT_EQ(lock.owner(), sim.current_task().id());
          lock.release();
        } else {
          EXPECT_NE(lock.owner(), sim.current_task().id());
        }
      });
      const RunResult result = sim.run();
      EXPECT_TRUE(result.ok()) << describe(result);
      EXPECT_FALSE(lock.locked()) << "seed " << seed;
      // fifo: the holder's timer was registered first, so it releases before
      // the waiter resumes and the lock is handed over.
      if (strategy == Strategy::fifo) {
        EXPECT_TRUE(got);
      }
      ++(got ? handed_over : timed_out);
    }
  }
  // Other schedules let the waiter resume first: both outcomes are legal.
  EXPECT_GT(handed_over, 0);
  EXPECT_GT(timed_out, 0);
}

TEST(ThreadLock, MisuseRaisesUsageError) {
  ThreadLock lock;
  EXPECT_THROW(lock.release(), UsageError);  // outside a run: Python's RuntimeError
  EXPECT_THROW(lock.acquire(false, kSecond), UsageError);
  EXPECT_THROW(lock.acquire(true, -5), UsageError);
  EXPECT_TRUE(lock.acquire(false));  // a non-blocking call works anywhere
  lock.release();
  Simulation sim;
  sim.spawn_thread("t", [&] { EXPECT_THROW(lock.release(), UsageError); });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(ThreadLock, IsNotOwnerCheckedButRecordsTheOwner) {
  ThreadLock lock;
  Simulation sim;
  TaskId thread_id = kNoTask;
  sim.spawn_thread("t", [&] {
    thread_id = sim.current_task().id();
    EXPECT_TRUE(lock.acquire());
  });
  sim.spawn("loop", [&] {
    sim.sleep(kMillisecond);
    EXPECT_EQ(lock.owner(), thread_id);
    lock.release();  // Python's Lock may be released by anyone
    EXPECT_FALSE(lock.locked());
    EXPECT_EQ(lock.owner(), kNoTask);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(ThreadLock, LockOrderInversionIsReportedAsDeadlockWithHolders) {
  ThreadLock first("first");
  ThreadLock second("second");
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("t1", [&] {
    first.acquire();
    thread_sleep(kMillisecond);
    second.acquire();
  });
  sim.spawn_thread("t2", [&] {
    second.acquire();
    thread_sleep(kMillisecond);
    first.acquire();
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  ASSERT_EQ(result.blocked.size(), 2U);
  for (const auto& blocked : result.blocked) {
    EXPECT_TRUE(blocked.thread);
    EXPECT_NE(blocked.waits_on.find("threading.Lock"), std::string::npos) << blocked.waits_on;
    ASSERT_EQ(blocked.held_by.size(), 1U);
    EXPECT_NE(blocked.held_by[0], blocked.task);
  }
  EXPECT_NE(result.report.find("cycle"), std::string::npos) << result.report;
}

// ---- threading.Semaphore ----------------------------------------------------

TEST(ThreadSemaphore, BlocksAtZeroAndHandsUnitsToWaiters) {
  ThreadSemaphore slots(2, "slots");
  std::vector<Nanoseconds> acquired_at;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  for (int i = 0; i < 4; ++i) {
    sim.spawn_thread("worker", [&] {
      EXPECT_TRUE(slots.acquire());
      acquired_at.push_back(sim.now());
      thread_sleep(10 * kMillisecond);
      slots.release();
    });
  }
  sim.spawn_thread("observer", [&] {
    thread_sleep(kMillisecond);
    EXPECT_EQ(slots.value(), 0U);
    EXPECT_EQ(slots.waiting(), 2U);
    std::vector<TaskId> holders;
    slots.holders(holders);
    EXPECT_EQ(holders.size(), 2U);
    EXPECT_FALSE(slots.acquire(true, 5 * kMillisecond));
    EXPECT_EQ(sim.now(), 6 * kMillisecond);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(acquired_at, (std::vector<Nanoseconds>{0, 0, 10 * kMillisecond, 10 * kMillisecond}));
  EXPECT_EQ(slots.value(), 2U);
}

TEST(ThreadSemaphore, ReleaseManyWakesThatManyWaiters) {
  ThreadSemaphore gate(0);
  int passed = 0;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  for (int i = 0; i < 3; ++i) {
    sim.spawn_thread("waiter", [&] {
      if (gate.acquire(true, 5 * kSecond)) ++passed;
    });
  }
  sim.spawn("loop", [&] {
    sim.sleep(kSecond);
    EXPECT_EQ(gate.waiting(), 3U);
    gate.release(2);  // release works from the loop: it never blocks
    EXPECT_EQ(gate.waiting(), 1U);
    EXPECT_EQ(gate.value(), 0U);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(passed, 2);
  EXPECT_EQ(result.end_time_ns, 5 * kSecond);
  EXPECT_THROW(gate.release(0), UsageError);
}

TEST(ThreadSemaphore, BoundedSemaphoreRejectsExtraRelease) {
  ThreadBoundedSemaphore bounded(1);
  EXPECT_EQ(bounded.kind(), "threading.BoundedSemaphore");
  EXPECT_THROW(bounded.release(), UsageError);
  EXPECT_TRUE(bounded.acquire(false));
  EXPECT_FALSE(bounded.acquire(false));
  EXPECT_THROW(bounded.release(2), UsageError);
  bounded.release();
  EXPECT_EQ(bounded.value(), 1U);
  ThreadSemaphore unbounded(0);
  unbounded.release(3);
  EXPECT_EQ(unbounded.value(), 3U);
}

// ---- threading.Event ---------------------------------------------------------

TEST(ThreadEvent, SetWakesEveryWaiterAndTimeoutsReturnFalse) {
  ThreadEvent ready("ready");
  std::vector<Nanoseconds> woke_at;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  for (int i = 0; i < 2; ++i) {
    sim.spawn_thread("waiter", [&] {
      EXPECT_FALSE(ready.wait(kMillisecond));
      EXPECT_EQ(sim.now(), kMillisecond);
      EXPECT_TRUE(ready.wait());
      woke_at.push_back(sim.now());
    });
  }
  sim.spawn("loop", [&] {
    EXPECT_FALSE(ready.wait(0));  // a poll works from the loop
    sim.sleep(3 * kMillisecond);
    EXPECT_EQ(ready.waiting(), 2U);
    ready.set();
    EXPECT_TRUE(ready.is_set());
    EXPECT_EQ(ready.waiting(), 0U);
    ready.clear();  // woken waiters still return true, as in Python
    EXPECT_FALSE(ready.is_set());
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(woke_at, (std::vector<Nanoseconds>{3 * kMillisecond, 3 * kMillisecond}));
}

// ---- time.sleep ----------------------------------------------------------------

TEST(ThreadSleep, AdvancesVirtualTimeOnly) {
  Simulation sim;
  sim.spawn_thread("sleeper", [&] {
    thread_sleep(250 * kMillisecond);
    EXPECT_EQ(sim.now(), 250 * kMillisecond);
    thread_sleep(0);
    EXPECT_EQ(sim.now(), 250 * kMillisecond);
    EXPECT_THROW(thread_sleep(-1), UsageError);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.end_time_ns, 250 * kMillisecond);
}

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

struct SetOnDestruction {
  bool* flag;
  ~SetOnDestruction() { *flag = true; }
};

TEST(SimpleQueue, DaemonWorkerBlockedOnGetDoesNotKeepTheRunAliveAndIsUnwound) {
  SimpleQueue<int> queue;
  bool unwound = false;
  int handled = 0;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread(
      "idle-worker",
      [&] {
        SetOnDestruction sentinel{&unwound};
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
    SetOnDestruction sentinel{&unwound};
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

// ---- scheduling ----------------------------------------------------------------------------

// fifo: a thread that becomes runnable runs until it blocks before the loop
// takes its next step.
TEST(Scheduling, FifoRunsAWokenThreadUntilItBlocksBeforeTheLoopsNextStep) {
  SimpleQueue<int> queue;
  std::vector<std::string> log;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn("a", [&] {
    log.push_back("a1");
    queue.put(1);
    log.push_back("a2");  // putting is not a checkpoint
    sim.checkpoint();
    log.push_back("a3");
  });
  sim.spawn("b", [&] { log.push_back("b1"); });
  sim.spawn_thread("t", [&] {
    log.push_back("t waits");
    queue.get();
    log.push_back("t got");
    call_soon_threadsafe([&] { log.push_back("callback"); });
    log.push_back("t still running");
    thread_sleep(kMillisecond);  // blocks: now the loop may go on
    log.push_back("t done");
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"t waits", "a1", "a2", "t got", "t still running", "b1", "a3",
                                           "callback", "t done"}));
}

struct MixedOutcome {
  RunResult result;
  std::string order;
  int total = 0;
};

// Three worker threads and the loop share a lock, a semaphore, an event and a
// queue; the order in which jobs are handled depends on the schedule.
MixedOutcome run_mixed(std::uint64_t seed) {
  ThreadLock lock("counter");
  ThreadSemaphore slots(2, "slots");
  ThreadEvent go("go");
  SimpleQueue<int> jobs("jobs");
  std::vector<LoopFuture<int>> handled;
  for (int i = 0; i < 3; ++i) handled.emplace_back("handled");
  MixedOutcome outcome;
  Simulation sim({.seed = seed, .strategy = Strategy::random});
  for (int w = 0; w < 3; ++w) {
    sim.spawn_thread("worker", [&, w] {
      go.wait();
      int count = 0;
      for (;;) {
        const int job = jobs.get();
        if (job < 0) break;
        slots.acquire();
        lock.acquire();
        outcome.order += std::to_string(w) + ":" + std::to_string(job) + " ";
        outcome.total += job;
        lock.release();
        thread_sleep(job * kMillisecond);
        slots.release();
        ++count;
      }
      handled[w].set_result(count);
    });
  }
  sim.spawn("loop", [&] {
    sim.sleep(kMillisecond);
    go.set();
    for (int job = 1; job <= 6; ++job) {
      jobs.put(job);
      if (job % 2 == 0) sim.checkpoint();
    }
    for (int w = 0; w < 3; ++w) jobs.put(-1);
    int count = 0;
    for (auto& future : handled) count += future.get();
    EXPECT_EQ(count, 6);
  });
  outcome.result = sim.run();
  return outcome;
}

TEST(Scheduling, RandomStrategyIsDeterministicPerSeedAndVariesAcrossSeeds) {
  std::set<std::uint64_t> hashes;
  std::set<std::string> orders;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const MixedOutcome first = run_mixed(seed);
    const MixedOutcome second = run_mixed(seed);
    ASSERT_TRUE(first.result.ok()) << "seed " << seed << " " << describe(first.result);
    EXPECT_EQ(first.total, 21);
    EXPECT_EQ(first.result.trace_hash, second.result.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.order, second.order) << "seed " << seed;
    EXPECT_EQ(first.result.steps, second.result.steps) << "seed " << seed;
    hashes.insert(first.result.trace_hash);
    orders.insert(first.order);
  }
  EXPECT_GT(hashes.size(), 10U);
  EXPECT_GT(orders.size(), 1U);
}

}  // namespace
