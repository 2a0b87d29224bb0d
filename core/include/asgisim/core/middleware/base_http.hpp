// Starlette's BaseHTTPMiddleware (starlette/middleware/base.py) in each of its
// historical behaviours, 0.15.0 to 0.46.2 and later, named after the releases
// that had them (DESIGN.md, "core/" -> Middleware). dispatch(request, call_next) gets
// the request; call_next runs the downstream app in the middleware's task
// group and returns a StreamingResponse (0.38.3+: a _StreamingResponse that
// only sends) fed through a zero-buffer memory object stream; the response
// dispatch returns is sent; then, depending on the behaviour, the task group
// is cancelled or the downstream app is told that the response is gone.
//
//   App app = base_http_middleware(endpoint_app,
//       [](Request& request, const CallNext& call_next) {
//         Response response = call_next(request);
//         response.set_header("custom-header", "Example");
//         return response;
//       },
//       {.behaviour = BaseHttpBehaviour::cancel});
//
// Not modelled: the http.response.debug extension (0.24+), contextvars, and
// when the asyncgen finalizer closes a body_stream abandoned half-way (its
// `async with recv_stream` exit); the endpoint's own body iterators have it
// when made with core::async_generator (async_generator.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"

namespace asgisim::core {

enum class BaseHttpBehaviour : std::uint8_t {
  // 0.15.0 to 0.20.0: body_stream reads until the downstream app (background
  // tasks included) has finished; then the task group is cancelled. Work is
  // killed when the outer response is cut short (#1438).
  cancel_drain,
  // 0.20.1 to 0.20.4 (PR #1609): body_stream stops at the final body message
  // and skips empty ones, so the cancellation right after the response
  // kills background tasks and inner context-manager exits.
  cancel,
  // 0.21.0 to 0.23.0 (PR #1715): no cancellation; once the response is sent
  // an event makes downstream receive() answer http.disconnect, the receive
  // end of the stream is closed, and downstream send() swallows the
  // BrokenResourceError. The app call returns when the downstream app has.
  disconnect,
  // 0.23.1 to 0.27.x (PR #1940): as disconnect, but body_stream no longer
  // stops at the final body message: the response's completion waits for
  // the downstream app, background tasks included.
  no_break,
  // 0.28.0 (PR #1692): no_break plus _CachedRequest: the body dispatch read
  // is replayed downstream.
  cached_body,
  // 0.29.0 to 0.38.2 (PR #2194): cached_body with the stop at the final body
  // message restored.
  fixed,
  // 0.38.3 to 0.38.4 (PR #2620): fixed, but call_next's response only sends:
  // it no longer listens for http.disconnect (no receive() racing the
  // downstream app's), and a background task dispatch attaches to it is
  // dropped; wrapped_receive remembers the disconnect it passed on.
  no_listener,
  // 0.38.5 to 0.45.x (PR #2688): no_listener running that background task.
  // Not modelled: 0.45.1's one stream pair per call (#2813), which differs
  // only once the response has raised.
  dispatch_background,
  // 0.46.0 to 0.46.1 (PR #2812, with #2813): one stream pair per middleware
  // call, closed right after response_sent; app_exc is raised after the task
  // group instead of at the end of body_stream, so an error the downstream
  // app raises after its response (a background task, a body iterator
  // cut short, a response dispatch dropped) is no longer swallowed
  // (encode/starlette#2625). It is raised again even when call_next raised it.
  reraise,
  // 0.46.2 and later (PR #2911): reraise, but not again when call_next raised it.
  reraise_once,
};
std::string_view to_string(BaseHttpBehaviour behaviour);
bool parse_base_http_behaviour(std::string_view text, BaseHttpBehaviour& out);
// "0.15.0 to 0.20.0", for reports.
std::string_view starlette_versions(BaseHttpBehaviour behaviour);
// The behaviour of a Starlette release ("0.20.4" -> cancel); nullopt for a
// malformed version or one before 0.15.0 (the asyncio-era implementation).
// 0.47.x has no change of its own the model sees (pathsend is not modelled):
// every release from 0.46.2 maps to reraise_once.
std::optional<BaseHttpBehaviour> base_http_behaviour_for_starlette(std::string_view version);

// The points where the behaviours differ, as flags.
struct BaseHttpTraits {
  // After the response: cancel the task group (before 0.21) instead of
  // setting response_sent (disconnecting the downstream app).
  bool cancel_downstream = false;
  // body_stream breaks at the body message with more_body false (#1609,
  // removed by #1940, restored by #2194).
  bool stop_at_final_body = false;
  // body_stream yields only non-empty bodies (#1609).
  bool skip_empty_chunks = false;
  // dispatch gets a _CachedRequest whose wrapped_receive feeds the
  // downstream app and the outer response (#1692).
  bool cache_request_body = false;
  // call_next's response is a _StreamingResponse(Response): it sends and
  // never calls receive() (#2620); wrapped_receive remembers a disconnect.
  bool no_response_listener = false;
  // A background task set on call_next's response in dispatch never runs
  // (#2620's _StreamingResponse.__call__ ignored it; #2688 restored it).
  bool drop_dispatch_background = false;
  // One stream pair per middleware call, left open by body_stream and closed
  // after response_sent (#2813); app_exc raised after the task group (#2812).
  bool raise_app_exc_after_group = false;
  // ... unless call_next already raised it (#2911).
  bool raise_app_exc_once = false;
};
BaseHttpTraits traits(BaseHttpBehaviour behaviour);

// call_next(request): runs the downstream app and returns its response as a
// StreamingResponse (listen behaviour; StreamingBehaviour::send_only with
// no_response_listener).
// Raises the downstream exception, or std::runtime_error("No response
// returned.") when the app ended without http.response.start.
using CallNext = std::function<Response(Request& request)>;
// dispatch(request, call_next) -> the response to send. `request` is a
// Request(scope, receive) up to no_break, a _CachedRequest from cached_body on
// (core/src/middleware/cached_request.hpp: a Request with 0.28's stream rule).
using DispatchFunction = std::function<Response(Request& request, const CallNext& call_next)>;

struct BaseHttpOptions {
  BaseHttpBehaviour behaviour = BaseHttpBehaviour::fixed;
  // The layer name in observations, trace notes and stream names. error_raised
  // is reported to the run's observer when call_next raises "No response returned.".
  std::string name = "BaseHTTPMiddleware";
};

// BaseHTTPMiddleware(app, dispatch=dispatch) as an ASGI app. Non-http scopes
// go straight to `app`.
App base_http_middleware(App app, DispatchFunction dispatch, BaseHttpOptions options = {});

// `async def passthrough(request, call_next): return await call_next(request)`.
DispatchFunction passthrough_dispatch();

}  // namespace asgisim::core
