// PythonApp: the request task as the proxy of the app's asyncio Task.
#include "python_app.hpp"

#include <fmt/format.h>

#include <utility>

#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "messages.hpp"

namespace asgisim::python {
namespace {

// What the app's Task raised, for the server's app_raised observation.
class PythonAppError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The Python exception uvicorn raises into the app for `error`.
py::object python_exception_for(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const core::ClientDisconnected& e) {
    return py::module_::import("builtins").attr("OSError")(e.what());
  } catch (const std::exception& e) {
    return py::module_::import("builtins").attr("RuntimeError")(e.what());
  }
}

void complete(const py::object& future, const py::object& result, const py::object& error) {
  if (future.attr("done")().cast<bool>()) return;
  if (error.is_none()) {
    future.attr("set_result")(result);
  } else {
    future.attr("set_exception")(error);
  }
}

}  // namespace

AppCall::AppCall(std::shared_ptr<BridgeRun> run, core::RequestId request, std::string app_name)
    : sim::Waitable(fmt::format("{} request {}", app_name, request)),
      run_(std::move(run)),
      request_(request),
      app_name_(std::move(app_name)) {}

AppCall::~AppCall() = default;

std::string AppCall::state() const {
  return fmt::format("app call {}: {} sends, {} receives pending{}", done_ ? "done" : "running",
                     sends_.size(), receives_.size(), done_ ? "" : "; waits on its asyncio Task");
}

void AppCall::wake(sim::Task* task, bool& waiting) {
  if (task == nullptr || !waiting || !run_->live()) return;
  if (run_->simulation().wake(*task)) waiting = false;
}

void AppCall::receive(py::object future) {
  receives_.push_back(std::move(future));
  if (!receiver_started_) {
    receiver_started_ = true;
    run_->simulation().spawn(
        fmt::format("receive {}", request_),
        [self = shared_from_this(), receive = receive_] { self->serve_receives(receive); }, {.daemon = true});
    return;
  }
  wake(receiver_, receiver_waiting_);
}

void AppCall::send(py::object message, py::object future) {
  std::string problem;
  std::optional<core::Message> converted = message_from_python(message, problem);
  if (!converted) {
    // uvicorn raises into the app for a message it cannot use; the bridge
    // also reports it, blamed on the outermost layer (a layer boundary below
    // would have caught a message made deeper down).
    run_->report_violation("message-type", app_name_, request_, "sent to the server: " + problem);
    complete(future, py::none(), py::module_::import("builtins").attr("RuntimeError")(problem));
    return;
  }
  sends_.push_back({std::move(*converted), std::move(future)});
  wake(sender_, sender_waiting_);
}

void AppCall::cancel_receive(const py::object& future) {
  if (receive_scope_ != nullptr && !receives_.empty() && receives_.front().is(future))
    receive_scope_->cancel();
}

void AppCall::finish(py::object error) {
  done_ = true;
  if (!error.is_none()) error_ = py::str(error).cast<std::string>();
  wake(sender_, sender_waiting_);
  wake(receiver_, receiver_waiting_);
}

void AppCall::serve(core::Scope& scope, const core::Receive& receive, const core::Send& send) {
  (void)scope;
  sim::Simulation& sim = run_->simulation();
  sender_ = &sim.current_task();
  receive_ = receive;
  for (;;) {
    while (!sends_.empty()) {
      PendingSend pending = std::move(sends_.front());
      sends_.pop_front();
      std::exception_ptr failure;
      try {
        send(std::move(pending.message));
      } catch (const std::exception&) {
        failure = std::current_exception();
      }
      complete(pending.future, py::none(), failure ? python_exception_for(failure) : py::none());
    }
    if (done_) break;
    sender_waiting_ = true;
    sim.block(*this, sim::kNoDeadline, /*cancellable=*/false);
    sender_waiting_ = false;
  }
  if (error_) throw PythonAppError(*error_);
}

void AppCall::serve_receives(const core::Receive& receive) {
  sim::Simulation& sim = run_->simulation();
  receiver_ = &sim.current_task();
  for (;;) {
    while (!receives_.empty() && receives_.front().attr("done")().cast<bool>()) receives_.pop_front();
    if (receives_.empty()) {
      receiver_waiting_ = true;
      sim.block(*this, sim::kNoDeadline, /*cancellable=*/false);
      receiver_waiting_ = false;
      continue;
    }
    core::Message message;
    std::exception_ptr failure;
    if (stashed_) {
      message = std::move(*stashed_);
      stashed_.reset();
    } else {
      try {
        const bool cut = sim::cancel_scope([&](sim::CancelScope& scope) {
          receive_scope_ = &scope;
          message = receive();
        });
        receive_scope_ = nullptr;
        if (cut) continue;  // its future was cancelled: the message was not taken
      } catch (const std::exception&) {
        receive_scope_ = nullptr;
        failure = std::current_exception();
      }
    }
    py::object future = std::move(receives_.front());
    receives_.pop_front();
    if (future.attr("done")().cast<bool>()) {
      if (!failure) stashed_ = std::move(message);  // uvicorn keeps it for the next receive()
      continue;
    }
    complete(future, failure ? py::none() : py::object(message_to_python(message)),
             failure ? python_exception_for(failure) : py::none());
  }
}

core::App python_app(std::shared_ptr<BridgeRun> run, py::object host, std::string app_name) {
  return [run = std::move(run), host = std::move(host), app_name = std::move(app_name)](
             core::Scope& scope, const core::Receive& receive, const core::Send& send) {
    auto call = std::make_shared<AppCall>(run, scope.request_id, app_name);
    host.attr("start_app_call")(scope_to_python(scope), call);
    call->serve(scope, receive, send);
  };
}

}  // namespace asgisim::python
