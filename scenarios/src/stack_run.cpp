// The builder of stack descriptions: core apps for the middleware chain and
// the endpoint, a server, one task per client, and the scenario wrappers.
#include "asgisim/scenarios/stack_description.hpp"

#include <fmt/format.h>

#include <memory>
#include <stdexcept>
#include <utility>

#include "asgisim/core/middleware/errors.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/validator.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::scenarios {
namespace {

void read_body(core::Request& request, BodyRead read) {
  switch (read) {
    case BodyRead::none:
      return;
    case BodyRead::body:
      (void)request.body();
      return;
    case BodyRead::stream:
      for (core::Request::Stream stream = request.stream(); stream.next();) {
      }
      return;
  }
}

core::BackgroundTasks background_for(const EndpointDescription& endpoint, core::RequestId request,
                                     core::ThreadPoolRunner& threadpool) {
  if (endpoint.background == BackgroundKind::none) return {};
  const bool sync = endpoint.background == BackgroundKind::sync_task;
  auto work = [sync, pauses = endpoint.background_pauses,
               step_ns = endpoint.background_ns / endpoint.background_pauses,
               raises = endpoint.raises == RaisePoint::in_background] {
    for (std::uint32_t i = 0; i < pauses; ++i) {
      if (sync) {
        sim::thread_sleep(step_ns);
      } else {
        sim::sleep(step_ns);
      }
    }
    if (raises) throw AppError("AppError in the background task");
  };
  return core::BackgroundTask("background", std::move(work),
                              {.sync = sync, .threadpool = sync ? &threadpool : nullptr, .request = request});
}

// Reported before raising, as request_response reports the endpoint's own
// errors, so that no-swallowed-error can tell an error that vanished (a
// response dropped by dispatch) from one that surfaced.
[[noreturn]] void raise_reported(core::RequestId request, const char* what) {
  core::observe({.kind = core::ObservationKind::error_raised,
                 .request = request,
                 .layer = "endpoint",
                 .detail = what,
                 .reporter = core::Reporter::endpoint});
  throw AppError(what);
}

core::BodyIterator body_iterator(const EndpointDescription& endpoint, core::RequestId request,
                                 core::ThreadPoolRunner& threadpool) {
  const bool sync = endpoint.kind == core::EndpointKind::sync_def;
  auto next = std::make_shared<std::uint32_t>(0);
  core::BodyIterator chunks = [next, sync, count = endpoint.chunks,
                               raises = endpoint.raises == RaisePoint::in_stream,
                               request]() -> std::optional<core::Bytes> {
    if (*next == count) {
      if (raises) raise_reported(request, "AppError in the body iterator");
      return std::nullopt;
    }
    if (!sync) sim::checkpoint();  // `await anyio.sleep(0)` between chunks
    return fmt::format("chunk-{}", (*next)++);
  };
  return sync ? core::iterate_in_threadpool(std::move(chunks), threadpool) : chunks;
}

core::App endpoint_app(const EndpointDescription& endpoint, core::ThreadPoolRunner& threadpool,
                       core::StreamingBehaviour streaming) {
  core::EndpointFunction function = [endpoint, &threadpool,
                                     streaming](core::Request& request) -> core::Response {
    read_body(request, endpoint.reads_body);
    if (endpoint.raises == RaisePoint::before_start) throw AppError("AppError before the response");
    core::ResponseInit init{.background = background_for(endpoint, request.scope().request_id, threadpool)};
    if (endpoint.response == ResponseKind::plain) return core::PlainTextResponse("hello", std::move(init));
    return core::StreamingResponse(body_iterator(endpoint, request.scope().request_id, threadpool),
                                   std::move(init), streaming);
  };
  core::Endpoint wrapped = endpoint.kind == core::EndpointKind::sync_def
                               ? core::Endpoint::sync(std::move(function), threadpool)
                               : core::Endpoint(std::move(function));
  return core::request_response(std::move(wrapped));
}

core::DispatchFunction dispatch_for(MiddlewareKind kind) {
  switch (kind) {
    case MiddlewareKind::base_http_reads_body:
      return [](core::Request& request, const core::CallNext& call_next) {
        (void)request.body();
        return call_next(request);
      };
    case MiddlewareKind::base_http_own_response:
      // The downstream response is dropped unread (catalogue entry 5).
      return [](core::Request& request, const core::CallNext& call_next) -> core::Response {
        (void)call_next(request);
        return core::PlainTextResponse("from dispatch");
      };
    default:
      return core::passthrough_dispatch();
  }
}

core::NamedMiddleware named_middleware(const MiddlewareDescription& middleware, std::size_t index) {
  const std::string number = fmt::format("#{}", index + 1);
  switch (middleware.kind) {
    case MiddlewareKind::pure_asgi_passthrough:
      return {"PureAsgiMiddleware" + number,
              [](core::App app) { return core::pure_asgi_middleware(std::move(app), {}); }};
    case MiddlewareKind::pure_asgi_context: {
      std::string name = "ContextManagerMiddleware" + number;
      return {name, [name, middleware](core::App app) {
                return core::context_manager_middleware(
                    std::move(app),
                    {.name = name, .exit = middleware.exit, .exit_sleep_ns = middleware.exit_sleep_ns});
              }};
    }
    case MiddlewareKind::base_http_passthrough:
    case MiddlewareKind::base_http_reads_body:
    case MiddlewareKind::base_http_own_response: {
      std::string name = "BaseHTTPMiddleware" + number;
      return {name, [name, middleware](core::App app) {
                return core::base_http_middleware(std::move(app), dispatch_for(middleware.kind),
                                                  {.behaviour = middleware.behaviour, .name = name});
              }};
    }
    case MiddlewareKind::server_error: {
      std::string name = "ServerErrorMiddleware" + number;
      return {name, [name](core::App app) {
                return core::server_error_middleware(std::move(app), {.name = name});
              }};
    }
    case MiddlewareKind::exception: {
      std::string name = "ExceptionMiddleware" + number;
      return {name,
              [name](core::App app) { return core::exception_middleware(std::move(app), {.name = name}); }};
    }
  }
  throw std::logic_error("unknown middleware kind");
}

std::vector<core::RequestSpec> request_specs(const ClientDescription& client) {
  std::vector<core::RequestSpec> specs;
  for (const RequestDescription& request : client.requests) {
    specs.push_back({.method = request.method,
                     .body = core::Bytes(request.body_bytes, 'x'),
                     .disconnect = request.disconnect});
  }
  return specs;
}

}  // namespace

