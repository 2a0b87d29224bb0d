// The checkers of the invariants about requests and the work done on their
// behalf: response-complete, background-complete, cleanup-runs,
// response-not-delayed, no-swallowed-error, request-latency.
#include "request_checkers.hpp"
#include "request_facts.hpp"

#include "asgisim/core/async_generator.hpp"
#include "asgisim/core/validator.hpp"

#include <fmt/format.h>

#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace asgisim::scenarios::detail {
namespace {

using core::Observation;
using core::ObservationKind;
using core::Observer;
using core::RequestId;

std::string describe_request(RequestId request, const RequestFacts* facts) {
  if (facts == nullptr || facts->what.empty()) return fmt::format("request {}", request);
  return fmt::format("request {} ({})", request, facts->what);
}

// How the client's side of a request ended, for reports.
std::string client_story(const RequestFacts& facts) {
  if (facts.client_complete) return fmt::format("the client got a complete {} response", facts.client_status);
  if (facts.left_early()) return fmt::format("the client left at {} ns", facts.client_left->time_ns);
  if (facts.client_status != 0)
    return fmt::format("the client got status {} but not the whole body", facts.client_status);
  return "the client got nothing";
}

// ---- response-complete ---------------------------------------------------------

class ResponseComplete final : public core::Checker {
 public:
  void observe(const Observation& o, Observer&) override { ledger_.record(o); }

  void finish(Observer& observer) override {
    for (const auto& [request, facts] : ledger_.requests()) {
      if (!facts.started || facts.client_complete || facts.left_early() || facts.app_raised) continue;
      std::string layer = RequestLedger::layer_holding_final_body(facts, std::nullopt);
      if (layer.empty()) layer = "app";
      std::string detail = fmt::format("{}: the client neither got a complete response nor left; {}",
                                       describe_request(request, &facts), client_story(facts));
      if (facts.connection_closed)
        detail += fmt::format("; the server closed the connection: {}", facts.closed_why);
      if (!facts.final_body.empty() && layer != "app")
        detail += fmt::format("; '{}' never passed the final body on", layer);
      observer.report({.invariant = "response-complete",
                       .layer = layer,
                       .request = request,
                       .time_ns = ledger_.last_time_ns(),
                       .detail = std::move(detail),
                       .warning = false});
    }
  }

 private:
  RequestLedger ledger_;
};

// ---- background-complete -------------------------------------------------------

class BackgroundComplete final : public core::Checker {
 public:
  void observe(const Observation& o, Observer& observer) override {
    ledger_.record(o);
    if (o.kind == ObservationKind::app_raised || o.kind == ObservationKind::error_raised)
      raised_.insert(o.request);
    if (o.reporter != core::Reporter::background_task) return;
    const auto key = std::make_pair(o.request, name_of(o));
    switch (o.kind) {
      case ObservationKind::background_scheduled:
        ++tasks_[key].scheduled;
        break;
      case ObservationKind::background_started:
        ++tasks_[key].started;
        break;
      case ObservationKind::background_finished:
        ++tasks_[key].ended;
        break;
      case ObservationKind::error_raised:
        ++tasks_[key].ended;
        break;  // no-swallowed-error's business
      case ObservationKind::background_cancelled: {
        ++tasks_[key].ended;
        const RequestFacts* facts = ledger_.find(o.request);
        observer.report(
            {.invariant = "background-complete",
             .layer = "BackgroundTask",
             .request = o.request,
             .time_ns = o.time_ns,
             .detail = fmt::format("background task '{}' of {} was cancelled before it finished ({}{})",
                                   key.second, describe_request(o.request, facts),
                                   facts ? client_story(*facts) : std::string("no client seen"),
                                   facts && !facts->boundaries.empty()
                                       ? "; cancelled from a layer of " + RequestLedger::chain(*facts)
                                       : std::string()),
             .warning = false});
        break;
      }
      default:
        break;
    }
  }

