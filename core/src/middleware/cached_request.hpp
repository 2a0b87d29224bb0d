// starlette.middleware.base._CachedRequest (0.28.0, PR #1692): the Request
// BaseHTTPMiddleware's dispatch() gets from the cached_body behaviour on.
// It adds only wrapped_receive, which replays downstream what dispatch
// already read, so that the endpoint does not wait for a body that is gone
// (encode/starlette#847, DESIGN.md catalogue entry 4), and the two flags
// that remember what it has passed on.
#pragma once

#include <optional>
#include <utility>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/request.hpp"

namespace asgisim::core {

class CachedRequest : public Request {
 public:
  // `super().__init__(scope, receive)`: a Request with 0.28's stream rule.
  // `remembers_disconnect`: 0.38.3+ (PR #2620), a disconnect wrapped_receive
  // read from receive() after the body is remembered too, so later calls do
  // not receive again.
  CachedRequest(Scope& scope, Receive receive, bool remembers_disconnect)
      : Request(scope, std::move(receive), {}, StreamConsumedRule::on_last),
        remembers_disconnect_(remembers_disconnect) {}

  // What the downstream app and the outer response receive:
  //   - after a disconnect was passed on: http.disconnect;
  //   - after the body was passed on: http.disconnect if this request saw
  //     one, else the next message of receive() (which must be one);
  //   - body() was read in dispatch: that body, more_body false;
  //   - stream() was read to the end in dispatch: b"", more_body false;
  //   - otherwise the next chunk, read through a new stream(); a
  //     ClientDisconnect becomes http.disconnect.
  // The cancellation of its wait for the disconnect comes back as nullopt
  // (receive_or_cancelled()); any other Cancelled is raised.
  std::optional<Message> wrapped_receive_or_cancelled();

 private:
  bool wrapped_receive_disconnected_ = false;
  bool wrapped_receive_consumed_ = false;
  bool remembers_disconnect_;
};

}  // namespace asgisim::core
