// Pure ASGI middleware helpers: reporting context managers, receive/send
// rewriting, and the context-manager middleware of catalogue entry 2.
#include "asgisim/core/middleware/pure_asgi.hpp"

#include <utility>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

namespace detail {

void report_context(const ContextReport& report, ObservationKind kind, std::uint64_t value,
                    std::string extra) {
  std::string text = extra.empty() ? report.name : report.name + ": " + extra;
  observe(Observation{.kind = kind,
                      .request = report.request,
                      .layer = report.layer,
                      .message = std::nullopt,
                      .detail = std::move(text),
                      .value = value,
                      .reporter = Reporter::context_manager});
}

std::string describe_error(const std::exception_ptr& error) { return sim::describe(error); }

}  // namespace detail

App pure_asgi_middleware(App app, PureAsgiHooks hooks) {
  return [app = std::move(app), hooks = std::move(hooks)](Scope& scope, const Receive& receive,
                                                          const Send& send) {
    const Receive wrapped_receive = [&]() -> Message {
      Message message = receive();
      return hooks.on_receive ? hooks.on_receive(std::move(message)) : message;
    };
    const Send wrapped_send = [&](Message message) {
      if (!hooks.on_send) {
        send(std::move(message));
        return;
      }
      if (std::optional<Message> out = hooks.on_send(std::move(message))) send(std::move(*out));
    };
    app(scope, wrapped_receive, wrapped_send);
  };
}

App context_manager_middleware(App app, ContextManagerMiddlewareOptions options) {
  return [app = std::move(app), options = std::move(options)](Scope& scope, const Receive& receive,
                                                              const Send& send) {
    if (scope.type != "http") {
      app(scope, receive, send);
      return;
    }
    const ContextReport report{.request = scope.request_id, .layer = options.name, .name = options.name};
    const auto downstream = [&] { app(scope, receive, send); };
    if (options.exit == ContextExit::sync) {
      sync_with(report, downstream, options.exit_work);
      return;
    }
    async_with(report, downstream, [&] {
      if (options.exit_work) {
        options.exit_work();
      } else {
        sim::sleep(options.exit_sleep_ns);
      }
    });
  };
}

}  // namespace asgisim::core
