// FastAPI's dependency solving and the per-request exit stacks (FastAPI 0.68
// to 0.141.1). See fastapi.hpp for the semantics.
#include "asgisim/core/fastapi.hpp"

#include <boost/context/fiber.hpp>

#include <optional>
#include <stdexcept>
#include <vector>

#include "asgisim/core/observe.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/capacity_limiter.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "python_exceptions.hpp"

namespace asgisim::core {

std::string_view to_string(YieldExitBehaviour behaviour) {
  switch (behaviour) {
    case YieldExitBehaviour::shared_pool:
      return "shared_pool";
    case YieldExitBehaviour::own_limiter:
      return "own_limiter";
  }
  return "?";
}

std::string_view to_string(YieldExitTiming timing) {
  switch (timing) {
    case YieldExitTiming::after_response:
      return "after_response";
    case YieldExitTiming::before_response:
      return "before_response";
    case YieldExitTiming::by_scope:
      return "by_scope";
  }
  return "?";
}

std::string_view to_string(DependencyKind kind) {
  switch (kind) {
    case DependencyKind::async_def:
      return "async_def";
    case DependencyKind::sync_def:
      return "sync_def";
    case DependencyKind::async_yield:
      return "async_yield";
    case DependencyKind::sync_yield:
      return "sync_yield";
  }
  return "?";
}

std::any& Deps::value(std::string_view parameter) {
  auto it = values_.find(parameter);
  if (it == values_.end())
    throw std::out_of_range("no dependency value for parameter '" + std::string(parameter) + "'");
  return it->second;
}

namespace {

DependencyPtr make_dependency(std::string name, DependencyKind kind, DependencyCall call, DependencyExit exit,
                              std::vector<Depends> parameters) {
  if (!call) throw std::invalid_argument("dependency '" + name + "' needs a function");
  const bool yields = kind == DependencyKind::async_yield || kind == DependencyKind::sync_yield;
  if (yields && !exit) throw std::invalid_argument("yield dependency '" + name + "' needs its exit code");
  for (const Depends& parameter : parameters) {
    if (!parameter.dependency)
      throw std::invalid_argument("dependency '" + name + "' has an empty Depends()");
  }
  return std::make_shared<const Dependency>(Dependency{.name = std::move(name),
                                                       .kind = kind,
                                                       .call = std::move(call),
                                                       .exit = std::move(exit),
                                                       .parameters = std::move(parameters)});
}

struct Route {
  FastApiEndpoint endpoint{};
  FastApiOptions options{};
};

// One request's dependency cache and exit stack (AsyncExitStack).
class RequestSolver {
 public:
  RequestSolver(const FastApiOptions& options, RequestId request) : options_(options), request_(request) {}

  // solve_dependencies: each parameter's own parameters first, then the
  // cached value or a call; values[parameter] = solved.
  // A Depends(scope=...) parameter's scope is its own; one without it takes
  // its parent's, as FastAPI's _get_computed_scope does for sub-dependencies.
  void solve(Request& request, const std::vector<Depends>& parameters, Deps& values,
             DependencyScope parent_scope = DependencyScope::request) {
    for (const Depends& parameter : parameters) {
      const Dependency& dependency = *parameter.dependency;
      const DependencyScope scope =
          parameter.scope == DependencyScope::function ? DependencyScope::function : parent_scope;
      Deps sub_values;
      solve(request, dependency.parameters, sub_values, scope);
      // The cache key holds the scope (0.121.0): one dependency used with
      // two scopes runs twice.
      const std::any* cached = find_cached(dependency, scope);
      std::any solved =
          parameter.use_cache && cached != nullptr ? *cached : call(request, dependency, sub_values, scope);
      if (find_cached(dependency, scope) == nullptr) cache_.push_back({&dependency, scope, solved});
      values.set(parameter.parameter, std::move(solved));
    }
  }

  // AsyncExitStack.__aexit__ of one stack: exits in reverse order; an exit
  // that raises replaces the pending exception for the exits after it.
  void close(DependencyScope stack, std::exception_ptr& error) {
    std::vector<Exit>& exits = stack == DependencyScope::function ? function_exits_ : request_exits_;
    while (!exits.empty()) {
      Exit entry = std::move(exits.back());
      exits.pop_back();
      const bool cancelled = sim::is_cancellation(error);
      // contextmanager_in_threadpool handles `except Exception` and the
      // success path only: a cancellation skips a sync generator's exit.
      if (entry.dependency->kind == DependencyKind::sync_yield && cancelled) continue;
      try {
        run_exit(entry, error);
        report(ObservationKind::context_exited, *entry.dependency, cancelled ? 1 : 0);
      } catch (const sim::TaskUnwound&) {
        throw;
      } catch (const boost::context::detail::forced_unwind&) {
        throw;
      } catch (const sim::Cancelled&) {
        report(ObservationKind::context_exit_cancelled, *entry.dependency, 1);
        error = std::current_exception();
      } catch (...) {
        error = std::current_exception();
      }
    }
  }

