// The request that BaseHTTPMiddleware's dispatch() receives:
// starlette.requests.Request with the body-reading rule of its era, plus
// _CachedRequest.wrapped_receive (Starlette 0.28.0, PR #1692), which replays
// downstream what dispatch already read, so that the endpoint does not wait
// for a body that is gone (encode/starlette#847, DESIGN.md catalogue entry 4).
//
//   Response dispatch(DispatchRequest& request, const CallNext& call_next) {
//     log(request.body());             // cached; the endpoint still gets it (0.28+)
//     return call_next(request);
//   }
//
// core::Request models requests.py of 0.26.1, where stream() marks the stream
// consumed as soon as it starts; _CachedRequest needs 0.28's rule (consumed
// when the last http.request arrives, so that it can read one message at a
// time) and its private flags, hence this class. Its accessors mirror
// core::Request's, so dispatch code reads the same as endpoint code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/request.hpp"

namespace asgisim::core {

// When Request.stream() marks the request's stream consumed.
enum class StreamConsumedRule : std::uint8_t {
  on_start,  // up to 0.27: as soon as reading starts (a second stream() raises)
  on_last,   // 0.28+ (PR #1692): when the last http.request (more_body false) arrives
};

class DispatchRequest {
 public:
  // `receive` may be empty (Starlette's empty_receive).
  DispatchRequest(Scope& scope, Receive receive, StreamConsumedRule rule);
  DispatchRequest(const DispatchRequest&) = delete;
  DispatchRequest& operator=(const DispatchRequest&) = delete;

  Scope& scope() const { return *scope_; }
  const std::string& method() const { return scope_->method; }
  const Headers& headers() const { return scope_->headers; }
  std::optional<std::string> header(std::string_view name) const { return get_header(scope_->headers, name); }
  const QueryParams& query_params();
  const std::map<std::string, PathParam>& path_params() const { return scope_->path_params; }
  std::string url() const { return url_from_scope(*scope_); }
  std::map<std::string, std::string>& state() { return scope_->state; }
  // request.receive: the receive channel the middleware was called with.
  const Receive& receive() const { return receive_; }

  // The async generator request.stream() returns, as core::Request::Stream,
  // with this request's StreamConsumedRule. Under on_last a generator whose
  // request got its last message through another generator ends (yields
  // b"" and stops), as `while not self._stream_consumed` does.
  class Stream {
   public:
    std::optional<Bytes> next();

   private:
    friend class DispatchRequest;
    enum class State : std::uint8_t { fresh, cached_tail, receiving, final_empty, done };
    explicit Stream(DispatchRequest& request) : request_(&request) {}
    DispatchRequest* request_;
    State state_ = State::fresh;
  };
  Stream stream() { return Stream(*this); }
  // The whole body, read through stream() once and then cached.
  Bytes body();
  // json.loads(body), checked (see check_json); cached.
  std::string json();
  // A zero-time peek at receive() in an already-cancelled scope; sticky.
  bool is_disconnected();

  // _CachedRequest.wrapped_receive (0.28.0): what the downstream app and the
  // outer response receive in the cached_body and fixed behaviours.
  //   - after a disconnect was passed on: http.disconnect;
  //   - after the body was passed on: http.disconnect if this request saw
  //     one, else the next message of receive() (which must be one);
  //   - body() was read in dispatch: that body, more_body false;
  //   - stream() was read to the end in dispatch: b"", more_body false;
  //   - otherwise the next chunk, read through a new stream(); a
  //     ClientDisconnect becomes http.disconnect.
  Message wrapped_receive();
  // 0.38.3+ (PR #2620): a disconnect wrapped_receive read from receive()
  // after the body is remembered too, so later calls do not receive again.
  void remember_wrapped_disconnect() { remember_wrapped_disconnect_ = true; }

  // The flags _CachedRequest reads (Request._stream_consumed, _is_disconnected, _body).
  bool stream_consumed() const { return stream_consumed_; }
  bool disconnected() const { return is_disconnected_; }
  const std::optional<Bytes>& cached_body() const { return body_; }

 private:
  Message receive_message();

  Scope* scope_;
  Receive receive_;
  StreamConsumedRule rule_;
  bool stream_consumed_ = false;
  bool is_disconnected_ = false;
  std::optional<Bytes> body_{};
  std::optional<std::string> json_{};
  std::optional<QueryParams> query_params_{};
  // _CachedRequest's own state.
  bool wrapped_receive_disconnected_ = false;
  bool wrapped_receive_consumed_ = false;
  bool remember_wrapped_disconnect_ = false;
};

}  // namespace asgisim::core
