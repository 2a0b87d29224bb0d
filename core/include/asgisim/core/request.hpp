// starlette.requests.Request over a scope and a receive channel: headers,
// query parameters, path parameters, the URL, state, and the body read
// through receive() as Starlette reads it: 0.26.1's requests.py, with the
// one change 0.28.0 made to stream() (StreamConsumedRule).
//
//   Request request(scope, receive);
//   for (auto stream = request.stream(); auto chunk = stream.next();) consume(*chunk);
//   Bytes body = request.body();            // cached; RuntimeError after stream()
//   if (request.is_disconnected()) return;  // a non-blocking peek at receive()
//
// Endpoints and BaseHTTPMiddleware's dispatch() both get a Request& (from
// 0.28, dispatch's is a _CachedRequest, core/src/middleware/cached_request.hpp).
//
// Errors are Python's: std::runtime_error("Stream consumed") for a second
// read of a consumed stream, std::runtime_error("Receive channel has not been
// made available") without a receive channel, ClientDisconnect when
// http.disconnect arrives while the body is read, JSONDecodeError from json().
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/datastructures.hpp"

namespace asgisim::core {

// starlette.requests.ClientDisconnect: the client went away while the app
// read the body (or, 0.42+, while a StreamingResponse was sending). Derives
// from std::exception only, as it derives from Exception only in Python: a
// `catch (const std::runtime_error&)` does not catch it.
class ClientDisconnect : public std::exception {
 public:
  const char* what() const noexcept override { return "ClientDisconnect"; }
};

// When stream() marks the request's stream consumed (Request._stream_consumed).
enum class StreamConsumedRule : std::uint8_t {
  // Up to 0.27: as soon as reading starts; a second stream() raises even
  // while the first is still reading.
  on_start,
  // 0.28+ (PR #1692): when the last http.request (more_body false) arrives,
  // so that _CachedRequest can read one message at a time; a generator
  // whose request got its last message through another generator ends
  // (`while not self._stream_consumed`). The model gives it to the
  // requests of BaseHTTPMiddleware's dispatch from 0.28; endpoints keep
  // on_start (see docs/fidelity.md).
  on_last,
};

class Request {
 public:
  // `receive`/`send` may be empty (Starlette's empty_receive/empty_send).
  // Throws std::invalid_argument unless scope.type is "http".
  explicit Request(Scope& scope, Receive receive = {}, Send send = {},
                   StreamConsumedRule rule = StreamConsumedRule::on_start);
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  Scope& scope() const { return *scope_; }
  const std::string& method() const { return scope_->method; }
  const Headers& headers() const { return scope_->headers; }
  // request.headers.get(name): first value, name compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const { return get_header(scope_->headers, name); }
  // Parsed from scope.query_string on first use.
  const QueryParams& query_params();
  const std::map<std::string, PathParam>& path_params() const { return scope_->path_params; }
  // str(request.url) (see url_from_scope).
  std::string url() const { return url_from_scope(*scope_); }
  // request.state: the scope's state dict.
  std::map<std::string, std::string>& state() { return scope_->state; }
  const Receive& receive() const { return receive_; }
  const Send& send() const { return send_; }

  // The async generator that request.stream() returns. Nothing happens until
  // the first next(): then a cached body is replayed (body, then b""), a
  // consumed stream raises "Stream consumed", otherwise receive() is read:
  // each non-empty http.request body is a chunk, the last (more_body false)
  // is followed by one empty chunk, http.disconnect raises ClientDisconnect.
  // Other message types are skipped. An exception ends the generator.
  class Stream {
   public:
    std::optional<Bytes> next();

   private:
    friend class Request;
    enum class State : std::uint8_t { fresh, cached_tail, receiving, final_empty, done };
    explicit Stream(Request& request) : request_(&request) {}
    Request* request_;
    State state_ = State::fresh;
  };
  Stream stream() { return Stream(*this); }

  // The whole body, read through stream() once and then cached.
  Bytes body();
  // json.loads(body): the body as JSON text, checked (see check_json); cached.
  std::string json();
  // A zero-time peek: receive() runs in an already-cancelled scope, so only
  // a message that is ready without waiting is taken (and lost if it is not
  // http.disconnect, as in Starlette). Sticky once true.
  bool is_disconnected();

 protected:
  // What _CachedRequest reads: Request._stream_consumed, _is_disconnected, _body.
  bool stream_consumed() const { return stream_consumed_; }
  bool disconnect_seen() const { return is_disconnected_; }
  const std::optional<Bytes>& cached_body() const { return body_; }
  // await self._receive(), raising like empty_receive() without a channel.
  Message receive_message();
  // The same with its cancellation as a value (receive_or_cancelled()).
  std::optional<Message> receive_message_or_cancelled();

 private:
  Scope* scope_;
  Receive receive_;
  Send send_;
  StreamConsumedRule rule_;
  bool stream_consumed_ = false;
  bool is_disconnected_ = false;
  std::optional<Bytes> body_;
  std::optional<std::string> json_;
  std::optional<QueryParams> query_params_;
};

}  // namespace asgisim::core