 private:
  struct Exit {
    const Dependency* dependency = nullptr;
    std::any value{};
  };

  struct Cached {
    const Dependency* dependency = nullptr;
    DependencyScope scope = DependencyScope::request;
    std::any value{};
  };

  const std::any* find_cached(const Dependency& dependency, DependencyScope scope) const {
    // Identity lookup only (no iteration order depends on addresses).
    for (const Cached& cached : cache_) {
      if (cached.dependency == &dependency && cached.scope == scope) return &cached.value;
    }
    return nullptr;
  }

  std::any call(Request& request, const Dependency& dependency, Deps& sub_values, DependencyScope scope) {
    switch (dependency.kind) {
      case DependencyKind::async_def:
        return dependency.call(request, sub_values);
      case DependencyKind::sync_def:
        return in_threadpool(request, dependency, sub_values);
      case DependencyKind::async_yield:
      case DependencyKind::sync_yield: {
        // stack.enter_async_context(cm): the exit is pushed once the enter succeeded.
        std::any value = dependency.kind == DependencyKind::async_yield
                             ? dependency.call(request, sub_values)
                             : in_threadpool(request, dependency, sub_values);
        // 0.106.0 to 0.117.x: every exit is on the function's stack.
        const bool early =
            options_.exit_timing == YieldExitTiming::before_response || scope == DependencyScope::function;
        (early ? function_exits_ : request_exits_).push_back(Exit{.dependency = &dependency, .value = value});
        report(ObservationKind::context_entered, dependency, 0);
        return value;
      }
    }
    throw std::logic_error("unknown dependency kind");
  }

  std::any in_threadpool(Request& request, const Dependency& dependency, Deps& sub_values) {
    ASGISIM_ASSERT(options_.threadpool != nullptr);
    return run_in_threadpool<std::any>(*options_.threadpool,
                                       [&] { return dependency.call(request, sub_values); });
  }

  void run_exit(Exit& entry, const std::exception_ptr& error) {
    const Dependency& dependency = *entry.dependency;
    if (dependency.kind == DependencyKind::async_yield) {
      dependency.exit(entry.value, error);
      return;
    }
    auto exit = [&] { dependency.exit(entry.value, error); };
    if (options_.exit_behaviour == YieldExitBehaviour::shared_pool) {
      run_in_threadpool<void>(*options_.threadpool, exit);
      return;
    }
    // PR #5122: "since we're creating a new limiter for each call, any
    // non-zero limit works (1 is arbitrary)".
    ASGISIM_ASSERT(options_.to_thread != nullptr);
    sim::CapacityLimiter exit_limiter(1, "exit_limiter " + dependency.name);
    options_.to_thread->run_sync(exit, &exit_limiter, false);
  }

  void report(ObservationKind kind, const Dependency& dependency, std::uint64_t value) const {
    observe({.kind = kind,
             .request = request_,
             .layer = "fastapi.dependency",
             .detail = dependency.name,
             .value = value,
             .reporter = Reporter::dependency});
  }

