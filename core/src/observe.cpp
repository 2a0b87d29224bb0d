// The per-run observation hub: stamps time, notes observations in the trace,
// fans them out to checkers and collects violations.
#include "asgisim/core/observe.hpp"

#include <fmt/format.h>

#include <iterator>

#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

std::string_view to_string(ObservationKind kind) {
  switch (kind) {
    case ObservationKind::received:
      return "received";
    case ObservationKind::sent:
      return "sent";
    case ObservationKind::request_started:
      return "request_started";
    case ObservationKind::app_returned:
      return "app_returned";
    case ObservationKind::app_raised:
      return "app_raised";
    case ObservationKind::response_completed:
      return "response_completed";
    case ObservationKind::connection_closed:
      return "connection_closed";
    case ObservationKind::server_500:
      return "server_500";
    case ObservationKind::send_dropped:
      return "send_dropped";
    case ObservationKind::protocol_error:
      return "protocol_error";
    case ObservationKind::client_sent_request:
      return "client_sent_request";
    case ObservationKind::client_disconnected:
      return "client_disconnected";
    case ObservationKind::client_got_start:
      return "client_got_start";
    case ObservationKind::client_got_body:
      return "client_got_body";
    case ObservationKind::client_got_complete:
      return "client_got_complete";
    case ObservationKind::background_scheduled:
      return "background_scheduled";
    case ObservationKind::background_started:
      return "background_started";
    case ObservationKind::background_finished:
      return "background_finished";
    case ObservationKind::background_cancelled:
      return "background_cancelled";
    case ObservationKind::context_entered:
      return "context_entered";
    case ObservationKind::context_exited:
      return "context_exited";
    case ObservationKind::context_exit_cancelled:
      return "context_exit_cancelled";
    case ObservationKind::error_raised:
      return "error_raised";
    case ObservationKind::iterator_closed:
      return "iterator_closed";
    case ObservationKind::thread_started:
      return "thread_started";
    case ObservationKind::thread_stopped:
      return "thread_stopped";
    case ObservationKind::memory_retained:
      return "memory_retained";
  }
  return "?";
}

std::string_view to_string(Reporter reporter) {
  switch (reporter) {
    case Reporter::other:
      return "other";
    case Reporter::boundary:
      return "boundary";
    case Reporter::server:
      return "server";
    case Reporter::client:
      return "client";
    case Reporter::endpoint:
      return "endpoint";
    case Reporter::dependency:
      return "dependency";
    case Reporter::middleware:
      return "middleware";
    case Reporter::context_manager:
      return "context_manager";
    case Reporter::background_task:
      return "background_task";
    case Reporter::thread_pool:
      return "thread_pool";
  }
  return "?";
}

namespace {

constexpr std::size_t kContentMax = 2'000;  // bytes of a body or text kept in the trace

// Appends `text`, clipped to kContentMax bytes.
void append_clipped(std::string& out, std::string_view text) {
  if (text.size() <= kContentMax) {
    out.append(text);
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}... ({} bytes)", text.substr(0, kContentMax), text.size());
}

// What an observation carried, for the trace's exports (a message's status,
// headers and body; the detail and value of anything else), appended to `out`
// (the trace's annotation text).
void append_content(std::string& out, const Observation& observation) {
  const std::size_t start = out.size();
  const auto line = [&out](std::string_view text) {
    append_clipped(out, text);
    out.append(1, '\n');
  };
  if (const std::optional<Message>& message = observation.message) {
    if (message->status != 0) fmt::format_to(std::back_inserter(out), "status {}\n", message->status);
    for (const auto& [name, value] : message->headers) {
      out.append(name).append(": ");
      line(value);
    }
    if (message->type == MessageType::http_request || message->type == MessageType::http_response_body) {
      fmt::format_to(std::back_inserter(out), "body ({} bytes{}): ", message->body.size(),
                     message->more_body ? ", more_body" : "");
      line(message->body);
    }
    if (!message->text.empty()) line(message->text);
  }
  if (!observation.detail.empty()) line(observation.detail);
  if (observation.value != 0) fmt::format_to(std::back_inserter(out), "value {}\n", observation.value);
  if (out.size() > start) out.pop_back();  // the last line's newline
}

// The run's Observer, kept with the Simulation (sim/extensions.hpp).
struct ObserverSlot {
  Observer* observer = nullptr;
};
}  // namespace

void observe_run(sim::Simulation& sim, Observer& observer) {
  ObserverSlot& slot = sim.extension<ObserverSlot>();
  if (slot.observer == &observer) return;
  if (slot.observer != nullptr) throw sim::UsageError("the simulation already has another observer");
  slot.observer = &observer;
}

Observer* current_observer() {
  sim::Simulation* sim = sim::Simulation::current_or_null();
  if (sim == nullptr) return nullptr;
  const ObserverSlot* slot = sim->find_extension<ObserverSlot>();
  return slot != nullptr ? slot->observer : nullptr;
}

void observe(Observation observation) {
  if (Observer* observer = current_observer()) observer->observe(std::move(observation));
}

void Observer::observe(Observation observation) {
  if (sim::Simulation* sim = sim::Simulation::current_or_null()) {
    observation.time_ns = sim->now();
    // "<kind> <layer>[ <message type>]", built by appending (once per
    // observation, so no format parsing).
    const std::string_view kind = to_string(observation.kind);
    const std::string_view type = observation.message ? to_string(observation.message->type) : "";
    std::string label;
    label.reserve(kind.size() + observation.layer.size() + type.size() + 2);
    label.append(kind).append(1, ' ').append(observation.layer);
    if (observation.message) label.append(1, ' ').append(type);
    sim->note(label, observation.request);
    sim->trace().annotate_with([&](std::string& out) { append_content(out, observation); });
  }
  for (auto& checker : checkers_) checker->observe(observation, *this);
  if (keep_log_) log_.push_back(std::move(observation));
}

void Observer::report(Violation violation) {
  if (sim::Simulation* sim = sim::Simulation::current_or_null()) {
    violation.time_ns = sim->now();
    violation.trace_records = sim->trace().count();
  }
  violations_.push_back(std::move(violation));
}

void Observer::finish() {
  if (finished_) return;
  finished_ = true;
  for (auto& checker : checkers_) checker->finish(*this);
}

const Violation* Observer::first_failure() const {
  for (const auto& v : violations_) {
    if (!v.warning) return &v;
  }
  return nullptr;
}

}  // namespace asgisim::core
