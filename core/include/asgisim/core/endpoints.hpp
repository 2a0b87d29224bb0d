// Endpoint functions as ASGI apps: Starlette's request_response()
// (starlette/routing.py, 0.26.1). The app builds a Request, calls the
// endpoint (an `async def` on the loop; a `def` through run_in_threadpool,
// which was loop.run_in_executor before 0.15 and anyio.to_thread after),
// then calls the Response it returned as an app.
//
//   App home = request_response([](Request& request) { return PlainTextResponse("hi"); });
//   App blocking = request_response(Endpoint::sync(load_model, pool));
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"

namespace asgisim::core {

class ThreadPoolRunner;

using EndpointFunction = std::function<Response(Request&)>;

enum class EndpointKind : std::uint8_t {
  async_def,  // runs on the event loop, in the request's task
  sync_def,   // runs on a simulated thread through run_in_threadpool
};
std::string_view to_string(EndpointKind kind);

// An exception from the endpoint is reported to the run's observer as
// error_raised (layer "endpoint") before it propagates.
struct Endpoint {
  // Any callable Response(Request&) is an async endpoint.
  template <class Fn>
  requires(!std::is_same_v<std::decay_t<Fn>, Endpoint> && std::is_invocable_r_v<Response, Fn&, Request&>)
      Endpoint(Fn&& fn)
      : function(std::forward<Fn>(fn)) {}  // NOLINT: implicit, like passing a function in Python

  // A `def` endpoint run through `threadpool`.
  static Endpoint sync(EndpointFunction function, ThreadPoolRunner& threadpool) {
    Endpoint endpoint(std::move(function));
    endpoint.kind = EndpointKind::sync_def;
    endpoint.threadpool = &threadpool;
    return endpoint;
  }

  EndpointFunction function{};
  EndpointKind kind = EndpointKind::async_def;
  ThreadPoolRunner* threadpool = nullptr;  // required for sync_def
};

// request_response(func): the ASGI app for an endpoint.
App request_response(Endpoint endpoint);

}  // namespace asgisim::core
