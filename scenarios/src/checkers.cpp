// The invariant table and install_checkers(): protocol ids go to one shared
// core::ProtocolValidator (filtered to the ids asked for), the rest to one
// checker each; no-deadlock, liveness and deterministic are the engine's.
#include "asgisim/scenarios/checkers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

#include "asgisim/core/validator.hpp"
#include "request_checkers.hpp"

namespace asgisim::scenarios {
namespace {

struct InvariantRow {
  std::string_view id;
  std::string_view description;
};

// DESIGN.md's table, in its order.
constexpr InvariantRow kInvariants[] = {
    {"start-once", "exactly one http.response.start per request, before any body"},
    {"body-after-start", "no http.response.body before start; none after the final one (more_body false)"},
    {"response-complete",
     "every request the client did not abandon gets a complete response, unless the app "
     "raised after starting it"},
    {"content-length", "the body length equals Content-Length when the header is set"},
    {"head-no-body",
     "no body bytes of a HEAD response reach the client (the server strips what the app sends)"},
    {"no-send-after-disconnect",
     "reported (a warning by default) when an app keeps producing after it saw "
     "http.disconnect"},
    {"disconnect-sticky", "after http.disconnect, every later receive returns http.disconnect"},
    {"receive-order",
     "http.request messages end with more_body false or are cut short by http.disconnect; after "
     "either, only http.disconnect"},
    {"background-complete",
     "every background task that was scheduled runs to completion, whether or not the "
     "client stayed"},
    {"cleanup-runs",
     "every context manager entered exits and its exit runs to the end; it sees a cancellation "
     "only if the client left before the response completed"},
    {"iterator-closed",
     "a body iterator's finally runs before its request's app call ends, not when the loop shuts "
     "down or a finalizer gets to it"},
    {"response-not-delayed", "the response's completion (more_body false) does not wait for background work"},
    {"truncated-not-complete",
     "a response whose app failed while sending its body does not reach the client as a complete one"},
    {"no-deadlock", "the run never reaches a state where tasks are blocked and nothing can wake them"},
    {"liveness", "every request finishes within the run's step and virtual-time budgets"},
    {"no-swallowed-error",
     "an exception in an endpoint or middleware surfaces as a 500 or a raised error, never "
     "as silence"},
    {"request-latency", "every request the client did not abandon completes within the latency budget"},
    {"threads-bounded", "worker threads never exceed the pool's documented bound"},
    {"memory-budget", "peak retained memory stays within the deployment's memory budget"},
    {"deterministic", "the same seed gives the same trace hash"},
};

bool is_protocol_id(std::string_view id) {
  return std::ranges::find(core::kProtocolInvariantIds, id) != core::kProtocolInvariantIds.end() &&
         id != core::invariant_id::kMessageType;
}

bool is_engine_id(std::string_view id) {
  return id == "no-deadlock" || id == "liveness" || id == "deterministic";
}

// The shared protocol validator, passing on only the ids a scenario asked
// for (and message-type, a malformed message being a failure whatever was
// asked). The validator reports into a private observer, drained each time.
class FilteredProtocolValidator final : public core::Checker {
 public:
  FilteredProtocolValidator(core::ProtocolValidatorOptions options, std::set<std::string, std::less<>> ids)
      : validator_(options), ids_(std::move(ids)) {
    ids_.insert(std::string(core::invariant_id::kMessageType));
  }

  void observe(const core::Observation& observation, core::Observer& observer) override {
    validator_.observe(observation, scratch_);
    const auto& found = scratch_.violations();
    for (; forwarded_ < found.size(); ++forwarded_) {
      if (ids_.contains(found[forwarded_].invariant)) observer.report(found[forwarded_]);
    }
  }

 private:
  core::ProtocolValidator validator_;
  std::set<std::string, std::less<>> ids_;
  core::Observer scratch_;
  std::size_t forwarded_ = 0;
};

// Bounds on a value some layer reports (threads now, bytes retained now):
// the first time a layer goes over, a violation; the peak goes in the detail
// of the report made at the end.
class BoundChecker final : public core::Checker {
 public:
  BoundChecker(std::string invariant, core::ObservationKind kind, std::uint64_t bound, std::string unit)
      : invariant_(std::move(invariant)), kind_(kind), bound_(bound), unit_(std::move(unit)) {}

