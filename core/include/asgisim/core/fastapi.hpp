// The FastAPI layer: dependencies (sync and async, plain and with `yield`)
// solved per request, and the route app that runs an endpoint with them
// (fastapi/dependencies/utils.py solve_dependencies, fastapi/routing.py
// get_request_handler, fastapi/concurrency.py contextmanager_in_threadpool
// and fastapi/middleware/asyncexitstack.py, FastAPI 0.68 to 0.82; the exit
// timing read on to 0.141.1, the newest tag of fastapi/fastapi here).
//
//   auto get_db = Dependency::sync_yield("get_db",
//       [&](Request&, Deps&) -> std::any { return pool.checkout(); },
//       [&](std::any& db, std::exception_ptr) { pool.checkin(std::any_cast<ConnectionId>(db)); });
//   App app = fastapi_route({.function = [](Request&, Deps& deps) { ...; return PlainTextResponse("ok"); },
//                            .dependencies = {{"db", get_db}}},
//                           {.threadpool = &to_thread, .exit_behaviour = YieldExitBehaviour::own_limiter});
//
// Solving follows solve_dependencies: parameters in declaration order, each
// dependency's own parameters first (depth first), values cached per request
// by dependency identity (unless use_cache is false). `async def`
// dependencies run on the loop in the request's task; `def` ones through
// run_in_threadpool. A `yield` dependency's code up to the yield is its
// `call`; the code after it is its `exit`, run by an exit stack in reverse
// order, each seeing the pending exception (the last one raised wins, as in
// AsyncExitStack); when that stack closes, after the response was sent
// (background tasks included) or before, is YieldExitTiming, by FastAPI
// release (below). The exit of a sync `yield` dependency runs
// - YieldExitBehaviour::shared_pool (FastAPI <= 0.81): through
//   run_in_threadpool, i.e. it needs a token of the same limited pool the
//   endpoints use (the #3205 deadlock);
// - YieldExitBehaviour::own_limiter (FastAPI >= 0.82, PR #5122): through
//   anyio.to_thread.run_sync with a fresh CapacityLimiter(1) per dependency.
// On cancellation a sync `yield` dependency's exit does not run at all
// (contextmanager_in_threadpool catches Exception only, and from Python 3.8
// CancelledError is a BaseException); an async one's exit runs and sees the
// cancellation. Exceptions from the endpoint pass through the exits first
// (AsyncExitStackMiddleware sits inside ExceptionMiddleware).
#pragma once

#include <any>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"

namespace asgisim::core {

class AnyioToThread;
class Observer;
class ThreadPoolRunner;

// Where the exit code of a sync `yield` dependency runs.
enum class YieldExitBehaviour : std::uint8_t {
  shared_pool,  // FastAPI <= 0.81: run_in_threadpool, the endpoints' limited pool
  own_limiter,  // FastAPI >= 0.82 (PR #5122): anyio.to_thread.run_sync(limiter=CapacityLimiter(1))
};
std::string_view to_string(YieldExitBehaviour behaviour);

// When the exit code of `yield` dependencies runs, against the response.
enum class YieldExitTiming : std::uint8_t {
  // FastAPI <= 0.105 (AsyncExitStackMiddleware) and 0.118.0 to 0.120.x
  // (PR #14099, the route's own request_response): after the response was
  // sent and its background tasks ran.
  after_response,
  // FastAPI 0.106.0 to 0.117.x (PR #10831): as soon as the endpoint returned
  // and its response object was built, before anything is sent, so a
  // StreamingResponse body and the background tasks run after the exits,
  // and an exit that raises replaces the response with the error.
  before_response,
  // FastAPI >= 0.121.0 (PR #14262): per dependency, Depends(scope="function")
  // exits before the response is sent, "request" (the default for a
  // `yield` dependency) after it and its background tasks.
  by_scope,
};
std::string_view to_string(YieldExitTiming timing);

enum class DependencyKind : std::uint8_t {
  async_def,    // async def dep(...): return value
  sync_def,     // def dep(...): return value          (run_in_threadpool)
  async_yield,  // async def dep(...): ...; yield value; ...
  sync_yield,   // def dep(...): ...; yield value; ...   (both halves in threads)
};
std::string_view to_string(DependencyKind kind);

// The keyword arguments of one call: solved values by parameter name.
class Deps {
 public:
  bool contains(std::string_view parameter) const { return values_.find(parameter) != values_.end(); }
  // The value; std::out_of_range if missing, std::bad_any_cast if not a T.
  template <class T>
  T& get(std::string_view parameter) {
    return std::any_cast<T&>(value(parameter));
  }
  std::any& value(std::string_view parameter);
  void set(std::string parameter, std::any value) { values_[std::move(parameter)] = std::move(value); }
  std::size_t size() const { return values_.size(); }