  const FastApiOptions& options_;
  RequestId request_;
  std::vector<Cached> cache_{};
  std::vector<Exit> function_exits_{};  // closed before the response is sent
  std::vector<Exit> request_exits_{};   // closed after it and its background tasks
};

// What `parameters` (recursively) need of the route's options.
struct Needs {
  bool sync = false;            // something runs in a thread
  bool sync_yield = false;      // a sync `yield` dependency's exit
  bool function_scope = false;  // Depends(scope="function")
};
void scan(const std::vector<Depends>& parameters, Needs& needs) {
  for (const Depends& parameter : parameters) {
    const DependencyKind kind = parameter.dependency->kind;
    needs.sync = needs.sync || kind == DependencyKind::sync_def || kind == DependencyKind::sync_yield;
    needs.sync_yield = needs.sync_yield || kind == DependencyKind::sync_yield;
    needs.function_scope = needs.function_scope || parameter.scope == DependencyScope::function;
    scan(parameter.dependency->parameters, needs);
  }
}

Response run_endpoint(const Route& route, Request& request, Deps& values) {
  const FastApiEndpoint& endpoint = route.endpoint;
  try {
    if (endpoint.kind == EndpointKind::async_def) return endpoint.function(request, values);
    return run_in_threadpool<Response>(*route.options.threadpool,
                                       [&] { return endpoint.function(request, values); });
  } catch (const sim::Cancelled&) {
    throw;
  } catch (const sim::TaskUnwound&) {
    throw;
  } catch (const boost::context::detail::forced_unwind&) {
    throw;
  } catch (...) {
    observe({.kind = ObservationKind::error_raised,
             .request = request.scope().request_id,
             .layer = "endpoint",
             .detail = sim::describe(std::current_exception()),
             .reporter = Reporter::endpoint});
    throw;
  }
}

}  // namespace

DependencyPtr Dependency::async_def(std::string name, DependencyCall call, std::vector<Depends> parameters) {
  return make_dependency(std::move(name), DependencyKind::async_def, std::move(call), {},
                         std::move(parameters));
}

DependencyPtr Dependency::sync_def(std::string name, DependencyCall call, std::vector<Depends> parameters) {
  return make_dependency(std::move(name), DependencyKind::sync_def, std::move(call), {},
                         std::move(parameters));
}

DependencyPtr Dependency::async_yield(std::string name, DependencyCall enter, DependencyExit exit,
                                      std::vector<Depends> parameters) {
  return make_dependency(std::move(name), DependencyKind::async_yield, std::move(enter), std::move(exit),
                         std::move(parameters));
}

DependencyPtr Dependency::sync_yield(std::string name, DependencyCall enter, DependencyExit exit,
                                     std::vector<Depends> parameters) {
  return make_dependency(std::move(name), DependencyKind::sync_yield, std::move(enter), std::move(exit),
                         std::move(parameters));
}

App fastapi_route(FastApiEndpoint endpoint, FastApiOptions options) {
  if (!endpoint.function) throw std::invalid_argument("fastapi_route needs an endpoint function");
  for (const Depends& parameter : endpoint.dependencies) {
    if (!parameter.dependency)
      throw std::invalid_argument("fastapi_route: an endpoint parameter has an empty Depends()");
  }
  Needs needs{.sync = endpoint.kind == EndpointKind::sync_def};
  scan(endpoint.dependencies, needs);
  if (needs.sync && options.threadpool == nullptr) {
    throw std::invalid_argument("fastapi_route: a sync endpoint or dependency needs a threadpool");
  }
  if (needs.function_scope && options.exit_timing != YieldExitTiming::by_scope) {
    throw std::invalid_argument(
        "fastapi_route: Depends(scope=\"function\") needs FastAPI >= 0.121.0 (YieldExitTiming::by_scope)");
  }
  if (options.to_thread == nullptr) options.to_thread = dynamic_cast<AnyioToThread*>(options.threadpool);
  if (needs.sync_yield && options.exit_behaviour == YieldExitBehaviour::own_limiter &&
      options.to_thread == nullptr) {
    throw std::invalid_argument(
        "fastapi_route: own_limiter exits (FastAPI >= 0.82) run through anyio.to_thread: give an "
        "AnyioToThread");
  }
  auto route = std::make_shared<const Route>(Route{.endpoint = std::move(endpoint), .options = options});
  return [route](Scope& scope, const Receive& receive, const Send& send) {
    RequestSolver solver(route->options, scope.request_id);
    // The run's teardown is not an error of the request: nothing more runs.
    std::exception_ptr error = detail::raised_by([&] {
      Request request(scope, receive, send);
      // `async with AsyncExitStack() as function_stack: response = await f(request)`
      // (0.121.0; 0.106.0 to 0.117.x had every exit there): solving and the
      // endpoint, then that stack's exits, before anything is sent.
      std::optional<Response> response;
      std::exception_ptr function_error = detail::raised_by([&] {
        Deps values;
        solver.solve(request, route->endpoint.dependencies, values);
        response.emplace(run_endpoint(*route, request, values));
      });
      solver.close(DependencyScope::function, function_error);
      if (function_error) std::rethrow_exception(function_error);
      (*response)(scope, receive, send);
    });
    // The request's stack (AsyncExitStackMiddleware up to 0.105): its exits
    // run after the app call returned, i.e. after the response and its
    // background tasks.
    solver.close(DependencyScope::request, error);
    if (error) std::rethrow_exception(error);
  };
}

}  // namespace asgisim::core
