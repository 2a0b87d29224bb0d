// The ordered event log of one case (CASE_FORMAT.md section 2.1), and the
// Python class names the observation uses for exceptions. The stack's hooks
// and the server harness record into one Recorder; the simulation's teardown
// (TaskUnwound, forced_unwind) is never an event: exception_name() gives
// nullopt for it, and the hooks rethrow without recording.
//
//   Recorder record;
//   record("dispatch_started", {{"mw", 0}});
//   try { ... } catch (...) {
//     if (auto name = exception_name(std::current_exception())) record("endpoint_raised", {{"exception",
//     *name}}); throw;
//   }
#pragma once

#include <nlohmann/json.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace asgisim::differential {

// The runner's AppError: a plain Exception subclass.
class AppError : public std::exception {
 public:
  const char* what() const noexcept override { return "AppError"; }
};

// An exception raised by code outside the model (a real Python app run
// through the bridge), carrying the Python name it is recorded under.
class ForeignError : public std::runtime_error {
 public:
  explicit ForeignError(const std::string& python_name) : std::runtime_error(python_name) {}
};

// "AppError", "ClientDisconnect", "ClientDisconnected", "RuntimeError",
// "CancelledError", "ExceptionGroup[A,B]"; nullopt for the simulation's
// teardown, which no Python code would see.
std::optional<std::string> exception_name(const std::exception_ptr& error);
// exception_name() of a possibly empty exception_ptr, as JSON (null when empty).
nlohmann::json exception_json(const std::exception_ptr& error);

class Recorder {
 public:
  void operator()(std::string event, nlohmann::json fields = nlohmann::json::object()) {
    if (!active_) return;
    fields["ev"] = std::move(event);
    if (trace_) trace_note(fields);
    events_.push_back(std::move(fields));
  }
  // The time box: app_hung is the last event.
  void stop(const std::string& reason) {
    if (!active_) return;
    events_.push_back({{"ev", "app_hung"}, {"reason", reason}});
    active_ = false;
  }
  bool active() const { return active_; }
  void deactivate() { active_ = false; }
  const nlohmann::json& events() const { return events_; }
  // Also write every event into the simulation's trace, as a note (--trace).
  void set_trace(bool trace) { trace_ = trace; }

 private:
  static void trace_note(const nlohmann::json& event);
  bool trace_ = false;
  nlohmann::json events_ = nlohmann::json::array();
  bool active_ = true;
};

}  // namespace asgisim::differential
