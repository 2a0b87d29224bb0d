// The checker of truncated-not-complete: a response whose app failed while
// sending its body must not reach the client as a complete one. HTTP/1.1 has
// only one way to tell a client that a body was cut short: end the
// connection without the framing's end (the chunked terminator, or fewer
// bytes than Content-Length). A layer that answers its app's failure with a
// final `more_body=false` message makes the server write that end, and the
// client takes the truncated body for the whole (catalogue entry 9,
// BaseHTTPMiddleware from Starlette 0.46.0).
//
// What it reads: the `sent` messages of the validated boundaries (so it judges
// only stacks built with validators, as the catalogue's are), the
// error_raised an endpoint or middleware reports before raising, the
// server's response_completed and the client's client_got_complete.
//   - The app failed mid-body: an error_raised (not a background task's)
//     while the innermost boundary had passed http.response.start and no
//     final body.
//   - It looked complete: the server completed the response after that
//     error, and the client read the end of the response.
// Blamed: the layer that sent a final body after the error while the
// boundary just inside it had sent none (the one that made the end up).
#include "request_checkers.hpp"
#include "request_facts.hpp"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace asgisim::scenarios::detail {
namespace {

using core::Observation;
using core::ObservationKind;
using core::Observer;
using core::RequestId;

// The app failed mid-body: when, who raised, how much body had come out.
struct MidBodyFailure {
  Moment at{};
  std::string layer{};
  std::string detail{};
  std::string boundary{};  // the innermost boundary
  std::uint64_t body_bytes = 0;
};

class TruncatedNotComplete final : public core::Checker {
 public:
  void observe(const Observation& o, Observer& observer) override {
    const Moment now = ledger_.record(o);
    if (o.request == 0) return;
    switch (o.kind) {
      case ObservationKind::sent:
        if (o.message) track_sent(o.request, o.layer, *o.message);
        break;
      case ObservationKind::error_raised:
        if (o.reporter != core::Reporter::background_task) note_error(o, now);
        break;
      case ObservationKind::client_got_body:
        client_bytes_[o.request] += o.value;
        break;
      case ObservationKind::client_got_complete:
        judge(o, observer);
        break;
      default:
        break;
    }
  }

 private:
  struct BoundaryState {
    bool started = false;
    bool finished = false;  // sent a final body
    std::uint64_t body_bytes = 0;
  };

  void track_sent(RequestId request, const std::string& layer, const core::Message& message) {
    BoundaryState& state = boundaries_[{request, layer}];
    if (message.type == core::MessageType::http_response_start) state.started = true;
    if (message.type != core::MessageType::http_response_body) return;
    state.body_bytes += message.body.size();
    if (!message.more_body) state.finished = true;
  }

  // The boundary between the innermost layer and its caller; empty without one.
  std::string innermost_boundary(const RequestFacts& facts) const {
    const std::string inner = RequestLedger::innermost(facts);
    for (const std::string& boundary : facts.boundaries) {
      std::string outer_name, inner_name;
      if (split_boundary(boundary, outer_name, inner_name) && inner_name == inner) return boundary;
    }
    return {};
  }

  void note_error(const Observation& o, Moment now) {
    const RequestFacts* facts = ledger_.find(o.request);
    if (facts == nullptr || failures_.contains(o.request)) return;
    const std::string boundary = innermost_boundary(*facts);
    const auto state = boundaries_.find({o.request, boundary});
    if (boundary.empty() || state == boundaries_.end()) return;
    if (!state->second.started || state->second.finished) return;  // not mid-body
    failures_.emplace(o.request, MidBodyFailure{.at = now,
                                                .layer = o.layer,
                                                .detail = o.detail,
                                                .boundary = boundary,
                                                .body_bytes = state->second.body_bytes});
  }

  // The layer that sent a final body after `after` while the boundary just
  // inside it (the one whose outer side it is) had sent none; "app" if the
  // boundaries do not say.
  std::string made_up_the_end(const RequestFacts& facts, RequestId request, std::uint64_t after) const {
    for (const auto& [boundary, moment] : facts.final_body) {
      std::string outer_name, inner_name;
      if (moment.sequence <= after || !split_boundary(boundary, outer_name, inner_name)) continue;
      for (const std::string& inside : facts.boundaries) {
        std::string inside_outer, inside_inner;
        if (!split_boundary(inside, inside_outer, inside_inner) || inside_outer != inner_name) continue;
        const auto state = boundaries_.find({request, inside});
        if (state == boundaries_.end() || !state->second.finished) return inner_name;
      }
    }
    return "app";
  }

  void judge(const Observation& o, Observer& observer) {
    const auto failure = failures_.find(o.request);
    const RequestFacts* facts = ledger_.find(o.request);
    if (failure == failures_.end() || facts == nullptr || !reported_.insert(o.request).second) return;
    const MidBodyFailure& failed = failure->second;
    // The server ended the response before the app failed: the end the
    // client read is not the failed body's (a response dispatch replaced).
    if (!facts->server_complete || facts->server_complete->sequence < failed.at.sequence) return;
    const std::string layer = made_up_the_end(*facts, o.request, failed.at.sequence);
    observer.report(
        {.invariant = "truncated-not-complete",
         .layer = layer,
         .request = o.request,
         .time_ns = o.time_ns,
         .detail = fmt::format(
             "request {}{}: '{}' raised ({}) after {} body byte(s) had crossed '{}' without a final body, "
             "yet the client read a complete {} response of {} byte(s); {} sent the final body (more_body "
             "false) after the error",
             o.request, facts->what.empty() ? std::string() : " (" + facts->what + ")", failed.layer,
             failed.detail, failed.body_bytes, failed.boundary, facts->client_status,
             client_bytes_[o.request],
             layer == "app" ? std::string("a layer of the app") : "'" + layer + "'"),
         .warning = false});
  }

  RequestLedger ledger_;
  std::map<std::pair<RequestId, std::string>, BoundaryState> boundaries_;
  std::map<RequestId, MidBodyFailure> failures_;
  std::map<RequestId, std::uint64_t> client_bytes_;
  std::set<RequestId> reported_;
};

}  // namespace

std::unique_ptr<core::Checker> make_truncated_not_complete() {
  return std::make_unique<TruncatedNotComplete>();
}

}  // namespace asgisim::scenarios::detail