  void finish(Observer& observer) override {
    for (const auto& [key, counts] : tasks_) {
      if (counts.ended >= counts.scheduled) continue;
      // A task that never started because its own response raised first is
      // a consequence of that error (no-swallowed-error judges it), not work lost.
      const bool never_started = counts.started < counts.scheduled;
      if (never_started && counts.started == counts.ended && raised_.contains(key.first)) continue;
      const std::string what = never_started ? "never started" : "never finished";
      observer.report(
          {.invariant = "background-complete",
           .layer = "BackgroundTask",
           .request = key.first,
           .time_ns = ledger_.last_time_ns(),
           .detail = fmt::format("background task '{}' of {} was scheduled but {} ({} of {} ended)",
                                 key.second, describe_request(key.first, ledger_.find(key.first)), what,
                                 counts.ended, counts.scheduled),
           .warning = false});
    }
  }

 private:
  // BackgroundTask's detail is "name" or "name: more".
  static std::string name_of(const Observation& o) { return o.detail.substr(0, o.detail.find(": ")); }

  struct Counts {
    std::uint64_t scheduled = 0, started = 0, ended = 0;
  };
  RequestLedger ledger_;
  std::map<std::pair<RequestId, std::string>, Counts> tasks_;
  std::set<RequestId> raised_;  // requests whose app (or a layer of it) raised
};

// ---- cleanup-runs --------------------------------------------------------------

class CleanupRuns final : public core::Checker {
 public:
  void observe(const Observation& o, Observer& observer) override {
    const Moment now = ledger_.record(o);
    if (o.kind != ObservationKind::context_entered && o.kind != ObservationKind::context_exited &&
        o.kind != ObservationKind::context_exit_cancelled &&
        !(o.kind == ObservationKind::error_raised && open_.count(key(o)) > 0)) {
      return;
    }
    const auto k = key(o);
    if (o.kind == ObservationKind::context_entered) {
      open_[k].push_back(now);
      return;
    }
    if (open_[k].empty()) return;  // an exit we never saw enter: not ours to judge
    open_[k].pop_back();
    const RequestFacts* facts = ledger_.find(o.request);
    const bool may_see_cancel = facts != nullptr && facts->left_early();
    if (o.kind == ObservationKind::context_exit_cancelled) {
      report(observer, o,
             fmt::format("the exit of '{}' in {} was cut short by a cancellation ({})", std::get<2>(k),
                         describe_request(o.request, facts),
                         facts ? client_story(*facts) : std::string("no client seen")));
    } else if (o.kind == ObservationKind::context_exited && o.value == 1 && !may_see_cancel) {
      report(observer, o,
             fmt::format("the exit of '{}' in {} saw a cancellation although the client did not leave "
                         "before the response completed ({})",
                         std::get<2>(k), describe_request(o.request, facts),
                         facts ? client_story(*facts) : std::string("no client seen")));
    }
  }

  void finish(Observer& observer) override {
    for (const auto& [k, entries] : open_) {
      for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& [request, layer, name] = k;
        observer.report(
            {.invariant = "cleanup-runs",
             .layer = layer,
             .request = request,
             .time_ns = ledger_.last_time_ns(),
             .detail = fmt::format("'{}' in {} was entered at {} ns and its exit never ran to the end", name,
                                   describe_request(request, ledger_.find(request)), entries[i].time_ns),
             .warning = false});
      }
    }
  }

 private:
  using Key = std::tuple<RequestId, std::string, std::string>;  // request, layer, context manager
  static Key key(const Observation& o) {
    return {o.request, o.layer, o.detail.substr(0, o.detail.find(": "))};
  }

  static void report(Observer& observer, const Observation& o, std::string detail) {
    observer.report({.invariant = "cleanup-runs",
                     .layer = o.layer,
                     .request = o.request,
                     .time_ns = o.time_ns,
                     .detail = std::move(detail),
                     .warning = false});
  }

  RequestLedger ledger_;
  std::map<Key, std::vector<Moment>> open_;
};

// ---- response-not-delayed ------------------------------------------------------

