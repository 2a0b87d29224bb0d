// What the observations say about each request, gathered once per checker:
// whether the client got the whole response or left first, whether the app
// raised, and which ASGI boundaries saw the final body. Internal to the
// checkers (scenarios/src).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "asgisim/core/observe.hpp"

namespace asgisim::scenarios::detail {

// An observation's place in the run: its order and its virtual time.
struct Moment {
  std::uint64_t sequence = 0;
  sim::Nanoseconds time_ns = 0;
};

struct RequestFacts {
  std::string what{};                       // "GET /items", from request_started
  std::optional<Moment> started{};          // the server started the app call
  std::optional<Moment> client_left{};      // client_disconnected
  std::optional<Moment> client_complete{};  // client_got_complete
  std::optional<Moment> server_complete{};  // response_completed
  std::optional<Moment> app_raised{};
  std::optional<Moment> server_500{};
  std::optional<Moment> connection_closed{};
  std::string closed_why{};
  int client_status = 0;             // client_got_start
  bool error_response_sent = false;  // a start with status >= 400 crossed some boundary
  // Boundary layer ("outer->inner") -> when its final body (more_body false) was sent.
  std::map<std::string, Moment> final_body{};
  std::vector<std::string> boundaries{};  // in first-seen order

  // The client closed the connection before it had the whole response.
  bool left_early() const {
    return client_left && (!client_complete || client_left->sequence < client_complete->sequence);
  }
  // The error surfaced where someone can see it.
  bool error_surfaced() const {
    return app_raised || server_500 || connection_closed || client_status >= 400 || error_response_sent;
  }
};

// Splits "outer->inner"; false for a layer that is not a boundary.
bool split_boundary(const std::string& layer, std::string& outer, std::string& inner);

class RequestLedger {
 public:
  // Updates the facts; returns the observation's moment.
  Moment record(const core::Observation& observation);
  RequestFacts* find(core::RequestId request);
  const std::map<core::RequestId, RequestFacts>& requests() const { return requests_; }
  sim::Nanoseconds last_time_ns() const { return last_time_ns_; }

  // The layer that held back a final body: the inner app of the outermost
  // boundary whose final body came late (or never) while the boundary just
  // inside it sent it by `before` (any time, when unset). Empty if the
  // boundaries do not say.
  static std::string layer_holding_final_body(const RequestFacts& facts, std::optional<std::uint64_t> before);
  // The layer right above `layer` in the request's chain ("server" for the
  // outermost app); empty if no boundary names it.
  static std::string caller_of(const RequestFacts& facts, const std::string& layer);
  // The innermost layer the boundaries name (an inner app that is never an
  // outer one); empty without boundaries.
  static std::string innermost(const RequestFacts& facts);
  // "server -> A -> B -> endpoint", for reports.
  static std::string chain(const RequestFacts& facts);

 private:
  std::map<core::RequestId, RequestFacts> requests_;
  std::uint64_t sequence_ = 0;
  sim::Nanoseconds last_time_ns_ = 0;
};

}  // namespace asgisim::scenarios::detail
