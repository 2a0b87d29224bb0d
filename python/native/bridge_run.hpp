// One run of a real Python ASGI app under the kernel: the asyncio loop as one
// kernel task (each of its steps runs one ready asyncio handle), the Python
// side's window on the run (virtual time, choices, observations), and the
// observer lookup kept in one place. Python frames never live across a fiber
// switch: every function Python calls here only schedules.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "asgisim/core/observe.hpp"
#include "asgisim/sim/simulation.hpp"
#include "threads.hpp"

namespace asgisim::python {

namespace py = pybind11;

// What the loop task blocks on while asyncio has nothing ready.
class LoopIdle final : public sim::Waitable {
 public:
  LoopIdle() : sim::Waitable("asyncio loop") {}
  std::string_view kind() const override { return "asyncio loop"; }
  void append_state(std::string& out) const override { out.append("no ready handle"); }
};

class BridgeRun : public std::enable_shared_from_this<BridgeRun> {
 public:
  BridgeRun(sim::Simulation& sim, core::Observer& observer)
      : sim_(sim), observer_(observer), threads_(sim, observer) {}

  // Spawns the loop task (a daemon: an idle loop does not keep a run alive)
  // around `loop`, an asgisim.loop.SimLoop.
  void start_loop(py::object loop);
  // From Python's call_soon/call_at while the loop task is idle: make it run.
  void wake_loop();

  sim::Simulation& simulation() const { return sim_; }
  // The run's observer: the one place the bridge finds it (core observation
  // is becoming ambient; adapt here only).
  core::Observer& observer() const { return observer_; }
  // True while this run's simulation is the one running (Python may hold a
  // reference to a finished run).
  bool live() const { return sim::Simulation::current_or_null() == &sim_; }

  std::int64_t now_ns() const { return sim_.now(); }
  std::uint64_t choose(const std::string& label, std::uint64_t n);
  void note(const std::string& what, std::uint64_t value);
  // An observation from Python (background tasks, errors); `kind` is the
  // core name ("background_started", ...), `reporter` a core::Reporter name
  // ("background_task", ...).
  void observe(const std::string& kind, const std::string& reporter, std::uint64_t request,
               const std::string& layer, const std::string& detail);
  // A message crossing a Python layer boundary: reported as `received` or
  // `sent` at "outer->inner". Returns "" when the dict is a valid message,
  // else the problem (then reported as a message-type violation blamed on
  // `blame`).
  std::string observe_message(bool sent, const std::string& boundary, const std::string& blame,
                              std::uint64_t request, std::uint64_t call, const std::string& scope_detail,
                              const py::handle& message);
  void report_violation(const std::string& invariant, const std::string& layer, std::uint64_t request,
                        const std::string& detail);

  // Completes an asyncio future for the app (a receive or send answered).
  // `armed_at` is the loop step that set the serving task going (the Task's
  // request, or the callback that resumed it): answered before the loop's
  // next step, the Task resumes in place (its wake-up goes to the front of
  // asyncio's ready queue, after earlier ones of the same pause), as if the
  // call had not yielded: uvicorn's send and receive run inside the Task.
  void complete(const py::object& future, const py::object& result, const py::object& error,
                std::uint64_t armed_at);
  // loop.call_soon(fn): `fn` runs as an asyncio handle.
  void call_soon(std::function<void()> fn);

  std::uint64_t handles_run() const { return handles_run_; }

  // The run's Python threads (threads.hpp).
  BridgeThreads& threads() { return threads_; }
  // time.sleep() on the loop's own thread: the loop is busy that long of
  // virtual time after the current handle (nothing else on it runs).
  void loop_busy(double seconds);

 private:
  void loop_main();

  sim::Simulation& sim_;
  core::Observer& observer_;
  py::object loop_;
  py::object step_;
  LoopIdle idle_target_;
  sim::Task* loop_task_ = nullptr;
  bool idle_ = false;
  bool in_step_ = false;
  std::size_t front_ = 0;  // where the next in-place wake-up goes (BridgeRun::complete)
  std::uint64_t handles_run_ = 0;
  sim::Nanoseconds busy_ns_ = 0;
  BridgeThreads threads_;
};

}  // namespace asgisim::python
