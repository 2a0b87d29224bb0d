// Python threads under the kernel's baton (DESIGN.md "Threads: real OS threads
// under a baton"). Every thread a run starts is a real OS thread with its own
// Python thread state, but it runs only while it holds the baton, and only
// one OS thread holds it at a time: the main thread (the kernel, the asyncio
// loop, the server model and the clients) or one Python thread. Each Python
// thread has a proxy, a kernel simulated thread (Domain::thread): when the
// scheduler runs the proxy, the proxy hands the baton to its OS thread and
// waits; the thread runs Python until it calls into the kernel (a lock, a
// sleep, a join, a wake-up of the loop), hands the request and the baton back,
// and waits; the proxy carries the request out in the kernel, where it may
// block in virtual time like any simulated thread, then hands the baton back.
// So Python never runs on two OS threads at once, no Python frame lives on a
// fiber switch (the proxy's fiber runs no Python), and every interleaving is
// the scheduler's decision.
//
// A thread that keeps the baton longer than the watchdog's wall-clock limit
// is blocked outside the simulation (C code, a lock made before the patches,
// real I/O): the run stops as escaped, with every thread's Python stack.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "asgisim/core/observe.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::python {

namespace py = pybind11;

// Who may run now; shared with the OS threads, which can outlive a run.
struct Baton {
  std::mutex mutex;
  std::condition_variable main_turn;
};

// What the loop task blocks on while a blocking threading call made on the
// loop's own thread runs (BridgeThreads::block_loop).
class LoopBlocked final : public sim::Waitable {
 public:
  explicit LoopBlocked(std::string what) : sim::Waitable(std::move(what)) {}
  std::string_view kind() const override { return "event loop blocked in"; }
};

// One Python thread started during a run.
struct PyThread {
  std::uint64_t number = 0;  // 1, 2, ... in start order
  std::string name;
  std::shared_ptr<Baton> baton;
  std::condition_variable turn;  // this thread's turn (with baton->mutex)
  bool has_baton = false;        // guarded by baton->mutex
  py::object bootstrap;          // Thread._bootstrap; dropped by the thread itself
  std::thread os_thread;
  std::function<void()> request;  // what the proxy carries out next
  std::string error;              // what the request raised (for the thread to raise)
  bool exited = false;            // its Python is done and its thread state gone
  bool abandoned = false;         // the run ended with the thread parked: it unwinds
  bool wedged = false;            // the watchdog expired: never handed the baton again
  unsigned long ident = 0;        // threading.get_ident() of the thread
  sim::TaskId task = sim::kNoTask;
  std::unique_ptr<sim::ThreadEvent> ended;  // set once it exited (Thread.join)
};

class BridgeThreads {
 public:
  // `escape_report(ident, call)` builds the report of an escape (every
  // thread's Python stack), with the GIL held.
  BridgeThreads(sim::Simulation& sim, core::Observer& observer);
  ~BridgeThreads();
  BridgeThreads(const BridgeThreads&) = delete;
  BridgeThreads& operator=(const BridgeThreads&) = delete;

  void set_watchdog(std::chrono::milliseconds limit) { watchdog_ = limit; }
  void set_escape_report(py::object build) { escape_report_ = std::move(build); }
  // The memory a thread retains, for memory-budget (0: not reported).
  void set_thread_bytes(std::uint64_t bytes) { thread_bytes_ = bytes; }

  // threading.Thread.start(): a new OS thread, parked, and its proxy, ready.
  std::uint64_t start(py::object bootstrap, std::string name);
  // Thread.join(): true once thread `number` has ended; blocks a thread up
  // to `timeout_s` (< 0: forever); the loop cannot block (escapes).
  bool join(std::uint64_t number, bool block, double timeout_s);
  // time.sleep() on a thread.
  void sleep(double seconds);
  // A threading.Lock of the run (by index), created on its first use in the
  // run, locked if the real lock was.
  std::uint64_t new_lock(std::string name, bool locked);
  bool lock_acquire(std::uint64_t index, bool blocking, double timeout_s);
  void lock_release(std::uint64_t index);
  bool lock_locked(std::uint64_t index) const;

  // Runs `fn` in the kernel: at once on the main thread, through the proxy
  // from a Python thread (raising what it threw there).
  template <class Fn>
  void in_kernel(Fn&& fn) {
    if (!on_thread()) {
      fn();
      return;
    }
    from_thread(std::function<void()>(std::ref(fn)));
  }
  // True on an OS thread of a Python thread under the baton.
  static bool on_thread();
  // A blocking threading call made on the loop's own thread (a contended
  // Lock.acquire, Thread.join): the whole event loop blocks, as in asyncio,
  // while a helper simulated thread makes the call. The loop task blocks in
  // the middle of a handle, its Python frames on its fiber: safe because
  // every other fiber's Python calls begin and end without a switch, so the
  // interpreter's frame stack stays last-in first-out.
  void block_loop(const std::string& what, const std::function<void()>& call);
  // The run was torn down while the loop was blocked in block_loop(): the
  // loop task must unwind as soon as its handle returns.
  bool loop_unwound() const { return loop_unwound_; }
  // Stops the run as escaped (from any side; never switches).
  void escape(const std::string& report);
  // After the run: parked threads unwind (SystemExit) one at a time; `false`
  // leaves them parked (a forked child about to exit).
  void release(bool unwind);

  // [(number, name, ident, kernel task id, exited)] for reports.
  py::list table() const;
  std::uint64_t started() const { return threads_.size(); }
  std::uint64_t alive_max() const { return alive_max_; }

 private:
  // in_kernel() on a Python thread: the request and the baton to the proxy.
  static void from_thread(std::function<void()> fn);
  void proxy_main(PyThread& thread);
  static void thread_main(const std::shared_ptr<PyThread>& thread);
  // Main thread: thread runs until it hands the baton back; false when the
  // watchdog expired first.
  bool hand_over(PyThread& thread);
  PyThread& find(std::uint64_t number) const;
  void count_alive(int delta);

  sim::Simulation& sim_;
  core::Observer& observer_;
  std::shared_ptr<Baton> baton_ = std::make_shared<Baton>();
  std::chrono::milliseconds watchdog_{10'000};
  py::object escape_report_;
  std::uint64_t thread_bytes_ = 0;
  std::deque<std::shared_ptr<PyThread>> threads_;
  std::deque<sim::ThreadLock> locks_;
  bool loop_unwound_ = false;
  std::uint64_t alive_ = 0;
  std::uint64_t alive_max_ = 0;
};

}  // namespace asgisim::python
