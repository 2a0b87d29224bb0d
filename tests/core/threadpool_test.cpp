// Tests of the thread-pool models (threadpool.hpp): FastAPI #596's growth
// with a bound (CPython 3.7 defaults: 200 threads on 40 CPUs, memory plateaus
// at 200 x per-thread bytes), 3.8+'s idle-thread reuse as a scheduling choice
// bounded by 32, and anyio's limiter (at most 40 at once, deterministic LIFO
// reuse, pruning, stop on root-task end, cancellation rules).
#include "asgisim/core/threadpool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::core {
namespace {

using sim::kSecond;
using sim::RunResult;
using sim::Simulation;
using sim::Strategy;

constexpr std::uint64_t kMebibyte = 1024 * 1024;
constexpr std::uint64_t kModelBytes = 512 * kMebibyte;  // a deep-learning model's per-thread buffers

using sim_testing::describe;

// Runs `calls` sequential calls of a trivial function from one loop task;
// `after_each(i)` sees the pool after call i (1-based).
template <class Pool, class AfterEach>
RunResult run_sequential(Pool& pool, Simulation& sim, int calls, AfterEach&& after_each) {
  sim.spawn("endpoint caller", [&] {
    for (int i = 1; i <= calls; ++i) {
      pool.run_sync([] {});
      after_each(i);
    }
  });
  return sim.run();
}

// ---- CPython ThreadPoolExecutor ---------------------------------------------

TEST(ThreadPoolExecutor, DefaultMaxWorkersFollowThePythonVersion) {
  EXPECT_EQ(default_max_workers(PythonVersion::py37, 40), 200U);
  EXPECT_EQ(default_max_workers(PythonVersion::py38, 40), 32U);
  EXPECT_EQ(default_max_workers(PythonVersion::py38, 2), 6U);
  EXPECT_EQ(default_max_workers(PythonVersion::py37, 0), 5U);  // os.cpu_count() or 1
}

TEST(ThreadPoolExecutor, Python37StartsAThreadPerCallUpTo200AndMemoryPlateaus) {
  for (Strategy strategy : {Strategy::fifo, Strategy::random}) {
    ThreadPoolExecutor pool(
        {.python = PythonVersion::py37, .cpu_count = 40, .retained_bytes_per_thread = kModelBytes});
    ASSERT_EQ(pool.max_workers(), 200U);
    Simulation sim({.seed = 7, .strategy = strategy});
    std::vector<std::uint64_t> threads_after;
    const RunResult result =
        run_sequential(pool, sim, 1'000, [&](int) { threads_after.push_back(pool.stats().threads_current); });
    ASSERT_TRUE(result.ok()) << describe(result);
    // Every one of the first 200 calls started a thread; none after.
    for (int i = 1; i <= 200; ++i) ASSERT_EQ(threads_after[i - 1], static_cast<std::uint64_t>(i));
    for (int i = 201; i <= 1'000; ++i) ASSERT_EQ(threads_after[i - 1], 200U);
    // Growth with a bound: memory reaches max_workers x per-thread bytes and stays there.
    const PoolStats& stats = pool.stats();
    EXPECT_EQ(stats.threads_peak, 200U);
    EXPECT_EQ(stats.retained_bytes_current, 200 * kModelBytes);
    EXPECT_EQ(stats.retained_bytes_peak, 200 * kModelBytes);
    EXPECT_EQ(stats.calls_completed, 1'000U);
    std::uint64_t previous = 0;
    for (const PoolSample& sample : pool.history()) {
      EXPECT_GE(sample.retained_bytes, previous);  // never shrinks: threads never exit
      EXPECT_LE(sample.retained_bytes, pool.max_workers() * kModelBytes);
      previous = sample.retained_bytes;
    }
  }
}

TEST(ThreadPoolExecutor, Python38FifoReusesOneThread) {
  ThreadPoolExecutor pool(
      {.python = PythonVersion::py38, .cpu_count = 40, .retained_bytes_per_thread = kModelBytes});
  ASSERT_EQ(pool.max_workers(), 32U);
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  const RunResult result = run_sequential(pool, sim, 200, [](int) {});
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(pool.stats().threads_peak, 1U);
  EXPECT_EQ(pool.stats().retained_bytes_peak, kModelBytes);
  EXPECT_EQ(pool.stats().calls_completed, 200U);
}

// The worker releases the idle semaphore after it set the result, so the
// loop may submit the next call first: reuse is usual but not guaranteed.
TEST(ThreadPoolExecutor, Python38RandomSchedulesNeverExceed32Threads) {
  int reused_on_second_call = 0;
  int new_thread_on_second_call = 0;
  std::uint64_t most_threads = 0;
  for (std::uint64_t seed = 0; seed < 1'000; ++seed) {
    ThreadPoolExecutor pool({.python = PythonVersion::py38, .cpu_count = 40});
    Simulation sim({.seed = seed, .strategy = Strategy::random});
    std::uint64_t threads_after_two = 0;
    const RunResult result = run_sequential(pool, sim, 200, [&](int i) {
      if (i == 2) threads_after_two = pool.stats().threads_current;
    });
    ASSERT_TRUE(result.ok()) << "seed " << seed << ": " << describe(result);
    ASSERT_LE(pool.stats().threads_peak, 32U) << "seed " << seed;
    ASSERT_EQ(pool.stats().calls_completed, 200U) << "seed " << seed;
    most_threads = std::max(most_threads, pool.stats().threads_peak);
    (threads_after_two == 1 ? reused_on_second_call : new_thread_on_second_call) += 1;
  }
  EXPECT_GT(reused_on_second_call, 0);
  EXPECT_GT(new_thread_on_second_call, 0);
  EXPECT_GT(reused_on_second_call, new_thread_on_second_call);  // usual, not guaranteed
  EXPECT_GT(most_threads, 1U);
}

TEST(ThreadPoolExecutor, ConcurrentCallsReachButNeverExceedMaxWorkers) {
  for (PythonVersion python : {PythonVersion::py37, PythonVersion::py38}) {
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
      ThreadPoolExecutor pool({.python = python, .cpu_count = 40, .retained_bytes_per_thread = kModelBytes});
      Simulation sim({.seed = seed, .strategy = seed == 0 ? Strategy::fifo : Strategy::random});
      for (int i = 0; i < 300; ++i) {
        sim.spawn("request", [&] { pool.run_sync([] { sim::thread_sleep(kSecond); }); });
      }
      const RunResult result = sim.run();
      ASSERT_TRUE(result.ok()) << describe(result);
      const std::uint64_t bound = pool.max_workers();
      EXPECT_EQ(pool.stats().threads_peak, bound) << to_string(python) << " seed " << seed;
      EXPECT_EQ(pool.stats().calls_running_peak, bound);
      EXPECT_EQ(pool.stats().retained_bytes_peak, bound * kModelBytes);
      EXPECT_EQ(result.end_time_ns, static_cast<sim::Nanoseconds>((300 + bound - 1) / bound) * kSecond);
    }
  }
}

TEST(ThreadPoolExecutor, SameSeedSameTrace) {
  auto hash_of = [](std::uint64_t seed) {
    ThreadPoolExecutor pool({.python = PythonVersion::py38, .cpu_count = 4});
    Simulation sim({.seed = seed, .strategy = Strategy::random});
    const RunResult result = run_sequential(pool, sim, 50, [](int) {});
    EXPECT_TRUE(result.ok()) << describe(result);
    return result.trace_hash;
  };
  EXPECT_EQ(hash_of(11), hash_of(11));
  EXPECT_NE(hash_of(11), hash_of(12));
}

TEST(ThreadPoolExecutor, ExceptionReachesTheCaller) {
  ThreadPoolExecutor pool({.python = PythonVersion::py38});
  Simulation sim;
  bool caught = false;
  sim.spawn("caller", [&] {
    try {
      pool.run_sync([] { throw std::runtime_error("model failed"); });
    } catch (const std::runtime_error& error) {
      caught = std::string(error.what()) == "model failed";
    }
    pool.run_sync([] {});  // the worker survived
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(caught);
  EXPECT_EQ(pool.stats().threads_peak, 1U);
}

TEST(ThreadPoolExecutor, CancelledCallerSkipsACallNoWorkerStarted) {
  ThreadPoolExecutor pool({.python = PythonVersion::py38, .max_workers = 1});
  Simulation sim;
  bool second_ran = false;
  sim.spawn("busy", [&] { pool.run_sync([] { sim::thread_sleep(5 * kSecond); }); });
  sim.spawn("impatient", [&] {
    const bool timed_out = sim::move_on_after(kSecond, [&] { pool.run_sync([&] { second_ran = true; }); });
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(sim::now(), kSecond);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_FALSE(second_ran);
  EXPECT_EQ(pool.stats().calls_completed, 1U);
}

TEST(ThreadPoolExecutor, ShutdownStopsTheWorkers) {
  Observer observer;
  ThreadPoolExecutor pool({.python = PythonVersion::py38, .cpu_count = 4, .retained_bytes_per_thread = 100});
  Simulation sim({.seed = 3, .strategy = Strategy::fifo});
  observe_run(sim, observer);  // the pool reports to the run's observer
  sim.spawn("caller", [&] {
    pool.run_sync([] {});
    pool.shutdown();
    sim::sleep(kSecond);
    EXPECT_THROW(pool.submit([] {}), sim::UsageError);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(pool.stats().threads_current, 0U);
  EXPECT_EQ(pool.stats().threads_stopped, 1U);
  EXPECT_EQ(pool.stats().retained_bytes_current, 0U);
  std::vector<ObservationKind> kinds;
  for (const Observation& observation : observer.log()) kinds.push_back(observation.kind);
  EXPECT_EQ(kinds, (std::vector<ObservationKind>{
                       ObservationKind::thread_started, ObservationKind::memory_retained,
                       ObservationKind::thread_stopped, ObservationKind::memory_retained}));
}

// ---- anyio.to_thread.run_sync -----------------------------------------------

TEST(AnyioToThread, LimiterBoundsConcurrentCallsTo40) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    AnyioToThread pool({.retained_bytes_per_thread = kModelBytes});
    Simulation sim({.seed = seed, .strategy = seed == 0 ? Strategy::fifo : Strategy::random});
    int done = 0;
    for (int i = 0; i < 200; ++i) {
      sim.spawn("request", [&] {
        pool.run_sync([] { sim::thread_sleep(kSecond); });
        ++done;
      });
    }
    const RunResult result = sim.run();
    ASSERT_TRUE(result.ok()) << "seed " << seed << ": " << describe(result);
    EXPECT_EQ(done, 200);
    EXPECT_EQ(pool.stats().calls_running_peak, 40U) << "seed " << seed;
    EXPECT_EQ(pool.stats().threads_peak, 40U) << "seed " << seed;
    EXPECT_EQ(pool.stats().retained_bytes_peak, 40 * kModelBytes);
    EXPECT_EQ(result.end_time_ns, 5 * kSecond);  // 200 calls of 1 s, 40 at a time
  }
}

TEST(AnyioToThread, SequentialCallsReuseOneThreadOnEverySeed) {
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    AnyioToThread pool({.retained_bytes_per_thread = kModelBytes});
    Simulation sim({.seed = seed, .strategy = seed % 3 == 0 ? Strategy::pct : Strategy::random});
    const RunResult result = run_sequential(pool, sim, 100, [](int) {});
    ASSERT_TRUE(result.ok()) << "seed " << seed << ": " << describe(result);
    ASSERT_EQ(pool.stats().threads_peak, 1U) << "seed " << seed;
    ASSERT_EQ(pool.stats().retained_bytes_peak, kModelBytes) << "seed " << seed;
  }
}

TEST(AnyioToThread, ReusesTheNewestIdleWorkerAndPrunesStaleOnes) {
  AnyioToThread pool({.retained_bytes_per_thread = 10});
  Simulation sim({.seed = 5, .strategy = Strategy::fifo});
  std::vector<sim::TaskId> ran_on(3, sim::kNoTask);
  sim::TaskId reused_on = sim::kNoTask;
  sim.spawn("root", [&] {
    std::vector<sim::TaskHandle> requests;
    for (int i = 0; i < 3; ++i) {
      requests.push_back(sim.spawn("request", [&, i] {
        pool.run_sync([&, i] {
          ran_on[i] = Simulation::current().current_task().id();
          sim::thread_sleep((i + 1) * kSecond);  // finish in order 0, 1, 2
        });
      }));
    }
    for (sim::TaskHandle& request : requests) request.join();
    EXPECT_EQ(pool.idle_workers(), 3U);
    EXPECT_EQ(pool.stats().threads_current, 3U);
    sim::sleep(10 * kSecond);
    pool.run_sync([&] { reused_on = Simulation::current().current_task().id(); });
    sim::sleep(kSecond);  // let the pruned workers exit
    EXPECT_EQ(pool.stats().threads_current, 1U);
    EXPECT_EQ(pool.stats().retained_bytes_current, 10U);
    pool.stop_all();  // the root task ends
    sim::sleep(kSecond);
    EXPECT_EQ(pool.stats().threads_current, 0U);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(reused_on, ran_on[2]);  // LIFO: the worker that finished last
  EXPECT_EQ(pool.stats().threads_stopped, 3U);
  EXPECT_EQ(pool.stats().retained_bytes_current, 0U);
  EXPECT_EQ(pool.stats().retained_bytes_peak, 30U);
}

TEST(AnyioToThread, WaitingForATokenIsCancellable) {
  AnyioToThread pool({.total_tokens = 1});
  Simulation sim;
  bool second_ran = false;
  sim.spawn("holder", [&] { pool.run_sync([] { sim::thread_sleep(10 * kSecond); }); });
  sim.spawn("impatient", [&] {
    const bool timed_out = sim::move_on_after(kSecond, [&] { pool.run_sync([&] { second_ran = true; }); });
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(sim::now(), kSecond);
    EXPECT_EQ(pool.default_limiter().borrowed_tokens(), 1U);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_FALSE(second_ran);
  EXPECT_EQ(pool.stats().calls_submitted, 1U);
}

TEST(AnyioToThread, TheThreadCallIsShielded) {
  AnyioToThread pool;
  Simulation sim;
  bool finished = false;
  sim.spawn("request", [&] {
    const bool cancelled = sim::move_on_after(kSecond, [&] {
      pool.run_sync([&] {
        sim::thread_sleep(5 * kSecond);
        finished = true;
      });
      EXPECT_EQ(sim::now(), 5 * kSecond);  // the call ran to its end despite the deadline
      sim::checkpoint();                   // the cancellation arrives at the next checkpoint
      ADD_FAILURE() << "not cancelled";
    });
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(pool.default_limiter().borrowed_tokens(), 0U);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(finished);
}

TEST(AnyioToThread, CancellableCallDropsTheResult) {
  AnyioToThread pool;
  Simulation sim;
  bool finished = false;
  sim.spawn("request", [&] {
    const bool cancelled = sim::move_on_after(kSecond, [&] {
      pool.run_sync(
          [&] {
            sim::thread_sleep(5 * kSecond);
            finished = true;
          },
          nullptr, /*cancellable=*/true);
    });
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(sim::now(), kSecond);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  // The worker ran the call to its end (a running thread keeps the run
  // alive); its result was dropped.
  EXPECT_TRUE(finished);
  EXPECT_EQ(result.end_time_ns, 5 * kSecond);
}

TEST(AnyioToThread, ExceptionReachesTheCallerAndTheWorkerIsReused) {
  AnyioToThread pool;
  Simulation sim({.seed = 9, .strategy = Strategy::random});
  bool caught = false;
  sim.spawn("caller", [&] {
    try {
      pool.run_sync([] { throw std::runtime_error("boom"); });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    pool.run_sync([] {});
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(caught);
  EXPECT_EQ(pool.stats().threads_peak, 1U);
}

}  // namespace
}  // namespace asgisim::core
