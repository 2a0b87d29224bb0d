// Helpers for pure ASGI middleware, the style Starlette's documentation
// recommends instead of BaseHTTPMiddleware (Starlette 0.21+, "Pure ASGI
// Middleware"): wrap receive and send, and run the downstream call inside a
// context manager whose exit is reported to the observation spine, so that a
// checker can tell an exit that ran to the end from one that a cancellation
// cut short (DESIGN.md catalogue entry 2; comment on encode/starlette#1678,
// tested upstream by test_run_context_manager_exit_even_if_client_disconnects).
//
//   App app = context_manager_middleware(endpoint, {.name = "Session"});
//   App doubled = pure_asgi_middleware(endpoint, {.on_receive = [](Message m) {
//     m.body += m.body;
//     return m;
//   }});
//
//   async_with({.request = scope.request_id, .layer = "Db", .name = "session"},
//              [&] { app(scope, receive, send); },   // the body of `async with session:`
//              [&] { sim::sleep(5 * sim::kMillisecond); });  // __aexit__ awaits
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/types.hpp"

namespace asgisim::core {

// Under which names a context manager reports (to the run's observer).
struct ContextReport {
  RequestId request = 0;  // the scope's request_id
  std::string layer{};    // who reports (the middleware's name)
  std::string name{};     // the context manager (the observation's detail)
};

namespace detail {
void report_context(const ContextReport& report, ObservationKind kind, std::uint64_t value = 0,
                    std::string extra = {});
std::string describe_error(const std::exception_ptr& error);
}  // namespace detail

// `async with cm: body()` where cm.__aexit__ runs `exit`, which may await
// (sleep, wait on an event). Reports context_entered first. The exit runs
// whatever way the body ended, inside the same cancel scopes: after a
// cancellation every checkpoint in `exit` raises again (anyio's scopes are
// level-triggered), so an exit that awaits is cut short. Then it reports
//   context_exited (value 1 if the body ended by Cancelled) when `exit`
//     returned, and the body's exception, if any, propagates;
//   context_exit_cancelled (value as above) when `exit` raised Cancelled,
//     which propagates;
//   error_raised when `exit` raised anything else, which propagates.
// Simulation teardown (TaskUnwound) passes through without running `exit`.
template <class Body, class Exit>
void async_with(const ContextReport& report, Body&& body, Exit&& exit) {
  detail::report_context(report, ObservationKind::context_entered);
  std::exception_ptr body_error;
  bool body_cancelled = false;
  try {
    body();
  } catch (const sim::TaskUnwound&) {
    throw;
  } catch (const sim::Cancelled&) {
    body_cancelled = true;
    body_error = std::current_exception();
  } catch (...) {
    body_error = std::current_exception();
  }
  const std::uint64_t saw_cancel = body_cancelled ? 1 : 0;
  try {
    exit();
  } catch (const sim::TaskUnwound&) {
    throw;
  } catch (const sim::Cancelled&) {
    detail::report_context(report, ObservationKind::context_exit_cancelled, saw_cancel);
    throw;
  } catch (...) {
    detail::report_context(report, ObservationKind::error_raised, saw_cancel,
                           detail::describe_error(std::current_exception()));
    throw;
  }
  detail::report_context(report, ObservationKind::context_exited, saw_cancel);
  if (body_error) std::rethrow_exception(body_error);
}

// `with cm: body()` where cm.__exit__ runs `exit` synchronously: it must not
// block or checkpoint, so it always runs to the end; it may see the body's
// cancellation (reported as context_exited with value 1). `exit` may be empty.
template <class Body>
void sync_with(const ContextReport& report, Body&& body, const std::function<void()>& exit = {}) {
  detail::report_context(report, ObservationKind::context_entered);
  bool body_cancelled = false;
  try {
    body();
  } catch (const sim::TaskUnwound&) {
    throw;
  } catch (const sim::Cancelled&) {
    body_cancelled = true;
    if (exit) exit();
    detail::report_context(report, ObservationKind::context_exited, 1);
    throw;
  } catch (...) {
    if (exit) exit();
    detail::report_context(report, ObservationKind::context_exited, 0);
    throw;
  }
  if (exit) exit();
  detail::report_context(report, ObservationKind::context_exited, body_cancelled ? 1 : 0);
}

// A pure ASGI middleware that rewrites what crosses it. Empty hooks pass
// messages through unchanged.
struct PureAsgiHooks {
  // Sees every message the inner app's receive() returns; returns what the
  // inner app gets (e.g. the body doubled, as in upstream's
  // test_downstream_middleware_modifies_receive).
  std::function<Message(Message)> on_receive{};
  // Sees every message the inner app sends; returns what goes on, or
  // nullopt to drop it.
  std::function<std::optional<Message>(Message)> on_send{};
};
App pure_asgi_middleware(App app, PureAsgiHooks hooks);

// How the context manager of context_manager_middleware exits.
enum class ContextExit : std::uint8_t {
  // `async with`: __aexit__ awaits something (upstream's AsyncExitStack with
  // push_async_callback(sleep_and_set)); a cancellation cuts it short.
  async_awaits,
  // `with`: __exit__ does not await; it runs to the end but may see a
  // cancellation of the downstream call.
  sync,
};

struct ContextManagerMiddlewareOptions {
  // The layer name in observations and the context manager's name.
  std::string name = "ContextManagerMiddleware";
  ContextExit exit = ContextExit::async_awaits;
  // What an async exit awaits; empty: sleep(exit_sleep_ns). For a sync exit
  // it runs as is and must not block.
  std::function<void()> exit_work{};
  // Upstream's sleep_and_set awaits anyio.sleep(0.1).
  sim::Nanoseconds exit_sleep_ns = 100 * sim::kMillisecond;
};

// A pure ASGI middleware whose __call__ is
//   async with cm:  (or `with cm:`)
//       await self.app(scope, receive, send)
// for http scopes; other scopes pass straight through.
App context_manager_middleware(App app, ContextManagerMiddlewareOptions options = {});

}  // namespace asgisim::core
