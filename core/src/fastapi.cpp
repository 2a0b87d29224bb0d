// FastAPI's dependency solving and the per-request exit stack (FastAPI 0.68
// to 0.82). See fastapi.hpp for the semantics.
#include "asgisim/core/fastapi.hpp"

#include <boost/context/fiber.hpp>

#include <stdexcept>

#include "asgisim/core/observe.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/capacity_limiter.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

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
  void solve(Request& request, const std::vector<Depends>& parameters, Deps& values) {
    for (const Depends& parameter : parameters) {
      const Dependency& dependency = *parameter.dependency;
      Deps sub_values;
      solve(request, dependency.parameters, sub_values);
      const std::any* cached = find_cached(dependency);
      std::any solved =
          parameter.use_cache && cached != nullptr ? *cached : call(request, dependency, sub_values);
      if (find_cached(dependency) == nullptr) cache_.emplace_back(&dependency, solved);
      values.set(parameter.parameter, std::move(solved));
    }
  }

  // AsyncExitStack.__aexit__: exits in reverse order; an exit that raises
  // replaces the pending exception for the exits after it.
  void close(std::exception_ptr& error) {
    while (!exits_.empty()) {
      Exit entry = std::move(exits_.back());
      exits_.pop_back();
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

  const std::any* find_cached(const Dependency& dependency) const {
    // Identity lookup only (no iteration order depends on addresses).
    for (const auto& [key, value] : cache_) {
      if (key == &dependency) return &value;
    }
    return nullptr;
  }

  std::any call(Request& request, const Dependency& dependency, Deps& sub_values) {
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
        exits_.push_back(Exit{.dependency = &dependency, .value = value});
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
  std::vector<std::pair<const Dependency*, std::any>> cache_{};
  std::vector<Exit> exits_{};
};

// Whether anything in `parameters` (recursively) runs in a thread or yields from one.
void scan(const std::vector<Depends>& parameters, bool& any_sync, bool& any_sync_yield) {
  for (const Depends& parameter : parameters) {
    const DependencyKind kind = parameter.dependency->kind;
    any_sync = any_sync || kind == DependencyKind::sync_def || kind == DependencyKind::sync_yield;
    any_sync_yield = any_sync_yield || kind == DependencyKind::sync_yield;
    scan(parameter.dependency->parameters, any_sync, any_sync_yield);
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
  bool any_sync = endpoint.kind == EndpointKind::sync_def;
  bool any_sync_yield = false;
  scan(endpoint.dependencies, any_sync, any_sync_yield);
  if (any_sync && options.threadpool == nullptr) {
    throw std::invalid_argument("fastapi_route: a sync endpoint or dependency needs a threadpool");
  }
  if (options.to_thread == nullptr) options.to_thread = dynamic_cast<AnyioToThread*>(options.threadpool);
  if (any_sync_yield && options.exit_behaviour == YieldExitBehaviour::own_limiter &&
      options.to_thread == nullptr) {
    throw std::invalid_argument(
        "fastapi_route: own_limiter exits (FastAPI >= 0.82) run through anyio.to_thread: give an "
        "AnyioToThread");
  }
  auto route = std::make_shared<const Route>(Route{.endpoint = std::move(endpoint), .options = options});
  return [route](Scope& scope, const Receive& receive, const Send& send) {
    RequestSolver solver(route->options, scope.request_id);
    std::exception_ptr error;
    try {
      Request request(scope, receive, send);
      Deps values;
      solver.solve(request, route->endpoint.dependencies, values);
      Response response = run_endpoint(*route, request, values);
      response(scope, receive, send);
    } catch (const sim::TaskUnwound&) {
      throw;  // the run is being torn down: nothing more runs
    } catch (const boost::context::detail::forced_unwind&) {
      throw;
    } catch (...) {
      error = std::current_exception();
    }
    // AsyncExitStackMiddleware: the exits run after the app call returned,
    // i.e. after the response and its background tasks.
    solver.close(error);
    if (error) std::rethrow_exception(error);
  };
}

}  // namespace asgisim::core
