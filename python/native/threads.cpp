// Python threads under the kernel's baton: the hand-over, the proxies, the
// locks, sleep and join.
#include "threads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::python {
namespace {

// The Python thread this OS thread runs (null on the main thread).
thread_local PyThread* tls_thread = nullptr;

sim::Nanoseconds timeout_ns(double seconds) {
  if (seconds < 0) return sim::kWaitForever;
  return static_cast<sim::Nanoseconds>(std::llround(seconds * 1e9));
}

// The run ended while the calling thread was parked in it: it unwinds with
// SystemExit, which `threading` ends a thread on silently.
[[noreturn]] void raise_run_ended() {
  PyErr_SetString(PyExc_SystemExit, "the asgisim run ended; this thread unwinds");
  throw py::error_already_set();
}

}  // namespace

BridgeThreads::BridgeThreads(sim::Simulation& sim, core::Observer& observer)
    : sim_(sim), observer_(observer) {}

BridgeThreads::~BridgeThreads() {
  // A thread still parked (or wedged) keeps its own PyThread and Baton alive.
  for (const auto& thread : threads_) {
    if (thread->os_thread.joinable()) thread->os_thread.detach();
  }
}

bool BridgeThreads::on_thread() { return tls_thread != nullptr; }

void BridgeThreads::from_thread(std::function<void()> fn) {
  PyThread* self = tls_thread;
  if (self->abandoned) raise_run_ended();
  self->request = std::move(fn);
  self->error.clear();
  {
    py::gil_scoped_release no_gil;
    std::unique_lock lock(self->baton->mutex);
    self->has_baton = false;
    self->baton->main_turn.notify_one();
    self->turn.wait(lock, [self] { return self->has_baton; });
  }
  if (self->abandoned) raise_run_ended();
  if (!self->error.empty()) throw std::runtime_error(self->error);
}

bool BridgeThreads::hand_over(PyThread& thread) {
  py::gil_scoped_release no_gil;
  std::unique_lock lock(baton_->mutex);
  thread.has_baton = true;
  thread.turn.notify_one();
  // nondeterminism-ok: the watchdog's wall clock only decides that a thread left the simulation
  return baton_->main_turn.wait_for(lock, watchdog_, [&thread] { return !thread.has_baton; });
}

void BridgeThreads::thread_main(const std::shared_ptr<PyThread>& thread) {
  tls_thread = thread.get();
  {
    std::unique_lock lock(thread->baton->mutex);
    thread->turn.wait(lock, [&thread] { return thread->has_baton; });
  }
  if (thread->abandoned) {
    (void)thread->bootstrap.release();  // never ran: no thread state to drop it with
  } else {
    py::gil_scoped_acquire gil;  // a thread state of its own, deleted at the end of this scope
    thread->ident = PyThread_get_thread_ident();
    try {
      thread->bootstrap();
    } catch (py::error_already_set& error) {
      error.discard_as_unraisable("asgisim: a thread's bootstrap");
    }
    thread->bootstrap = py::object();
  }
  std::lock_guard lock(thread->baton->mutex);
  thread->exited = true;
  thread->has_baton = false;
  thread->baton->main_turn.notify_one();
}

void BridgeThreads::proxy_main(PyThread& thread) {
  thread.task = sim_.current_task().id();
  for (;;) {
    if (!hand_over(thread)) {
      thread.wedged = true;
      std::string report = fmt::format("thread '{}' did not come back within the watchdog's {} ms",
                                       thread.name, watchdog_.count());
      if (escape_report_) {
        try {
          report = escape_report_(thread.ident, report).cast<std::string>();
        } catch (py::error_already_set& error) {
          report += fmt::format(" (the report failed: {})", error.what());
        }
      }
      escape(report);
      return;
    }
    if (thread.exited) break;
    std::function<void()> request = std::move(thread.request);
    thread.request = nullptr;
    try {
      request();
    } catch (const std::exception& error) {
      thread.error = error.what();
      if (thread.error.empty()) thread.error = "error in the kernel";
    }
  }
  thread.os_thread.join();  // it only returns from thread_main now
  count_alive(-1);
  thread.ended->set();
}

std::uint64_t BridgeThreads::start(py::object bootstrap, std::string name) {
  auto thread = std::make_shared<PyThread>();
  thread->number = threads_.size() + 1;
  thread->name = std::move(name);
  thread->baton = baton_;
  thread->bootstrap = std::move(bootstrap);
  thread->ended =
      std::make_unique<sim::ThreadEvent>(fmt::format("thread '{}' #{} ended", thread->name, thread->number));
  threads_.push_back(thread);
  in_kernel([this, raw = thread.get()] {
    sim_.spawn_thread(
        fmt::format("{} #{}", raw->name, raw->number), [this, raw] { proxy_main(*raw); },
        /*daemon=*/true);
    count_alive(+1);
  });
  thread->os_thread = std::thread([thread] { thread_main(thread); });
  return thread->number;
}

PyThread& BridgeThreads::find(std::uint64_t number) const {
  if (number == 0 || number > threads_.size()) throw std::invalid_argument("no such thread");
  return *threads_[number - 1];
}

