// CPython's ThreadPoolExecutor (3.7 and 3.8+) and anyio 3.6.2's
// to_thread.run_sync on simulated threads. See threadpool.hpp.
#include "asgisim/core/threadpool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "anyio_scopes.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "python_exceptions.hpp"

namespace asgisim::core {

namespace {

sim::TaskId current_task_id(sim::Simulation& sim) {
  sim::Task* task = sim.current_task_or_null();
  return task == nullptr ? sim::kNoTask : task->id();
}

// Marks the running worker a daemon while it waits for work: an idle pool
// does not keep the run alive and is not reported as deadlocked.
template <class Queue>
detail::WorkItemPtr wait_for_work(sim::Simulation& sim, Queue& queue) {
  sim::Task& self = sim.current_task();
  sim.set_daemon(self, true);
  detail::WorkItemPtr item = queue.get();
  sim.set_daemon(self, false);
  return item;
}

sim::TaskId lookup_caller(const std::map<sim::TaskId, sim::TaskId>& callers, sim::TaskId thread) {
  auto it = callers.find(thread);
  return it == callers.end() ? thread : it->second;
}

}  // namespace

std::string_view to_string(PythonVersion python) {
  switch (python) {
    case PythonVersion::py37:
      return "3.7";
    case PythonVersion::py38:
      return "3.8";
  }
  return "?";
}

std::uint64_t default_max_workers(PythonVersion python, std::uint64_t cpu_count) {
  const std::uint64_t cpus = std::max<std::uint64_t>(cpu_count, 1);  // os.cpu_count() or 1
  return python == PythonVersion::py37 ? cpus * 5 : std::min<std::uint64_t>(32, cpus + 4);
}

// ---- PoolAccounting ---------------------------------------------------------

PoolAccounting::PoolAccounting(std::string layer, std::uint64_t retained_bytes_per_thread)
    : layer_(std::move(layer)), retained_bytes_per_thread_(retained_bytes_per_thread) {}

void PoolAccounting::thread_started() {
  ++stats_.threads_started;
  ++stats_.threads_current;
  stats_.threads_peak = std::max(stats_.threads_peak, stats_.threads_current);
  observe(ObservationKind::thread_started, stats_.threads_current);
  sample();
  check_invariants();
}

void PoolAccounting::thread_stopped(bool retained) {
  ASGISIM_ASSERT(stats_.threads_current > 0);
  ++stats_.threads_stopped;
  --stats_.threads_current;
  observe(ObservationKind::thread_stopped, stats_.threads_current);
  if (retained && retained_bytes_per_thread_ > 0) {
    ASGISIM_ASSERT(stats_.retained_bytes_current >= retained_bytes_per_thread_);
    stats_.retained_bytes_current -= retained_bytes_per_thread_;
    observe(ObservationKind::memory_retained, stats_.retained_bytes_current);
  }
  sample();
  check_invariants();
}

void PoolAccounting::call_submitted() {
  ++stats_.calls_submitted;
  check_invariants();
}

void PoolAccounting::call_started(bool first_on_thread) {
  ++stats_.calls_running;
  stats_.calls_running_peak = std::max(stats_.calls_running_peak, stats_.calls_running);
  if (first_on_thread && retained_bytes_per_thread_ > 0) {
    stats_.retained_bytes_current += retained_bytes_per_thread_;
    stats_.retained_bytes_peak = std::max(stats_.retained_bytes_peak, stats_.retained_bytes_current);
    observe(ObservationKind::memory_retained, stats_.retained_bytes_current);
    sample();
  }
  check_invariants();
}

void PoolAccounting::call_finished() {
  ASGISIM_ASSERT(stats_.calls_running > 0);
  --stats_.calls_running;
  ++stats_.calls_completed;
  check_invariants();
}

void PoolAccounting::sample() {
  sim::Simulation* sim = sim::Simulation::current_or_null();
  history_.push_back(PoolSample{.time_ns = sim == nullptr ? 0 : sim->now(),
                                .threads = stats_.threads_current,
                                .retained_bytes = stats_.retained_bytes_current});
}

void PoolAccounting::observe(ObservationKind kind, std::uint64_t value) {
  core::observe(Observation{.kind = kind,
                            .time_ns = 0,
                            .request = 0,
                            .layer = layer_,
                            .message = std::nullopt,
                            .detail = {},
                            .value = value,
                            .reporter = Reporter::thread_pool});
}

void PoolAccounting::check_invariants() const {
  ASGISIM_ASSERT(stats_.threads_current == stats_.threads_started - stats_.threads_stopped);
  ASGISIM_ASSERT(stats_.threads_peak >= stats_.threads_current);
  ASGISIM_ASSERT(stats_.retained_bytes_peak >= stats_.retained_bytes_current);
  // Only threads that ran a call retain memory.
  ASGISIM_ASSERT(stats_.retained_bytes_current <= stats_.threads_current * retained_bytes_per_thread_);
  ASGISIM_ASSERT(stats_.calls_running <= stats_.threads_current);
  ASGISIM_ASSERT(stats_.calls_running_peak >= stats_.calls_running);
  ASGISIM_ASSERT(stats_.calls_completed + stats_.calls_running <= stats_.calls_submitted);
}

// ---- ThreadPoolExecutor -----------------------------------------------------

ThreadPoolExecutor::ThreadPoolExecutor(ThreadPoolExecutorOptions options)
    : options_(std::move(options)),
      max_workers_(options_.max_workers != 0 ? options_.max_workers
                                             : default_max_workers(options_.python, options_.cpu_count)),
      accounting_(fmt::format("ThreadPoolExecutor(python {})", to_string(options_.python)),
                  options_.retained_bytes_per_thread),
      work_queue_("ThreadPoolExecutor._work_queue"),
      idle_semaphore_(0, "ThreadPoolExecutor._idle_semaphore") {
  ASGISIM_ASSERT(max_workers_ > 0);
}

ThreadPoolExecutor::~ThreadPoolExecutor() = default;

sim::LoopFuture<void> ThreadPoolExecutor::submit(std::function<void()> fn) {
  return submit_item(std::move(fn))->future;
}

detail::WorkItemPtr ThreadPoolExecutor::submit_item(std::function<void()> fn) {
  if (shutdown_)
    throw sim::UsageError("ThreadPoolExecutor.submit(): cannot schedule new futures after shutdown");
  sim::Simulation& sim = sim::Simulation::current();
  auto item = std::make_shared<detail::WorkItem>();
  item->fn = std::move(fn);
  item->caller = current_task_id(sim);
  accounting_.call_submitted();
  work_queue_.put(item);
  adjust_thread_count();
  return item;
}

void ThreadPoolExecutor::adjust_thread_count() {
  const std::uint64_t threads_before = threads_;
  // bpo-24882 (3.8+): if idle threads are available, don't spin new threads.
  if (options_.python == PythonVersion::py38 && idle_semaphore_.acquire(false)) return;
  if (threads_ < max_workers_) {
    sim::Simulation& sim = sim::Simulation::current();
    sim.spawn_thread(fmt::format("{}_{}", options_.thread_name_prefix, threads_), [this] { worker_main(); });
    ++threads_;
    // Thread.start() returns once the new thread runs: count it now.
    accounting_.thread_started();
  }
  ASGISIM_ASSERT(threads_ <= max_workers_ && threads_ >= threads_before);
}

void ThreadPoolExecutor::worker_main() {
  sim::Simulation& sim = sim::Simulation::current();
  const sim::TaskId self = sim.current_task().id();
  bool ran_a_call = false;
  for (;;) {
    detail::WorkItemPtr item = wait_for_work(sim, work_queue_);
    if (item == nullptr) {
      // Shutdown: pass the wake-up on to the other workers, then exit.
      work_queue_.put(nullptr);
      break;
    }
    // _WorkItem.run(): Future.set_running_or_notify_cancel() skips a cancelled call.
    if (!item->cancelled) {
      item->future.set_producer(self);
      ASGISIM_ASSERT(!callers_.contains(self), "thread #{} runs two calls at once", self);
      callers_[self] = item->caller;
      accounting_.call_started(!ran_a_call);
      ran_a_call = true;
      std::exception_ptr error = detail::raised_by(item->fn);
      accounting_.call_finished();
      callers_.erase(self);
      // The loop sees the result one hop later (call_soon_threadsafe); here
      // the scheduler may let the loop run before this thread goes on.
      if (error)
        item->future.set_exception(error);
      else
        item->future.set_result();
    }
    item.reset();
    // 3.8+: the idle count goes up only now, after the result was set.
    if (options_.python == PythonVersion::py38) idle_semaphore_.release();
  }
  accounting_.thread_stopped(ran_a_call);
}

void ThreadPoolExecutor::run_sync(std::function<void()> fn) {
  sim::Simulation& sim = sim::Simulation::current();
  sim.require_domain(sim::Domain::loop, "loop.run_in_executor");
  detail::WorkItemPtr item = submit_item(std::move(fn));
  try {
    item->future.get(/*cancellable=*/true);
  } catch (const sim::Cancelled&) {
    // asyncio cancels the concurrent future too: a worker that has not
    // started the call skips it; one already running it runs to the end.
    item->cancelled = true;
    throw;
  }
}

void ThreadPoolExecutor::shutdown() {
  if (shutdown_) return;
  shutdown_ = true;
  work_queue_.put(nullptr);
}

sim::TaskId ThreadPoolExecutor::caller_of(sim::TaskId thread) const {
  return lookup_caller(callers_, thread);
}

// ---- AnyioToThread ----------------------------------------------------------

AnyioToThread::AnyioToThread(AnyioToThreadOptions options)
    : options_(std::move(options)),
      accounting_("anyio.to_thread", options_.retained_bytes_per_thread),
      default_limiter_(options_.total_tokens, "default thread limiter", options_.wake_order) {}

AnyioToThread::~AnyioToThread() = default;

void AnyioToThread::run_sync(std::function<void()> fn) { run_sync(std::move(fn), nullptr, false); }

void AnyioToThread::run_sync(std::function<void()> fn, sim::CapacityLimiter* limiter, bool cancellable) {
  sim::Simulation& sim = sim::Simulation::current();
  sim.require_domain(sim::Domain::loop, "anyio.to_thread.run_sync");
  sim.checkpoint();
  // The limiter's acquire begins with anyio's checkpoint_if_cancelled, whose
  // walk sees the scopes of enclosing task groups too (anyio_scopes.hpp).
  detail::anyio_checkpoint_if_cancelled();
  // `async with limiter:` borrows for the calling task; the wait is cancellable.
  sim::CapacityLimiter& tokens = limiter != nullptr ? *limiter : default_limiter_;
  sim::LimiterGuard token(tokens);
  auto item = std::make_shared<detail::WorkItem>();
  item->fn = std::move(fn);
  item->caller = current_task_id(sim);
  ASGISIM_ASSERT(tokens.holds_token(sim::Borrower::of_task(item->caller)),
                 "task #{} hands a call to a worker without a token of '{}'", item->caller, tokens.name());
  // `with CancelScope(shield=not cancellable):`
  sim::cancel_scope(
      [&] {
        Worker* worker = nullptr;
        if (idle_.empty()) {
          worker = &start_worker();
        } else {
          worker = idle_.back();
          idle_.pop_back();
          // Prune any other workers that have been idle for MAX_IDLE_TIME or longer.
          const sim::Nanoseconds now_ns = sim.now();
          while (!idle_.empty() && now_ns - idle_.front()->idle_since_ns >= options_.max_idle_ns) {
            Worker* expired = idle_.front();
            idle_.pop_front();
            stop(*expired);
          }
        }
        // The worker is live and idle: it takes this call and no other.
        ASGISIM_ASSERT(!worker->stopping && worker->queue.empty());
        item->future.set_producer(worker->thread);
        accounting_.call_submitted();
        worker->queue.put(item);
        check_invariants();
        try {
          item->future.get(cancellable);
        } catch (const sim::Cancelled&) {
          item->cancelled = true;  // the asyncio future is cancelled; the result will be dropped
          throw;
        }
      },
      sim::kNoDeadline, /*shield=*/!cancellable);
}

AnyioToThread::Worker& AnyioToThread::start_worker() {
  sim::Simulation& sim = sim::Simulation::current();
  all_.push_back(std::make_unique<Worker>());
  Worker& worker = *all_.back();
  worker.idle_since_ns = sim.now();
  sim::TaskHandle handle = sim.spawn_thread(options_.thread_name, [this, &worker] { worker_main(worker); });
  worker.thread = handle.id();
  workers_.push_back(&worker);
  // Thread.start() returns once the new thread runs: count it now.
  accounting_.thread_started();
  return worker;
}

void AnyioToThread::worker_main(Worker& worker) {
  sim::Simulation& sim = sim::Simulation::current();
  const sim::TaskId self = sim.current_task().id();
  bool ran_a_call = false;
  for (;;) {
    detail::WorkItemPtr item = wait_for_work(sim, worker.queue);
    if (item == nullptr) break;     // the stop command
    if (item->cancelled) continue;  // never reported: this worker is not put back on the idle list
    ASGISIM_ASSERT(!callers_.contains(self), "thread #{} runs two calls at once", self);
    callers_[self] = item->caller;
    accounting_.call_started(!ran_a_call);
    ran_a_call = true;
    std::exception_ptr error = detail::raised_by(item->fn);
    accounting_.call_finished();
    callers_.erase(self);
    // loop.call_soon_threadsafe(self._report_result, future, result, exc)
    sim::call_soon_threadsafe(sim, [this, &worker, item, error] { report_result(worker, item, error); });
  }
  accounting_.thread_stopped(ran_a_call);
}

void AnyioToThread::report_result(Worker& worker, const detail::WorkItemPtr& item, std::exception_ptr error) {
  // Back on the idle list first, then the result: the caller, woken one hop
  // later, finds this worker idle.
  worker.idle_since_ns = sim::Simulation::current().now();
  ASGISIM_ASSERT(std::find(idle_.begin(), idle_.end(), &worker) == idle_.end(),
                 "a worker reports a result while idle");
  if (!worker.stopping) idle_.push_back(&worker);
  if (!item->cancelled) {
    if (error)
      item->future.set_exception(error);
    else
      item->future.set_result();
  }
  check_invariants();
}

void AnyioToThread::stop(Worker& worker) {
  worker.stopping = true;
  worker.queue.put(nullptr);
  workers_.erase(std::remove(workers_.begin(), workers_.end(), &worker), workers_.end());
  idle_.erase(std::remove(idle_.begin(), idle_.end(), &worker), idle_.end());
  check_invariants();
}

void AnyioToThread::stop_all() {
  const std::vector<Worker*> workers = workers_;
  for (Worker* worker : workers) stop(*worker);
}

sim::TaskId AnyioToThread::caller_of(sim::TaskId thread) const { return lookup_caller(callers_, thread); }

void AnyioToThread::check_invariants() const {
  // Every idle worker is a live (not stopped) worker, listed once.
  ASGISIM_ASSERT(idle_.size() <= workers_.size());
  for (const Worker* worker : idle_) {
    ASGISIM_ASSERT(!worker->stopping);
    ASGISIM_ASSERT(std::count(idle_.begin(), idle_.end(), worker) == 1);
    ASGISIM_ASSERT(std::find(workers_.begin(), workers_.end(), worker) != workers_.end());
  }
  ASGISIM_ASSERT(workers_.size() <= all_.size());
}

}  // namespace asgisim::core
