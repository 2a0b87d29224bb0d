// The ASGI vocabulary as C++ types: messages, the connection scope, and the
// application signature. Apps run on simulated tasks, so `receive()` and
// `send(message)` look blocking and switch fibers underneath; a middleware
// written against these types reads like its Python original, line by line:
//
//   App logging(App app) {
//     return [app](Scope& scope, const Receive& receive, const Send& send) {
//       app(scope, receive, [&](Message message) {
//         if (message.type == MessageType::http_response_start) note("start");
//         send(std::move(message));
//       });
//     };
//   }
//
// Models the ASGI 3 HTTP and lifespan specifications (asgiref 3.x docs,
// spec_version 2.3 and 2.4).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace asgisim::core {

// Raw bytes (request and response bodies, header values).
using Bytes = std::string;

// Header names are lower-case byte strings, as ASGI servers deliver them.
using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

enum class MessageType : std::uint8_t {
  http_request,
  http_disconnect,
  http_response_start,
  http_response_body,
  lifespan_startup,
  lifespan_startup_complete,
  lifespan_startup_failed,
  lifespan_shutdown,
  lifespan_shutdown_complete,
  lifespan_shutdown_failed,
};

// "http.request", "http.response.start", ...
std::string_view to_string(MessageType type);
// The inverse; nullopt for a type string no ASGI spec defines.
std::optional<MessageType> parse_message_type(std::string_view text);

struct Message {
  MessageType type = MessageType::http_disconnect;
  Bytes body{};            // http.request / http.response.body
  bool more_body = false;  // http.request / http.response.body
  int status = 0;          // http.response.start
  Headers headers{};       // http.response.start
  std::string text{};      // lifespan.*.failed: the message

  static Message request(Bytes body, bool more_body = false) {
    return {.type = MessageType::http_request, .body = std::move(body), .more_body = more_body};
  }
  static Message disconnect() { return {.type = MessageType::http_disconnect}; }
  static Message start(int status, Headers headers = {}) {
    return {.type = MessageType::http_response_start, .status = status, .headers = std::move(headers)};
  }
  static Message body_chunk(Bytes body, bool more_body = false) {
    return {.type = MessageType::http_response_body, .body = std::move(body), .more_body = more_body};
  }
};

// A path parameter after conversion (Starlette's convertors: str and path
// give strings, int an integer, float a double, uuid a canonical string).
using PathParam = std::variant<std::string, std::int64_t, double>;

struct Scope {
  std::string type = "http";  // "http" or "lifespan"
  std::string asgi_version = "3.0";
  std::string spec_version = "2.3";  // what the server advertises
  std::string http_version = "1.1";
  std::string method = "GET";
  std::string scheme = "http";
  std::string path = "/";
  Bytes raw_path;
  Bytes query_string;
  std::string root_path;
  Headers headers;
  std::map<std::string, PathParam> path_params;
  // Starlette's scope["state"] / request.state, as strings.
  std::map<std::string, std::string> state;
  // The route that matched (Starlette puts the endpoint in the scope).
  std::string endpoint_name;
  // asgisim's own: the server numbers requests in arrival order, from 1, so
  // that observations and violations name the request they are about.
  std::uint64_t request_id = 0;
};

using Receive = std::function<Message()>;
using Send = std::function<void(Message)>;
using App = std::function<void(Scope& scope, const Receive& receive, const Send& send)>;

// receive() with the cancellation of its wait as a value: nullopt where
// receive() would raise sim::Cancelled. The receives the stack itself makes
// (the server's, the validator's boundary wrappers, BaseHTTPMiddleware's
// _CachedRequest.wrapped_receive) answer without throwing,
// which spares the unwinding of a waiter cancelled as a matter of course
// (StreamingResponse's disconnect listener, once the body is out); any other
// Receive (an app's own wrapper) is called as it is, and a Cancelled it raises
// goes on. Either way the same waits, wake-ups and observations happen.
std::optional<Message> receive_or_cancelled(const Receive& receive);

namespace detail {

// A receive with a value form, for receive_or_cancelled(). Held in a Receive
// as a SourcedReceive, whose call raises sim::Cancelled for a nullopt.
class ReceiveSource {
 public:
  virtual ~ReceiveSource() = default;
  virtual std::optional<Message> receive_or_cancelled() const = 0;
};

struct SourcedReceive {
  std::shared_ptr<const ReceiveSource> source;
  Message operator()() const;
};

}  // namespace detail

// The first value of header `name` (lower-case), if present.
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

// Raised into an app for a protocol error the server detects (ASGI says the
// server must raise: send after the response completed, a body longer or
// shorter than Content-Length, a message of the wrong type).
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised by the server's send() after the client disconnected, when the
// server is configured to raise (uvicorn 0.28.0's behaviour; the OSError
// that Starlette turns into ClientDisconnect).
class ClientDisconnected : public std::runtime_error {
 public:
  ClientDisconnected() : std::runtime_error("client disconnected") {}
};

}  // namespace asgisim::core
