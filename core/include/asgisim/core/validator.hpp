// The ASGI protocol validator: a pass-through wrapper that can be inserted at
// every boundary of a stack (server/app, and between each pair of middleware)
// to report every message crossing it, and the Checker that judges those
// messages against the legal order per direction and blames the layer that
// broke it.
//
//   Observer observer;
//   observer.emplace<ProtocolValidator>();
//   App app = validated_chain({{"ServerErrorMiddleware", server_errors},
//                              {"Timing", timing}}, endpoint, observer);
//   // boundaries: server->ServerErrorMiddleware, ServerErrorMiddleware->Timing,
//   //             Timing->endpoint
//
// Who is blamed: for a message the inner app passed to send() the inner app;
// for a message the inner app's receive() returned, the outer side (the server
// or the middleware that built that receive).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"

namespace asgisim::core {

// The invariant ids this validator reports (DESIGN.md's table), plus
// `message-type`, its own: a message whose type does not belong to the scope
// (a lifespan message in an http scope) or to the direction (an app sending
// http.request).
namespace invariant_id {
inline constexpr std::string_view kStartOnce = "start-once";
inline constexpr std::string_view kBodyAfterStart = "body-after-start";
inline constexpr std::string_view kContentLength = "content-length";
inline constexpr std::string_view kHeadNoBody = "head-no-body";
inline constexpr std::string_view kNoSendAfterDisconnect = "no-send-after-disconnect";
inline constexpr std::string_view kDisconnectSticky = "disconnect-sticky";
inline constexpr std::string_view kReceiveOrder = "receive-order";
inline constexpr std::string_view kMessageType = "message-type";
}  // namespace invariant_id

inline constexpr std::array<std::string_view, 8> kProtocolInvariantIds{
    invariant_id::kStartOnce,    invariant_id::kBodyAfterStart,        invariant_id::kContentLength,
    invariant_id::kHeadNoBody,   invariant_id::kNoSendAfterDisconnect, invariant_id::kDisconnectSticky,
    invariant_id::kReceiveOrder, invariant_id::kMessageType,
};

// Wraps `inner` so that every message crossing the boundary between
// `outer_name` and `inner_name` is reported to `observer`, then passed on
// unchanged (exceptions from receive/send/inner pass through untouched):
//   - ObservationKind::received: what the inner app's receive() returned,
//   - ObservationKind::sent: what the inner app passed to send() (reported
//     before it is forwarded, so inner boundaries come first in the log).
// Each such observation carries
//   layer   = "<outer_name>-><inner_name>" (names must not contain "->"),
//   request = scope.request_id when the call started,
//   detail  = "<scope.type> <scope.method>" (e.g. "http HEAD"; the checker
//             needs the scope type and the method),
//   value   = this wrapper's call number, from 1 (so two app calls for the
//             same request at one boundary are judged separately).
// App return and raise are not reported here: the server reports them at the
// outermost boundary, and the protocol order does not depend on them.
App validate_boundary(App inner, std::string outer_name, std::string inner_name, Observer& observer);

// A middleware with the name it is blamed by. `wrap` turns the app below it
// into the middleware's app (Starlette's `Middleware(cls, **options)`).
struct NamedMiddleware {
  std::string name{};
  std::function<App(App)> wrap{};
};

// The outer name of the outermost boundary validated_chain builds by default.
inline constexpr std::string_view kServerLayer = "server";

// Builds `middleware[0](middleware[1](... endpoint))` (the first entry is the
// outermost, as in Starlette's `middleware=[...]`) with a validate_boundary
// at every boundary: server->m0, m0->m1, ..., mN->endpoint. Names should be
// distinct, or two boundaries share one layer name.
App validated_chain(std::vector<NamedMiddleware> middleware, App endpoint, Observer& observer,
                    std::string endpoint_name = "endpoint",
                    std::string server_name = std::string(kServerLayer));

struct ProtocolValidatorOptions {
  // Report `no-send-after-disconnect` as a failure instead of a warning
  // (Violation::warning). The spec allows the send (the server drops it), so
  // by default it is only worth knowing.
  bool send_after_disconnect_is_error = false;
  // Judge message types against the scope type and direction
  // (`message-type`). Scope types other than http and lifespan are never judged.
  bool check_message_types = true;
  // Report a violation again at every boundary it crosses. By default a
  // violation that only repeats one already reported for the same request at
  // the adjacent boundary (a pass-through middleware forwarding a bad
  // message) is not reported: the layer nearest the cause is blamed once.
  bool report_echoes = false;
};

// Judges the received/sent observations of every boundary. State is kept per
// (boundary, request, call); per such conversation it reports the first
// failure only, and at most one warning (a warning does not hide a later
// failure; a failure ends the conversation's judging). A bad message that a
// middleware passes on is blamed once, at the boundary nearest its cause (see
// ProtocolValidatorOptions::report_echoes). Only protocol order is
// judged here: whether a response was completed at all (`response-complete`)
// is the scenario layer's business, so finish() reports nothing.
//
// http scopes, sent (inner app to blame):
//   start-once       a second http.response.start
//   body-after-start http.response.body before start, or after the final one
//   content-length   body bytes differ from Content-Length: as soon as they
//                    exceed it, or at the final body when short (not judged
//                    for HEAD requests and 304 responses, whose header
//                    describes a body they do not carry)
//   no-send-after-disconnect  start/body after the app's receive() returned
//                    http.disconnect (a warning unless configured)
// http scopes, received (outer side to blame):
//   disconnect-sticky  anything but http.disconnect after http.disconnect
//   receive-order      http.request after the one with more_body=false
// Both directions: message-type (see above).
// On the wire (server to blame; an app MAY send a body for HEAD, uvicorn
// strips it, so it is judged where the server writes, from the client's
// observations, not at a boundary):
//   head-no-body     the client of a HEAD request received body bytes
class ProtocolValidator final : public Checker {
 public:
  explicit ProtocolValidator(ProtocolValidatorOptions options = {}) : options_(options) {}

