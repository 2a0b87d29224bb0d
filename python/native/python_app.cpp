// PythonApp: the request task as the proxy of the app's asyncio Task.
#include "python_app.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "asgisim/sim/detail/runtime_hooks.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "messages.hpp"

namespace asgisim::python {
namespace {

// The Python exception uvicorn raises into the app for `error`.
py::object python_exception_for(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const core::ClientDisconnected& e) {
    // uvicorn 0.28.0's name for it (an OSError subclass).
    return py::module_::import("asgisim.host").attr("ClientDisconnected")(e.what());
  } catch (const std::exception& e) {
    return py::module_::import("builtins").attr("RuntimeError")(e.what());
  }
}

}  // namespace

AppCall::AppCall(std::shared_ptr<BridgeRun> run, core::RequestId request, std::string app_name)
    : sim::Waitable(fmt::format("{} request {}", app_name, request)),
      run_(std::move(run)),
      request_(request),
      app_name_(std::move(app_name)) {}

AppCall::~AppCall() = default;

void AppCall::append_state(std::string& out) const {
  fmt::format_to(std::back_inserter(out), "app call {}: {} sends, {} receives pending{}",
                 done_ ? "done" : "running", sends_.size(), receives_.size(),
                 done_ ? "" : "; waits on its asyncio Task");
}

void AppCall::wake(sim::Task* task, bool& waiting) {
  if (task == nullptr || !waiting || !run_->live()) return;
  // The Task's own request: at once (past the deferral of the server's wake-ups).
  if (run_->simulation().runtime_hooks().wake_deferred(*task)) waiting = false;
}

// The server woke one of the call's tasks (a receive that waited for data, a
// send held by flow control): in uvicorn that coroutine resumes when its
// callback comes up in asyncio's ready queue, so the task resumes from a
// callback appended now.
void AppCall::deferred(sim::Task& task) {
  if (!run_->live()) return;
  run_->call_soon([weak = weak_from_this(), task = &task] {
    const std::shared_ptr<AppCall> self = weak.lock();
    if (!self || !self->run_->live()) return;
    const std::uint64_t now = self->run_->handles_run();
    if (task == self->sender_) {
      self->sender_armed_ = now;
    } else {
      auto job = std::find_if(self->receives_.begin(), self->receives_.end(),
                              [&](const ReceiveJob& j) { return j.task == task; });
      if (job == self->receives_.end()) return;  // that task has left the call
      job->armed = now;
    }
    self->run_->simulation().runtime_hooks().wake_deferred(*task);
  });
}

void AppCall::receive(py::object future) {
  auto job = receives_.insert(receives_.end(),
                              ReceiveJob{.future = std::move(future), .armed = run_->handles_run()});
  run_->simulation().spawn(fmt::format("receive {}", request_),
                           [self = shared_from_this(), job] { self->serve_receive(job); }, {.daemon = true});
}

void AppCall::send(py::object message, py::object future) {
  std::string problem;
  std::optional<core::Message> converted = message_from_python(message, problem);
  if (!converted) {
    // uvicorn raises into the app for a message it cannot use; the bridge
    // also reports it, blamed on the outermost layer (a layer boundary below
    // would have caught a message made deeper down).
    run_->report_violation("message-type", app_name_, request_, "sent to the server: " + problem);
    run_->complete(future, py::none(), py::module_::import("builtins").attr("RuntimeError")(problem),
                   run_->handles_run());
    return;
  }
  sends_.push_back({std::move(*converted), std::move(future)});
  sender_armed_ = run_->handles_run();
  wake(sender_, sender_waiting_);
}

void AppCall::cancel_receive(const py::object& future) {
  for (ReceiveJob& job : receives_) {
    if (job.future.is(future) && job.scope != nullptr) job.scope->cancel();
  }
}

void AppCall::finish(py::object error) {
  done_ = true;
  error_ = std::move(error);
  sender_armed_ = run_->handles_run();
  wake(sender_, sender_waiting_);
}

void AppCall::serve(core::Scope& scope, const core::Receive& receive, const core::Send& send) {
  (void)scope;
  sim::Simulation& sim = run_->simulation();
  sender_ = &sim.current_task();
  receive_ = receive;
  const sim::detail::RuntimeHooks hooks = sim.runtime_hooks();
  hooks.defer_wakes(*sender_, this);
  struct Leave {
    AppCall& call;
    ~Leave() {
      sim::detail::RuntimeHooks::defer_wakes(*call.sender_, nullptr);
      call.sender_ = nullptr;
    }
  } leave{*this};
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
      run_->complete(pending.future, py::none(), failure ? python_exception_for(failure) : py::none(),
                     sender_armed_);
    }
    if (done_) break;
    sender_waiting_ = true;
    sim.block(*this, sim::kNoDeadline, /*cancellable=*/false);
    sender_waiting_ = false;
  }
  if (error_ && !error_.is_none()) {
    throw PythonAppError(
        fmt::format("{}: {}", py::type::handle_of(error_).attr("__name__").cast<std::string>(),
                    py::str(error_).cast<std::string>()),
        error_);
  }
}

void AppCall::serve_receive(std::list<ReceiveJob>::iterator job) {
  sim::Task& task = run_->simulation().current_task();
  job->task = &task;
  sim::detail::RuntimeHooks::defer_wakes(task, this);
  struct Leave {
    AppCall& call;
    std::list<ReceiveJob>::iterator job;
    ~Leave() {
      sim::detail::RuntimeHooks::defer_wakes(*job->task, nullptr);
      call.receives_.erase(job);
    }
  } leave{*this, job};
  if (job->future.attr(names().done)().cast<bool>()) return;
  core::Message message;
  std::exception_ptr failure;
  if (stashed_) {
    message = std::move(*stashed_);
    stashed_.reset();
  } else {
    try {
      const bool cut = sim::cancel_scope([&](sim::CancelScope& scope) {
        job->scope = &scope;
        // Cancelled whenever the app gives up a receive (the disconnect
        // listener, once the response is out): read as a value, not unwound.
        std::optional<core::Message> received = core::receive_or_cancelled(receive_);
        if (!received) return sim::BodyEnd::cancelled;
        message = std::move(*received);
        return sim::BodyEnd::returned;
      });
      job->scope = nullptr;
      if (cut) return;  // its future was cancelled: the message was not taken
    } catch (const std::exception&) {
      job->scope = nullptr;
      failure = std::current_exception();
    }
  }
  if (job->future.attr(names().done)().cast<bool>()) {
    if (!failure) stashed_ = std::move(message);  // uvicorn keeps it for the next receive()
    return;
  }
  run_->complete(job->future, failure ? py::none() : py::object(message_to_python(message)),
                 failure ? python_exception_for(failure) : py::none(), job->armed);
}

core::App python_app(std::shared_ptr<BridgeRun> run, py::object host, std::string app_name) {
  return [run = std::move(run), host = std::move(host), app_name = std::move(app_name)](
             core::Scope& scope, const core::Receive& receive, const core::Send& send) {
    auto call = std::make_shared<AppCall>(run, scope.request_id, app_name);
    host.attr(names().start_app_call)(scope_to_python(scope), call);
    call->serve(scope, receive, send);
  };
}

}  // namespace asgisim::python
