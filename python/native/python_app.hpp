// PythonApp: a Python ASGI callable as a core::App behind the uvicorn model.
// The server's request task calls it; the call becomes an asyncio Task on the
// bridge's loop, and the request task turns into that Task's proxy: it serves
// the Task's send() and answers its receive() (on a helper task, so that a
// pending receive never holds up a send, as in uvicorn) by calling core's
// blocking receive/send and completing the asyncio futures.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "asgisim/core/asgi.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/wait.hpp"
#include "bridge_run.hpp"

namespace asgisim::python {

// The state of one app call, shared by the request task, the receive helper
// and the Python side (which holds it as `call`).
class AppCall final : public sim::Waitable, public std::enable_shared_from_this<AppCall> {
 public:
  AppCall(std::shared_ptr<BridgeRun> run, core::RequestId request, std::string app_name);
  ~AppCall() override;

  // ---- Python side (schedule only) -----------------------------------------
  void receive(py::object future);
  void send(py::object message, py::object future);
  void cancel_receive(const py::object& future);  // that receive future was cancelled
  void finish(py::object error);                  // the Task ended; `error` is None or the exception

  // ---- the request task ------------------------------------------------------
  void serve(core::Scope& scope, const core::Receive& receive, const core::Send& send);

  std::string_view kind() const override { return "asyncio.Task"; }
  std::string state() const override;
  core::RequestId request() const { return request_; }

 private:
  struct PendingSend {
    core::Message message;
    py::object future;
  };
  void serve_receives(const core::Receive& receive);
  void wake(sim::Task* task, bool& waiting);

  std::shared_ptr<BridgeRun> run_;
  core::RequestId request_;
  std::string app_name_;
  std::deque<PendingSend> sends_;
  std::deque<py::object> receives_;
  core::Receive receive_;                 // the server's, while serve() runs
  std::optional<core::Message> stashed_;  // taken by a receive whose future was cancelled
  sim::CancelScope* receive_scope_ = nullptr;
  sim::Task* sender_ = nullptr;
  sim::Task* receiver_ = nullptr;
  bool sender_waiting_ = false;
  bool receiver_waiting_ = false;
  bool receiver_started_ = false;
  bool done_ = false;
  std::optional<std::string> error_;  // the Task's exception, formatted
};

// The app `asgi_app` (any Python ASGI 3 callable, already wrapped by the
// host's layer boundaries) behind the server: `host.start_app_call(scope,
// call)` creates its Task.
core::App python_app(std::shared_ptr<BridgeRun> run, py::object host, std::string app_name);

}  // namespace asgisim::python
