// Responses and background tasks as Starlette has them
// (starlette/responses.py and background.py, 0.26.1; StreamingResponse also
// in its 0.42+ form). A response is an ASGI app: `response(scope, receive,
// send)` sends the start and body messages, then runs its background tasks
// inside the same call, after the body was sent.
//
//   App app = [&](Scope& scope, const Receive& receive, const Send& send) {
//     PlainTextResponse response("hello", {.background = BackgroundTask("audit", audit, {.request = 1})});
//     response(scope, receive, send);
//   };
//
// All state lives in Response; the subclasses only choose defaults, so a
// subclass returned as a Response (an endpoint's result) loses nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"

namespace asgisim::core {

class ThreadPoolRunner;

struct BackgroundOptions {
  // A `def` task: run it through run_in_threadpool instead of on the loop.
  bool sync = false;
  // The pool for a sync task (required then).
  ThreadPoolRunner* threadpool = nullptr;
  // The request that background_scheduled/started/finished/cancelled (and
  // error_raised) name (the scope's request_id); they go to the run's observer.
  RequestId request = 0;
};

// starlette.background.BackgroundTask. Constructing one reports
// background_scheduled; running it reports background_started, then
// background_finished, or background_cancelled when Cancelled passes through
// it, or error_raised when it raises (the exception propagates).
class BackgroundTask {
 public:
  BackgroundTask(std::string name, std::function<void()> function, BackgroundOptions options = {});
  // `await task()`.
  void operator()() const;
  const std::string& name() const { return name_; }

 private:
  void report(ObservationKind kind, std::string detail = {}) const;

  std::string name_;
  std::function<void()> function_;
  BackgroundOptions options_;
};

// starlette.background.BackgroundTasks: runs its tasks one after another; a
// task that raises stops the rest. Empty means "no background".
class BackgroundTasks {
 public:
  BackgroundTasks() = default;
  BackgroundTasks(BackgroundTask task) : tasks_{std::move(task)} {}  // NOLINT: one task where a list goes
  explicit BackgroundTasks(std::vector<BackgroundTask> tasks) : tasks_(std::move(tasks)) {}

  void add_task(BackgroundTask task) { tasks_.push_back(std::move(task)); }
  void operator()() const;
  bool empty() const { return tasks_.empty(); }
  const std::vector<BackgroundTask>& tasks() const { return tasks_; }

 private:
  std::vector<BackgroundTask> tasks_;
};

struct ResponseInit {
  int status_code = 200;
  // Python's `headers=None` (nullopt) or a mapping; names are lower-cased.
  // Supplying content-length or content-type stops init_headers adding it.
  std::optional<Headers> headers{};
  // Overrides the class's media type ("text/plain" for PlainTextResponse).
  std::optional<std::string> media_type{};
  BackgroundTasks background{};
};

// An async body iterator: the next chunk, or nullopt when exhausted. It may
// sleep or checkpoint between chunks (it runs on the response's task). One
// with a `finally` is made by async_generator() (async_generator.hpp), which
// also models when Python runs that `finally`.
using BodyIterator = std::function<std::optional<Bytes>()>;

// What StreamingResponse does about client disconnects.
enum class StreamingBehaviour : std::uint8_t {
  // 0.15 to 0.41 (and 0.42+ below ASGI spec 2.4): a task group races the body
  // against a listener that consumes receive() until http.disconnect;
  // whichever finishes first cancels the other.
  listen,
  // 0.42+ at spec_version >= 2.4: no listener; ClientDisconnected raised by
  // send (the OSError case) becomes ClientDisconnect.
  no_listen,
  // 0.42+ as released: no_listen when scope.spec_version >= 2.4, else listen.
  by_spec_version,
  // BaseHTTPMiddleware's _StreamingResponse (0.38.3+, PR #2620), what
  // call_next returns: no listener, and send errors pass through unchanged.
  send_only,
};
std::string_view to_string(StreamingBehaviour behaviour);
// The behaviour of Starlette MAJOR.MINOR's StreamingResponse: by_spec_version
// from 0.42 (1.x included), listen before.
StreamingBehaviour streaming_behaviour_for_starlette(int major, int minor);

class Response {
 public:
  Response() : Response(Bytes{}) {}
  explicit Response(Bytes content, ResponseInit init = {});

  // The ASGI app call.
  void operator()(Scope& scope, const Receive& receive, const Send& send) const;

  int status_code() const { return status_code_; }
  // raw_headers, in the order they are sent.
  const Headers& headers() const { return headers_; }
  Headers& headers() { return headers_; }
  // response.headers[name] = value (MutableHeaders semantics).
  void set_header(std::string_view name, std::string value);
  // nullopt for a streaming response (Starlette never sets its body).
  const std::optional<Bytes>& body() const { return body_; }
  const std::optional<std::string>& media_type() const { return media_type_; }
  const BackgroundTasks& background() const { return background_; }
  BackgroundTasks& background() { return background_; }
  bool streaming() const { return static_cast<bool>(body_iterator_); }
  StreamingBehaviour streaming_behaviour() const { return behaviour_; }

 protected:
  // `class_media_type` is the subclass's media_type attribute.
  Response(std::optional<Bytes> body, ResponseInit init, std::optional<std::string> class_media_type);
  void set_streaming(BodyIterator body_iterator, StreamingBehaviour behaviour);

 private:
  void init_headers(std::optional<Headers> headers);
  void stream_response(const Send& send) const;
  void call_streaming(Scope& scope, const Receive& receive, const Send& send) const;

  int status_code_ = 200;
  std::optional<Bytes> body_;
  std::optional<std::string> media_type_;
  std::string charset_ = "utf-8";
  Headers headers_;
  BackgroundTasks background_;
  BodyIterator body_iterator_;
  StreamingBehaviour behaviour_ = StreamingBehaviour::listen;
};

class PlainTextResponse : public Response {
 public:
  explicit PlainTextResponse(Bytes content, ResponseInit init = {});
};

class HTMLResponse : public Response {
 public:
  explicit HTMLResponse(Bytes content, ResponseInit init = {});
};

// The model keeps JSON as text: `json_text` is what json.dumps would have
// produced (see json_text.hpp for json_string/json_float); it is checked with
// check_json() (JSONDecodeError if invalid) and sent as is.
class JSONResponse : public Response {
 public:
  explicit JSONResponse(std::string json_text, ResponseInit init = {});
};

// 307 by default; the location header is quote(url, safe=":/%#?=@[]!$&'()*+,;").
class RedirectResponse : public Response {
 public:
  explicit RedirectResponse(std::string_view url, int status_code = 307, std::optional<Headers> headers = {},
                            BackgroundTasks background = {});
};

class StreamingResponse : public Response {
 public:
  explicit StreamingResponse(BodyIterator content, ResponseInit init = {},
                             StreamingBehaviour behaviour = StreamingBehaviour::listen);
};

// starlette.concurrency.iterate_in_threadpool: a sync iterator whose every
// next() runs through run_in_threadpool, as StreamingResponse wraps one.
BodyIterator iterate_in_threadpool(BodyIterator sync_iterator, ThreadPoolRunner& pool);

}  // namespace asgisim::core
