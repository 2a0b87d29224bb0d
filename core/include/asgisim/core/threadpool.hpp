// The two thread pools a sync (`def`) endpoint or dependency runs in, with
// the thread and memory accounting that tells growth-with-a-bound from a leak
// (FastAPI #596, DESIGN.md catalogue entry 6):
//
// - ThreadPoolExecutor: CPython's concurrent.futures.thread as asyncio's
//   default executor (loop.run_in_executor(None, fn), Starlette <= 0.14).
//   PythonVersion::py37 models 3.5 to 3.7 (max_workers = cpu_count * 5, a new
//   thread on every submit while fewer than max_workers exist); py38 models
//   3.8+ (min(32, cpu_count + 4), submit first tries the idle semaphore,
//   bpo-24882). Threads never exit while the pool lives.
// - AnyioToThread: anyio 3.6.2's to_thread.run_sync on the asyncio backend
//   (Starlette >= 0.15): a CapacityLimiter (40 tokens) bounds the calls,
//   workers are reused last-in first-out, pruned after 10 s idle, stopped
//   when the root task ends.
//
// Both are ThreadPoolRunners. Worker threads are simulated OS threads that
// are daemons while idle (they do not keep a run alive). Blocking work inside
// a call (a QueuePool checkout, a threading.Lock, thread_sleep) holds the
// thread, and with anyio the caller's limiter token.
//
// Memory: a thread retains `retained_bytes_per_thread` (a malloc arena, a
// model's buffers) from its first call until it exits. PoolStats has current
// and peak threads and bytes; history() has one sample per change; with an
// Observer the pools report thread_started / thread_stopped /
// memory_retained observations.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/observe.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/capacity_limiter.hpp"
#include "asgisim/sim/threading.hpp"
#include "asgisim/sim/types.hpp"

namespace asgisim::core {

enum class PythonVersion : std::uint8_t {
  py37,  // CPython 3.5 to 3.7: cpu_count * 5 workers, a new thread per submit up to the limit
  py38,  // CPython 3.8+: min(32, cpu_count + 4) workers, idle threads reused via a semaphore
};
std::string_view to_string(PythonVersion python);

// ThreadPoolExecutor's default max_workers for `python` on `cpu_count` CPUs.
std::uint64_t default_max_workers(PythonVersion python, std::uint64_t cpu_count);

struct PoolStats {
  std::uint64_t threads_current = 0;         // worker threads alive now
  std::uint64_t threads_peak = 0;            // most alive at once
  std::uint64_t threads_started = 0;         // ever started
  std::uint64_t threads_stopped = 0;         // ever exited
  std::uint64_t retained_bytes_current = 0;  // per-thread memory kept by live threads
  std::uint64_t retained_bytes_peak = 0;
  std::uint64_t calls_submitted = 0;     // calls handed to the pool
  std::uint64_t calls_completed = 0;     // calls whose function returned or raised
  std::uint64_t calls_running = 0;       // functions running on a thread now
  std::uint64_t calls_running_peak = 0;  // most running at once
};

// One point of the threads-and-memory curve (recorded at every change).
struct PoolSample {
  sim::Nanoseconds time_ns = 0;
  std::uint64_t threads = 0;
  std::uint64_t retained_bytes = 0;
};

// Thread and memory bookkeeping shared by both pools.
class PoolAccounting {
 public:
  // Reports thread_started / thread_stopped / memory_retained to the run's
  // observer under `layer`.
  PoolAccounting(std::string layer, std::uint64_t retained_bytes_per_thread);

  void thread_started();
  // `retained`: the thread ran a call, so it holds its per-thread memory.
  void thread_stopped(bool retained);
  void call_submitted();
  // `first_on_thread`: the thread's first call, from which it retains memory.
  void call_started(bool first_on_thread);
  void call_finished();

  const PoolStats& stats() const { return stats_; }
  const std::vector<PoolSample>& history() const { return history_; }

 private:
  void sample();
  void observe(ObservationKind kind, std::uint64_t value);
  void check_invariants() const;

  std::string layer_;
  std::uint64_t retained_bytes_per_thread_;
  PoolStats stats_{};
  std::vector<PoolSample> history_{};
};

namespace detail {
// A call handed to a worker: the function and the future the loop waits on.
struct WorkItem {
  std::function<void()> fn{};
  sim::LoopFuture<void> future{"thread call"};
  sim::TaskId caller = sim::kNoTask;  // the loop task waiting for it
  bool cancelled = false;             // the caller gave up before the worker started it
};
using WorkItemPtr = std::shared_ptr<WorkItem>;
}  // namespace detail

struct ThreadPoolExecutorOptions {
  // Which CPython's defaults and submit rule to follow.
  PythonVersion python = PythonVersion::py38;
  // os.cpu_count() of the machine.
  std::uint64_t cpu_count = 1;
  // 0: the version's default (default_max_workers).
  std::uint64_t max_workers = 0;
  // Memory a worker thread keeps from its first call on.
  std::uint64_t retained_bytes_per_thread = 0;
  // Thread names are "<prefix>_<n>" (asyncio's default executor uses "asyncio" from 3.9).
  std::string thread_name_prefix = "ThreadPoolExecutor-0";
};

// concurrent.futures.ThreadPoolExecutor as loop.run_in_executor uses it.
// The 3.8+ worker releases the idle semaphore only after it has set the
// future's result; the loop sees the result through call_soon_threadsafe, so
// whether the next sequential submit finds the semaphore released (reuse) or
// not (a new thread) is decided by the kernel's interleaving of the worker
// and the loop: under `fifo` the worker runs until it blocks (always reuse),
// under `random`/`pct` it is a scheduling choice.
class ThreadPoolExecutor final : public ThreadPoolRunner {
 public:
  explicit ThreadPoolExecutor(ThreadPoolExecutorOptions options = {});
  ~ThreadPoolExecutor() override;