core::App build_app(const StackDescription& description, core::Observer& observer,
                    core::ThreadPoolRunner& threadpool, core::StreamingBehaviour streaming) {
  std::vector<core::NamedMiddleware> chain;
  for (std::size_t i = 0; i < description.middleware.size(); ++i) {
    chain.push_back(named_middleware(description.middleware[i], i));
  }
  return core::validated_chain(std::move(chain), endpoint_app(description.endpoint, threadpool, streaming),
                               observer);
}

StackRun::StackRun(sim::Simulation& sim, core::Observer& observer, StackDescription description,
                   StackOptions options)
    : description_(std::move(description)) {
  if (std::string why = validation_error(description_); !why.empty()) throw std::invalid_argument(why);
  threadpool_ = std::make_unique<core::AnyioToThread>(options.threadpool);
  server_ = std::make_unique<core::Server>(
      sim, observer, build_app(description_, observer, *threadpool_, options.streaming), options.server);
  for (std::size_t c = 0; c < description_.clients.size(); ++c) {
    core::ClientOptions client_options = options.client;
    client_options.name = fmt::format("client#{}", c + 1);
    clients_.push_back(std::make_unique<core::Client>(*server_, observer, client_options));
    sim.spawn(client_options.name, [client = clients_.back().get(),
                                    specs = request_specs(description_.clients[c])] { client->run(specs); });
  }
}

StackRun::~StackRun() = default;

std::vector<core::ClientRecord> StackRun::records() const {
  std::vector<core::ClientRecord> all;
  for (const auto& client : clients_)
    all.insert(all.end(), client->records().begin(), client->records().end());
  return all;
}

std::string StackRun::report() const {
  std::string text = describe(description_);
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    for (const core::ClientRecord& record : clients_[c]->records()) {
      text +=
          fmt::format("\nclient#{} request {}: disconnect {}, status {}, {} body byte(s), {}", c + 1,
                      record.request, core::to_string(record.plan.point), record.status, record.body.size(),
                      record.complete           ? "complete"
                      : record.disconnected     ? "client left"
                      : record.closed_by_server ? "closed by the server"
                                                : "unfinished");
    }
  }
  return text;
}

void start_stack(RunContext& run, StackDescription description, std::optional<core::ServerOptions> server) {
  StackOptions options{.streaming = run.stack.streaming, .server = server.value_or(run.stack.server)};
  options.threadpool.wake_order = run.stack.limiter_wake_order;
  auto stack = std::make_shared<StackRun>(run.sim, run.observer, std::move(description), options);
  run.params.threads_bound = options.threadpool.total_tokens;
  // The run's report needs the description and what the clients saw, so
  // describe keeps the stack (pool, server, clients) alive until the
  // engine is done with the run.
  run.describe = [stack] { return stack->report(); };
}

// ---- a scenario for one description -------------------------------------------------

namespace {

class DescribedStack final : public Scenario {
 public:
  DescribedStack(StackDescription description, std::string name) : description_(std::move(description)) {
    if (std::string why = validation_error(description_); !why.empty()) throw std::invalid_argument(why);
    info_.name = std::move(name);
    info_.title = summary(description_);
    info_.upstream = "a described stack (stack_description.hpp)";
    info_.buggy = {.versions = {}, .summary = "the behaviours the description names"};
    info_.fixed = {.versions = {}, .summary = "the behaviours the description names"};
    info_.invariants = stack_invariants();
    info_.steps_max = 500'000;
    info_.time_max_ns = 60 * sim::kSecond;
  }
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override { start_stack(run, description_); }

 private:
  StackDescription description_;
  ScenarioInfo info_;
};

}  // namespace

std::unique_ptr<Scenario> described_stack_scenario(StackDescription description, std::string name) {
  return std::make_unique<DescribedStack>(std::move(description), std::move(name));
}

}  // namespace asgisim::scenarios