bool BridgeThreads::join(std::uint64_t number, bool block, double timeout_s) {
  PyThread& thread = find(number);
  const sim::Nanoseconds timeout = block ? timeout_ns(timeout_s) : 0;
  bool ended = thread.ended->is_set();
  if (!on_thread()) {
    // On the loop's thread: the whole loop blocks until the thread ends.
    if (!ended && timeout != 0 && sim_.current_task_or_null() != nullptr) {
      block_loop(fmt::format("Thread.join() of '{}' #{}", thread.name, thread.number),
                 [&] { ended = thread.ended->wait(timeout); });
    }
    return ended;
  }
  in_kernel([&] { ended = thread.ended->wait(timeout); });
  return ended;
}

void BridgeThreads::sleep(double seconds) {
  if (seconds < 0) throw py::value_error("sleep length must be non-negative");
  in_kernel([ns = timeout_ns(seconds)] { sim::thread_sleep(ns); });
}

std::uint64_t BridgeThreads::new_lock(std::string name, bool locked) {
  sim::ThreadLock& lock = locks_.emplace_back(std::move(name));
  if (locked) lock.acquire(false);
  return locks_.size() - 1;
}

bool BridgeThreads::lock_acquire(std::uint64_t index, bool blocking, double timeout_s) {
  sim::ThreadLock& lock = locks_.at(index);
  if (!blocking && timeout_s != -1) throw py::value_error("can't specify a timeout for a non-blocking call");
  if (timeout_s < 0 && timeout_s != -1) throw py::value_error("timeout value must be a non-negative number");
  const sim::Nanoseconds timeout = blocking ? timeout_ns(timeout_s) : sim::kWaitForever;
  bool acquired = false;
  if (!on_thread()) {
    // On the loop's thread: a free lock is taken at once; a held one blocks
    // the whole loop until it is free (or the timeout expires).
    acquired = lock.acquire(false);
    if (!acquired && blocking && timeout != 0 && sim_.current_task_or_null() != nullptr) {
      block_loop(fmt::format("threading.Lock.acquire() of {}", lock.name()),
                 [&] { acquired = lock.acquire(true, timeout); });
    }
    return acquired;
  }
  in_kernel([&] { acquired = lock.acquire(blocking, timeout); });
  return acquired;
}

void BridgeThreads::block_loop(const std::string& what, const std::function<void()>& call) {
  LoopBlocked blocked(what);
  sim::Task& loop = sim_.current_task();
  bool done = false;
  std::exception_ptr error;
  sim_.spawn_thread(
      "event loop, blocked",
      [&] {
        try {
          call();
        } catch (const sim::TaskUnwound&) {
          throw;
        } catch (...) {
          error = std::current_exception();
        }
        done = true;
        sim_.wake(loop);
      },
      /*daemon=*/true);
  try {
    while (!done) sim_.block(blocked, sim::kNoDeadline, /*cancellable=*/false);
  } catch (const sim::TaskUnwound&) {
    // The run ended with the loop blocked here, its Python frames above: they
    // unwind as Python (SystemExit), and the loop task goes on unwinding
    // once the handle has returned (BridgeRun::loop_main).
    loop_unwound_ = true;
    PyErr_SetString(PyExc_SystemExit, "the asgisim run ended while the event loop was blocked");
    throw py::error_already_set();
  }
  if (error) std::rethrow_exception(error);
}

void BridgeThreads::lock_release(std::uint64_t index) {
  sim::ThreadLock& lock = locks_.at(index);
  if (!lock.locked()) throw std::runtime_error("release unlocked lock");
  in_kernel([&lock] { lock.release(); });
}

bool BridgeThreads::lock_locked(std::uint64_t index) const { return locks_.at(index).locked(); }

void BridgeThreads::escape(const std::string& report) {
  in_kernel([&] { sim_.stop_escaped(report); });
}

void BridgeThreads::count_alive(int delta) {
  alive_ = delta > 0 ? alive_ + 1 : alive_ - 1;
  alive_max_ = std::max(alive_max_, alive_);
  auto observe = [this](core::ObservationKind kind, std::uint64_t value) {
    core::Observation observation;
    observation.kind = kind;
    observation.layer = "threads";
    observation.value = value;
    observation.reporter = core::Reporter::thread_pool;
    observer_.observe(std::move(observation));
  };
  observe(delta > 0 ? core::ObservationKind::thread_started : core::ObservationKind::thread_stopped, alive_);
  if (thread_bytes_ > 0) observe(core::ObservationKind::memory_retained, alive_ * thread_bytes_);
}

void BridgeThreads::release(bool unwind) {
  for (const auto& thread : threads_) {
    if (thread->exited || thread->wedged) continue;
    thread->abandoned = true;
    if (!unwind) continue;
    if (!hand_over(*thread)) {
      thread->wedged = true;  // its unwinding blocks outside the simulation
      continue;
    }
    if (thread->exited && thread->os_thread.joinable()) thread->os_thread.join();
  }
}

py::list BridgeThreads::table() const {
  py::list rows;
  for (const auto& thread : threads_) {
    rows.append(py::make_tuple(thread->number, thread->name, thread->ident, thread->task, thread->exited));
  }
  return rows;
}

}  // namespace asgisim::python
