// request_response(): endpoint functions as ASGI apps (Starlette 0.26.1).
#include "asgisim/core/endpoints.hpp"

#include <boost/context/fiber.hpp>

#include <memory>
#include <stdexcept>

#include "asgisim/core/observe.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/errors.hpp"

namespace asgisim::core {

std::string_view to_string(EndpointKind kind) {
  switch (kind) {
    case EndpointKind::async_def:
      return "async_def";
    case EndpointKind::sync_def:
      return "sync_def";
  }
  return "?";
}

namespace {

Response call_endpoint(const Endpoint& endpoint, Request& request) {
  if (endpoint.kind == EndpointKind::async_def) return endpoint.function(request);
  if (endpoint.threadpool == nullptr) throw std::logic_error("a sync endpoint needs a ThreadPoolRunner");
  return run_in_threadpool<Response>(*endpoint.threadpool, [&] { return endpoint.function(request); });
}

}  // namespace

App request_response(Endpoint endpoint) {
  if (!endpoint.function) throw std::invalid_argument("request_response needs an endpoint function");
  auto shared = std::make_shared<const Endpoint>(std::move(endpoint));
  return [shared](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope, receive, send);
    Response response;
    try {
      response = call_endpoint(*shared, request);
    } catch (const sim::Cancelled&) {
      throw;
    } catch (const sim::TaskUnwound&) {
      throw;
    } catch (const boost::context::detail::forced_unwind&) {
      throw;
    } catch (...) {
      observe({.kind = ObservationKind::error_raised,
               .request = scope.request_id,
               .layer = "endpoint",
               .detail = sim::describe(std::current_exception()),
               .reporter = Reporter::endpoint});
      throw;
    }
    response(scope, receive, send);
  };
}

}  // namespace asgisim::core