  void observe(const core::Observation& o, core::Observer&) override {
    if (o.kind != kind_) return;
    Layer& layer = layers_[o.layer];
    if (o.value > layer.peak) layer.peak = o.value;
    if (o.value > bound_ && !layer.over_at_ns) {
      layer.over_at_ns = o.time_ns;
      layer.request = o.request;
    }
  }

  void finish(core::Observer& observer) override {
    for (const auto& [name, layer] : layers_) {
      if (!layer.over_at_ns) continue;
      observer.report({.invariant = invariant_,
                       .layer = name,
                       .request = layer.request,
                       .time_ns = *layer.over_at_ns,
                       .detail = fmt::format("'{}' went over the bound of {} {} at {} ns and peaked at {} {}",
                                             name, bound_, unit_, *layer.over_at_ns, layer.peak, unit_),
                       .warning = false});
    }
  }

 private:
  struct Layer {
    std::uint64_t peak = 0;
    std::optional<sim::Nanoseconds> over_at_ns{};
    core::RequestId request = 0;
  };
  std::string invariant_;
  core::ObservationKind kind_;
  std::uint64_t bound_;
  std::string unit_;
  std::map<std::string, Layer, std::less<>> layers_;
};

template <class T>
const T& require(const std::optional<T>& param, std::string_view id, std::string_view name) {
  if (!param) throw std::invalid_argument(fmt::format("invariant '{}' needs CheckerParams::{}", id, name));
  return *param;
}

}  // namespace

const std::vector<std::string_view>& invariant_ids() {
  static const std::vector<std::string_view> ids = [] {
    std::vector<std::string_view> out;
    for (const InvariantRow& row : kInvariants) out.push_back(row.id);
    return out;
  }();
  return ids;
}

std::string_view invariant_description(std::string_view id) {
  for (const InvariantRow& row : kInvariants) {
    if (row.id == id) return row.description;
  }
  return {};
}

void install_checkers(core::Observer& observer, const std::vector<std::string>& ids,
                      const CheckerParams& params) {
  std::set<std::string, std::less<>> protocol;
  std::set<std::string, std::less<>> seen;
  for (const std::string& id : ids) {
    if (invariant_description(id).empty()) throw std::invalid_argument("unknown invariant id '" + id + "'");
    if (!seen.insert(id).second || is_engine_id(id)) continue;
    if (is_protocol_id(id)) {
      protocol.insert(id);
    } else if (id == "response-complete") {
      observer.add(detail::make_response_complete());
    } else if (id == "background-complete") {
      observer.add(detail::make_background_complete());
    } else if (id == "cleanup-runs") {
      observer.add(detail::make_cleanup_runs());
    } else if (id == "iterator-closed") {
      observer.add(detail::make_iterator_closed());
    } else if (id == "response-not-delayed") {
      observer.add(detail::make_response_not_delayed());
    } else if (id == "truncated-not-complete") {
      observer.add(detail::make_truncated_not_complete());
    } else if (id == "no-swallowed-error") {
      observer.add(detail::make_no_swallowed_error());
    } else if (id == "request-latency") {
      observer.add(detail::make_request_latency(require(params.latency_budget_ns, id, "latency_budget_ns")));
    } else if (id == "threads-bounded") {
      observer.emplace<BoundChecker>(id, core::ObservationKind::thread_started,
                                     require(params.threads_bound, id, "threads_bound"), "threads");
    } else if (id == "memory-budget") {
      observer.emplace<BoundChecker>(id, core::ObservationKind::memory_retained,
                                     require(params.memory_budget_bytes, id, "memory_budget_bytes"), "bytes");
    }
  }
  if (!protocol.empty()) {
    observer.emplace<FilteredProtocolValidator>(
        core::ProtocolValidatorOptions{.send_after_disconnect_is_error =
                                           params.send_after_disconnect_is_error},
        std::move(protocol));
  }
}

}  // namespace asgisim::scenarios