// The completion waited for background work when it came after a background
// task of the same request finished and later in virtual time than that task
// started: the response was held for as long as the task ran. A correct
// stack completes in the same virtual instant the endpoint sends the final
// body, whatever order the scheduler runs the two sides in, so a background
// task that takes time cannot finish first. (Flow control can also delay a
// completion; scenarios keep bodies under the write buffer's high mark.)
class ResponseNotDelayed final : public core::Checker {
 public:
  void observe(const Observation& o, Observer& observer) override {
    const Moment now = ledger_.record(o);
    if (o.request == 0) return;
    if (o.kind == ObservationKind::background_started) started_[o.request].push_back(now);
    if (o.kind == ObservationKind::background_finished && !started_[o.request].empty()) {
      finished_[o.request].push_back({started_[o.request].front(), now});
    }
    if (o.kind != ObservationKind::response_completed) return;
    for (const auto& [started, finished] : finished_[o.request]) {
      if (now.time_ns <= started.time_ns) continue;
      const RequestFacts* facts = ledger_.find(o.request);
      std::string layer =
          facts ? RequestLedger::layer_holding_final_body(*facts, started.sequence) : std::string();
      if (layer.empty()) layer = "app";
      observer.report(
          {.invariant = "response-not-delayed",
           .layer = layer,
           .request = o.request,
           .time_ns = o.time_ns,
           .detail = fmt::format("{}: the response completed at {} ns, after its background work "
                                 "(started at {} ns, finished at {} ns); the final body was held back{}",
                                 describe_request(o.request, facts), now.time_ns, started.time_ns,
                                 finished.time_ns, layer == "app" ? "" : " by '" + layer + "'"),
           .warning = false});
      return;
    }
  }

 private:
  RequestLedger ledger_;
  std::map<RequestId, std::vector<Moment>> started_;
  std::map<RequestId, std::vector<std::pair<Moment, Moment>>> finished_;
};

// ---- no-swallowed-error --------------------------------------------------------

class NoSwallowedError final : public core::Checker {
 public:
  void observe(const Observation& o, Observer&) override {
    ledger_.record(o);
    if (o.kind == ObservationKind::error_raised && o.request != 0) errors_.push_back(o);
  }

  void finish(Observer& observer) override {
    for (const Observation& error : errors_) {
      const RequestFacts* facts = ledger_.find(error.request);
      if (facts != nullptr && facts->error_surfaced()) continue;
      if (!reported_.insert(error.request).second) continue;  // one per request
      // The layer that swallowed it: the caller of the raising layer, or
      // (when that layer's boundary saw no message) the innermost one seen.
      std::string layer = facts ? RequestLedger::caller_of(*facts, error.layer) : std::string();
      if (layer.empty() && facts) layer = RequestLedger::innermost(*facts);
      if (layer.empty() || layer == core::kServerLayer) layer = error.layer;
      observer.report(
          {.invariant = "no-swallowed-error",
           .layer = layer,
           .request = error.request,
           .time_ns = error.time_ns,
           .detail = fmt::format("'{}' raised in {} ({}), but the request ended without a 500, an error "
                                 "response, a raised app call or a closed connection; {}{}",
                                 error.layer, describe_request(error.request, facts), error.detail,
                                 facts ? client_story(*facts) : std::string("no client seen"),
                                 facts && !facts->boundaries.empty()
                                     ? "; swallowed by a layer of " + RequestLedger::chain(*facts)
                                     : std::string()),
           .warning = false});
    }
  }

 private:
  RequestLedger ledger_;
  std::vector<Observation> errors_;
  std::set<RequestId> reported_;
};

// ---- iterator-closed ---------------------------------------------------------------

