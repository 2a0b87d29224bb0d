// PythonApp: a Python ASGI callable as a core::App behind the uvicorn model.
// The server's request task calls it; the call becomes an asyncio Task on the
// bridge's loop, and the request task turns into that Task's proxy: it serves
// the Task's send() and answers each receive() (on a helper task of its own,
// so that a pending receive never holds up a send, and receives that wait at
// once each wait, as uvicorn's receive coroutines do) by calling core's
// blocking receive/send and completing the asyncio futures.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "asgisim/core/asgi.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/detail/runtime_hooks.hpp"
#include "asgisim/sim/wait.hpp"
#include "bridge_run.hpp"

namespace asgisim::python {

// What the app's Task raised, for the server's app_raised observation;
// `exception` is the Python exception object.
class PythonAppError : public std::runtime_error {
 public:
  PythonAppError(const std::string& what, py::object exception)
      : std::runtime_error(what), exception_(std::move(exception)) {}
  const py::object& exception() const { return exception_; }

 private:
  py::object exception_;
};

// The state of one app call, shared by the request task, the receive helper
// and the Python side (which holds it as `call`).
class AppCall final : public sim::Waitable,
                      public sim::detail::WakeDeferral,
                      public std::enable_shared_from_this<AppCall> {
 public:
  AppCall(std::shared_ptr<BridgeRun> run, core::RequestId request, std::string app_name);
  ~AppCall() override;

  // ---- Python side (schedule only) -----------------------------------------
  void receive(py::object future);
  void send(py::object message, py::object future);
  void cancel_receive(const py::object& future);  // that receive future was cancelled
  void finish(py::object error);                  // the Task ended; `error` is None or its exception

  // ---- the request task ------------------------------------------------------
  void serve(core::Scope& scope, const core::Receive& receive, const core::Send& send);

  std::string_view kind() const override { return "asyncio.Task"; }
  void deferred(sim::Task& task) override;
  void append_state(std::string& out) const override;
  core::RequestId request() const { return request_; }

 private:
  struct PendingSend {
    core::Message message;
    py::object future;
  };
  struct ReceiveJob {
    py::object future;
    sim::Task* task = nullptr;          // its helper, once started
    sim::CancelScope* scope = nullptr;  // while the helper is in the server's receive
    std::uint64_t armed = 0;            // see sender_armed_
  };
  void serve_receive(std::list<ReceiveJob>::iterator job);
  void wake(sim::Task* task, bool& waiting);

  std::shared_ptr<BridgeRun> run_;
  core::RequestId request_;
  std::string app_name_;
  std::deque<PendingSend> sends_;
  std::list<ReceiveJob> receives_;
  core::Receive receive_;                 // the server's, while serve() runs
  std::optional<core::Message> stashed_;  // taken by a receive whose future was cancelled
  sim::Task* sender_ = nullptr;
  // The loop step in which each task was last set going by the Task (a
  // request) or resumed from a callback (BridgeRun::complete).
  std::uint64_t sender_armed_ = 0;
  bool sender_waiting_ = false;
  bool done_ = false;
  py::object error_;  // the Task's exception, or None
};

// The app `asgi_app` (any Python ASGI 3 callable, already wrapped by the
// host's layer boundaries) behind the server: `host.start_app_call(scope,
// call)` creates its Task.
core::App python_app(std::shared_ptr<BridgeRun> run, py::object host, std::string app_name);

}  // namespace asgisim::python