 private:
  std::map<std::string, std::any, std::less<>> values_{};
};

struct Dependency;
using DependencyPtr = std::shared_ptr<const Dependency>;

// Depends(scope=...) (FastAPI >= 0.121.0): where a `yield` dependency's exit
// goes, the function's exit stack (closed before the response is sent) or
// the request's (after it).
enum class DependencyScope : std::uint8_t { request, function };

// `parameter: T = Depends(dependency, use_cache=..., scope=...)`.
struct Depends {
  std::string parameter{};
  DependencyPtr dependency{};
  bool use_cache = true;
  DependencyScope scope = DependencyScope::request;  // function: YieldExitTiming::by_scope only
};

// Runs with the request and the dependency's own solved parameters; returns
// the value (for a `yield` dependency: the yielded value).
using DependencyCall = std::function<std::any(Request& request, Deps& values)>;
// The code after `yield`: gets the yielded value and the pending exception
// (nullptr if none). Returning re-raises that exception (a try/finally
// dependency); raising replaces it.
using DependencyExit = std::function<void(std::any& value, std::exception_ptr error)>;

// A dependable callable (FastAPI caches by the callable, so share one
// Dependency object where Python code shares one function).
struct Dependency {
  std::string name{};  // the function's name, for traces and observations
  DependencyKind kind = DependencyKind::async_def;
  DependencyCall call{};
  DependencyExit exit{};              // yield kinds only
  std::vector<Depends> parameters{};  // its own Depends(...) parameters, in declaration order

  static DependencyPtr async_def(std::string name, DependencyCall call, std::vector<Depends> parameters = {});
  static DependencyPtr sync_def(std::string name, DependencyCall call, std::vector<Depends> parameters = {});
  static DependencyPtr async_yield(std::string name, DependencyCall enter, DependencyExit exit,
                                   std::vector<Depends> parameters = {});
  static DependencyPtr sync_yield(std::string name, DependencyCall enter, DependencyExit exit,
                                  std::vector<Depends> parameters = {});
};

using FastApiEndpointFunction = std::function<Response(Request& request, Deps& values)>;

struct FastApiEndpoint {
  FastApiEndpointFunction function{};
  EndpointKind kind = EndpointKind::async_def;  // sync_def: run_endpoint_function uses run_in_threadpool
  std::vector<Depends> dependencies{};          // the endpoint's Depends(...) parameters
};

// The run's observer receives context_entered / context_exited for `yield`
// dependencies and error_raised for an endpoint that raised.
struct FastApiOptions {
  // run_in_threadpool's pool: sync endpoints, sync dependencies, the entry of
  // sync `yield` dependencies, and (shared_pool) their exits.
  ThreadPoolRunner* threadpool = nullptr;
  // The anyio pool own_limiter exits go through; defaults to `threadpool`
  // when that is an AnyioToThread (FastAPI 0.82 runs on Starlette >= 0.15).
  AnyioToThread* to_thread = nullptr;
  YieldExitBehaviour exit_behaviour = YieldExitBehaviour::shared_pool;
  YieldExitTiming exit_timing = YieldExitTiming::after_response;
};

// request_response(get_request_handler(...)) inside AsyncExitStackMiddleware:
// the ASGI app of one FastAPI route. Throws std::invalid_argument for a
// configuration that cannot run (no endpoint function, a sync part without a
// threadpool, own_limiter without an anyio pool, Depends(scope="function")
// without YieldExitTiming::by_scope).
App fastapi_route(FastApiEndpoint endpoint, FastApiOptions options = {});

}  // namespace asgisim::core