class IteratorClosed final : public core::Checker {
 public:
  void observe(const Observation& o, Observer& observer) override {
    ledger_.record(o);
    if (o.kind == ObservationKind::app_returned || o.kind == ObservationKind::app_raised) {
      app_ended_.emplace(o.request, o.time_ns);
      return;
    }
    if (o.kind != ObservationKind::iterator_closed ||
        o.value == static_cast<std::uint64_t>(core::GeneratorCloser::iterating_task))
      return;
    const auto ended = app_ended_.find(o.request);
    if (o.request == 0 || ended == app_ended_.end()) return;  // closed while its request still ran
    const RequestFacts* facts = ledger_.find(o.request);
    const bool at_shutdown = o.value == static_cast<std::uint64_t>(core::GeneratorCloser::loop_shutdown);
    observer.report(
        {.invariant = "iterator-closed",
         .layer = "StreamingResponse",
         .request = o.request,
         .time_ns = o.time_ns,
         .detail = fmt::format(
             "the finally of body iterator '{}' of {} ran only {} ({}), not before its app "
             "call ended at {} ns ({}): whatever it holds stayed open until then",
             o.layer, describe_request(o.request, facts),
             at_shutdown ? "at the loop's shutdown (shutdown_asyncgens), an exception having "
                           "abandoned it at a yield"
                         : "in the task asyncio's finalizer hook made for it",
             o.detail, ended->second, facts ? client_story(*facts) : std::string("no client seen")),
         .warning = false});
  }

 private:
  RequestLedger ledger_;
  std::map<RequestId, sim::Nanoseconds> app_ended_;
};

// ---- request-latency -----------------------------------------------------------

class RequestLatency final : public core::Checker {
 public:
  explicit RequestLatency(sim::Nanoseconds budget_ns) : budget_ns_(budget_ns) {}

  void observe(const Observation& o, Observer& observer) override {
    ledger_.record(o);
    if (o.kind != ObservationKind::client_got_complete) return;
    const RequestFacts* facts = ledger_.find(o.request);
    if (facts == nullptr || !facts->started) return;
    const sim::Nanoseconds latency_ns = o.time_ns - facts->started->time_ns;
    if (latency_ns > budget_ns_) report(observer, o.request, *facts, latency_ns, "completed after");
  }

  void finish(Observer& observer) override {
    for (const auto& [request, facts] : ledger_.requests()) {
      if (!facts.started || facts.client_complete || facts.left_early()) continue;
      const sim::Nanoseconds waited_ns = ledger_.last_time_ns() - facts.started->time_ns;
      if (waited_ns > budget_ns_) report(observer, request, facts, waited_ns, "still incomplete after");
    }
  }

 private:
  void report(Observer& observer, RequestId request, const RequestFacts& facts, sim::Nanoseconds latency_ns,
              std::string_view what) {
    // The whole stack below the server is to blame: the time went somewhere in it.
    observer.report({.invariant = "request-latency",
                     .layer = "app",
                     .request = request,
                     .time_ns = facts.started->time_ns + latency_ns,
                     .detail = fmt::format("{}: {} {} ms of virtual time, over the budget of {} ms",
                                           describe_request(request, &facts), what,
                                           latency_ns / sim::kMillisecond, budget_ns_ / sim::kMillisecond),
                     .warning = false});
  }

  sim::Nanoseconds budget_ns_;
  RequestLedger ledger_;
};

}  // namespace

std::unique_ptr<core::Checker> make_response_complete() { return std::make_unique<ResponseComplete>(); }
std::unique_ptr<core::Checker> make_background_complete() { return std::make_unique<BackgroundComplete>(); }
std::unique_ptr<core::Checker> make_cleanup_runs() { return std::make_unique<CleanupRuns>(); }
std::unique_ptr<core::Checker> make_iterator_closed() { return std::make_unique<IteratorClosed>(); }
std::unique_ptr<core::Checker> make_response_not_delayed() { return std::make_unique<ResponseNotDelayed>(); }
std::unique_ptr<core::Checker> make_no_swallowed_error() { return std::make_unique<NoSwallowedError>(); }
std::unique_ptr<core::Checker> make_request_latency(sim::Nanoseconds budget_ns) {
  return std::make_unique<RequestLatency>(budget_ns);
}

}  // namespace asgisim::scenarios::detail