  void observe(const Observation& observation, Observer& observer) override;

  // How many (boundary, request, call) conversations have been seen.
  std::size_t conversations() const { return conversations_.size(); }

 private:
  enum class ScopeKind : std::uint8_t { unknown, http, lifespan };
  struct Conversation {
    ScopeKind scope = ScopeKind::unknown;
    bool head = false;  // the request method is HEAD
    bool start_sent = false;
    bool response_done = false;  // the final body (more_body=false) was sent
    int status = 0;
    std::optional<std::uint64_t> content_length{};
    std::uint64_t body_bytes = 0;  // body bytes sent so far
    bool request_done = false;     // http.request with more_body=false received
    bool disconnected = false;     // http.disconnect received
    bool failed = false;           // a failure was reported: stop judging
    bool warned = false;           // a warning was reported
  };
  // (interned boundary name, request id, call number)
  using Key = std::tuple<std::uint32_t, RequestId, std::uint64_t>;

  Conversation& conversation(const Observation& observation);
  void judge_sent(Conversation& state, const Message& message, const Observation& observation,
                  Observer& observer);
  void judge_received(Conversation& state, const Message& message, const Observation& observation,
                      Observer& observer);
  void report(Conversation& state, const Observation& observation, Observer& observer,
              std::string_view invariant, std::string detail, bool warning = false);
  void judge_wire(const Observation& observation, Observer& observer);

  ProtocolValidatorOptions options_;
  std::map<std::string, std::uint32_t, std::less<>> boundary_ids_;
  std::map<Key, Conversation> conversations_;
  // Violations reported (or suppressed as echoes) so far, for echo detection:
  // (sent?, request, invariant, the boundary's outer name for sent, inner
  // name for received: the name an echo's boundary would be adjacent to).
  std::set<std::tuple<bool, RequestId, std::string, std::string>> reported_;
  std::set<RequestId> head_requests_;  // requests the server started with method HEAD
  std::set<RequestId> head_reported_;  // head-no-body reported once per request
};

}  // namespace asgisim::core