  // executor.submit(fn): queues the call and maybe starts a thread. The
  // future completes on the loop one hop after the worker sets it, as
  // asyncio.wrap_future does. UsageError after shutdown().
  sim::LoopFuture<void> submit(std::function<void()> fn);
  // `await loop.run_in_executor(executor, fn)`. Cancellable: a cancelled
  // caller raises Cancelled at once; a call no worker has started yet is
  // skipped (Future.cancel), one already running runs to its end.
  void run_sync(std::function<void()> fn) override;
  // executor.shutdown(wait=False): workers exit once the queue is drained.
  void shutdown();

  std::uint64_t max_workers() const { return max_workers_; }
  const ThreadPoolExecutorOptions& options() const { return options_; }
  const PoolStats& stats() const { return accounting_.stats(); }
  const std::vector<PoolSample>& history() const { return accounting_.history(); }
  // The loop task whose call `thread` is running, or `thread` when idle.
  sim::TaskId caller_of(sim::TaskId thread) const;

 private:
  detail::WorkItemPtr submit_item(std::function<void()> fn);
  void adjust_thread_count();
  void worker_main();

  ThreadPoolExecutorOptions options_;
  std::uint64_t max_workers_;
  PoolAccounting accounting_;
  sim::SimpleQueue<detail::WorkItemPtr> work_queue_;
  sim::ThreadSemaphore idle_semaphore_;
  std::uint64_t threads_ = 0;  // len(self._threads): started, never removed
  bool shutdown_ = false;
  std::map<sim::TaskId, sim::TaskId> callers_{};  // busy thread -> caller
};

struct AnyioToThreadOptions {
  // Tokens of the default thread limiter (anyio: 40).
  std::uint64_t total_tokens = sim::kAnyioDefaultThreadTokens;
  // Which waiter a released token wakes (anyio 3.6.2: the newest).
  sim::LimiterWakeOrder wake_order = sim::LimiterWakeOrder::newest_first;
  // WorkerThread.MAX_IDLE_TIME: idle workers at least this old are pruned
  // when a later call reuses another idle worker.
  sim::Nanoseconds max_idle_ns = 10 * sim::kSecond;
  // Memory a worker thread keeps from its first call on.
  std::uint64_t retained_bytes_per_thread = 0;
  std::string thread_name = "AnyIO worker thread";
};

// anyio.to_thread.run_sync (anyio 3.6.2, asyncio backend). A call first
// passes a checkpoint, then waits for a token of its limiter (cancellable:
// Cancelled, no token taken), then, inside a shielded scope unless
// `cancellable`, takes the newest idle worker or starts one and waits for
// the result. The worker puts itself back on the idle list in the same loop
// callback that delivers the result, so a sequential caller always finds it:
// reuse is deterministic.
class AnyioToThread final : public ThreadPoolRunner {
 public:
  explicit AnyioToThread(AnyioToThreadOptions options = {});
  ~AnyioToThread() override;

  // `await anyio.to_thread.run_sync(fn)` with the default limiter.
  void run_sync(std::function<void()> fn) override;
  // With an explicit limiter (nullptr: the default one). With `cancellable`,
  // a cancelled caller leaves at once and the thread's result is dropped
  // (a call the worker had not started is skipped, and that worker is never
  // put back on the idle list, as in anyio 3.6.2).
  void run_sync(std::function<void()> fn, sim::CapacityLimiter* limiter, bool cancellable = false);
  // to_thread.current_default_thread_limiter().
  sim::CapacityLimiter& default_limiter() { return default_limiter_; }
  // The root task ended: every worker is told to stop (WorkerThread.stop).
  void stop_all();

  std::size_t idle_workers() const { return idle_.size(); }
  const AnyioToThreadOptions& options() const { return options_; }
  const PoolStats& stats() const { return accounting_.stats(); }
  const std::vector<PoolSample>& history() const { return accounting_.history(); }
  // The loop task whose call `thread` is running, or `thread` when idle.
  sim::TaskId caller_of(sim::TaskId thread) const;

 private:
  struct Worker {
    sim::TaskId thread = sim::kNoTask;
    sim::Nanoseconds idle_since_ns = 0;
    bool stopping = false;
    sim::SimpleQueue<detail::WorkItemPtr> queue{"WorkerThread.queue"};
  };
  Worker& start_worker();
  void stop(Worker& worker);
  void worker_main(Worker& worker);
  void report_result(Worker& worker, const detail::WorkItemPtr& item, std::exception_ptr error);
  void check_invariants() const;

  AnyioToThreadOptions options_;
  PoolAccounting accounting_;
  sim::CapacityLimiter default_limiter_;
  std::vector<std::unique_ptr<Worker>> all_{};    // every worker ever started (owns them)
  std::vector<Worker*> workers_{};                // anyio's `workers`: not stopped, start order
  std::deque<Worker*> idle_{};                    // anyio's `idle_workers`: pop() takes the back
  std::map<sim::TaskId, sim::TaskId> callers_{};  // busy thread -> caller
};

}  // namespace asgisim::core
