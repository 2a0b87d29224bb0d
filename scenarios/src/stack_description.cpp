// Stack descriptions: names, validation, text, and drawing one from the
// choice stream (the builder is in stack_run.cpp).
#include "asgisim/scenarios/stack_description.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

#include "asgisim/sim/assert.hpp"

namespace asgisim::scenarios {

// ---- names -------------------------------------------------------------------

std::string_view to_string(MiddlewareKind kind) {
  switch (kind) {
    case MiddlewareKind::pure_asgi_passthrough:
      return "pure_asgi_passthrough";
    case MiddlewareKind::pure_asgi_context:
      return "pure_asgi_context";
    case MiddlewareKind::base_http_passthrough:
      return "base_http_passthrough";
    case MiddlewareKind::base_http_reads_body:
      return "base_http_reads_body";
    case MiddlewareKind::base_http_own_response:
      return "base_http_own_response";
    case MiddlewareKind::server_error:
      return "server_error";
    case MiddlewareKind::exception:
      return "exception";
  }
  return "?";
}

bool is_base_http(MiddlewareKind kind) {
  return kind == MiddlewareKind::base_http_passthrough || kind == MiddlewareKind::base_http_reads_body ||
         kind == MiddlewareKind::base_http_own_response;
}

std::string_view to_string(ResponseKind kind) { return kind == ResponseKind::plain ? "plain" : "streaming"; }

std::string_view to_string(BodyRead read) {
  switch (read) {
    case BodyRead::none:
      return "none";
    case BodyRead::body:
      return "body";
    case BodyRead::stream:
      return "stream";
  }
  return "?";
}

std::string_view to_string(RaisePoint point) {
  switch (point) {
    case RaisePoint::never:
      return "never";
    case RaisePoint::before_start:
      return "before_start";
    case RaisePoint::in_stream:
      return "in_stream";
    case RaisePoint::in_background:
      return "in_background";
  }
  return "?";
}

std::string_view to_string(BackgroundKind kind) {
  switch (kind) {
    case BackgroundKind::none:
      return "none";
    case BackgroundKind::async_task:
      return "async";
    case BackgroundKind::sync_task:
      return "sync";
  }
  return "?";
}

const std::vector<core::BaseHttpBehaviour>& all_base_http_behaviours() {
  static const std::vector<core::BaseHttpBehaviour> behaviours{
      core::BaseHttpBehaviour::cancel_drain, core::BaseHttpBehaviour::cancel,
      core::BaseHttpBehaviour::disconnect,   core::BaseHttpBehaviour::no_break,
      core::BaseHttpBehaviour::cached_body,  core::BaseHttpBehaviour::fixed,
      core::BaseHttpBehaviour::no_listener,  core::BaseHttpBehaviour::dispatch_background,
      core::BaseHttpBehaviour::reraise,      core::BaseHttpBehaviour::reraise_once,
  };
  return behaviours;
}

const std::vector<std::string>& stack_invariants() {
  // head-no-body judges the HEAD requests draw_stack makes. request-latency and memory-budget need
  // budgets a generic stack does not have; threads-bounded gets the thread
  // limiter's size from start_stack().
  static const std::vector<std::string> ids{
      "start-once",        "body-after-start",     "response-complete",
      "content-length",    "head-no-body",         "no-send-after-disconnect",
      "disconnect-sticky", "receive-order",        "background-complete",
      "cleanup-runs",      "response-not-delayed", "no-swallowed-error",
      "threads-bounded",
  };
  return ids;
}

// ---- validation and text ------------------------------------------------------

std::string validation_error(const StackDescription& description) {
  const EndpointDescription& endpoint = description.endpoint;
  const bool sync = endpoint.kind == core::EndpointKind::sync_def;
  if (sync && endpoint.reads_body != BodyRead::none)
    return "a sync endpoint cannot read the body (it cannot await)";
  if (endpoint.response == ResponseKind::plain && endpoint.chunks != 0)
    return "a plain response has no chunks";
  if (endpoint.raises == RaisePoint::in_stream && endpoint.response != ResponseKind::streaming) {
    return "raises in_stream needs a streaming response";
  }
  if (endpoint.raises == RaisePoint::in_background && endpoint.background == BackgroundKind::none) {
    return "raises in_background needs a background task";
  }
  if (endpoint.background_pauses == 0) return "background_pauses must be at least 1";
  if (description.clients.empty()) return "a stack needs at least one client";
  for (const ClientDescription& client : description.clients) {
    if (client.requests.empty()) return "every client needs at least one request";
  }
  return {};
}

namespace {

std::string middleware_text(const MiddlewareDescription& middleware) {
  if (is_base_http(middleware.kind)) {
    return fmt::format("{}({})", to_string(middleware.kind), core::to_string(middleware.behaviour));
  }
  if (middleware.kind == MiddlewareKind::pure_asgi_context) {
    return fmt::format("pure_asgi_context({}, exit {} ns)",
                       middleware.exit == core::ContextExit::sync ? "sync with" : "async with",
                       middleware.exit_sleep_ns);
  }
  return std::string(to_string(middleware.kind));
}

std::string endpoint_text(const EndpointDescription& endpoint) {
  std::string text =
      fmt::format("{} endpoint, {} response", core::to_string(endpoint.kind), to_string(endpoint.response));
  if (endpoint.response == ResponseKind::streaming) text += fmt::format(" of {} chunk(s)", endpoint.chunks);
  text +=
      fmt::format(", reads body: {}, raises: {}", to_string(endpoint.reads_body), to_string(endpoint.raises));
  if (endpoint.background != BackgroundKind::none) {
    text += fmt::format(", {} background task of {} ns in {} pause(s)", to_string(endpoint.background),
                        endpoint.background_ns, endpoint.background_pauses);
  }
  return text;
}

std::string disconnect_text(const std::optional<core::Disconnect>& disconnect) {
  if (!disconnect) return "chosen by the client";
  return fmt::format("{} (count {}, delay {} ns)", core::to_string(disconnect->point), disconnect->count,
                     disconnect->delay_ns);
}

}  // namespace

std::string describe(const StackDescription& description) {
  std::string text = "middleware, outermost first:";
  if (description.middleware.empty()) text += " none";
  for (std::size_t i = 0; i < description.middleware.size(); ++i) {
    text += fmt::format("\n  #{} {}", i + 1, middleware_text(description.middleware[i]));
  }
  // Not `"\n" + endpoint_text(...)`: GCC 12 at -O3 reports a false -Wrestrict in
  // libstdc++'s operator+(const char*, std::string&&) (GCC bug 105651).
  text += fmt::format("\n{}", endpoint_text(description.endpoint));
  for (std::size_t c = 0; c < description.clients.size(); ++c) {
    text += fmt::format("\nclient#{}:", c + 1);
    for (const RequestDescription& request : description.clients[c].requests) {
      text += fmt::format(" [{} {} byte(s), disconnect {}]", request.method, request.body_bytes,
                          disconnect_text(request.disconnect));
    }
  }
  return text;
}

std::string summary(const StackDescription& description) {
  std::string text;
  for (const MiddlewareDescription& middleware : description.middleware)
    text += middleware_text(middleware) + " > ";
  const EndpointDescription& endpoint = description.endpoint;
  text += fmt::format("endpoint({} {}", core::to_string(endpoint.kind), to_string(endpoint.response));
  if (endpoint.background != BackgroundKind::none)
    text += fmt::format(" bg:{}", to_string(endpoint.background));
  if (endpoint.raises != RaisePoint::never) text += fmt::format(" raises:{}", to_string(endpoint.raises));
  return text + fmt::format(") x{} client(s)", description.clients.size());
}

// ---- drawing from the choice stream ---------------------------------------------

namespace {

using sim::Label;
using sim::Stream;

// 0, a quarter, a half, three quarters or all of `max_ns`.
sim::Nanoseconds draw_duration(sim::Simulation& sim, Label label, sim::Nanoseconds max_ns) {
  return static_cast<sim::Nanoseconds>(sim.choose(label, 5)) * (max_ns / 4);
}

MiddlewareDescription draw_middleware(sim::Simulation& sim, const DrawOptions& options) {
  MiddlewareDescription middleware;
  middleware.kind =
      static_cast<MiddlewareKind>(sim.choose({"stack.middleware", Stream::other}, kMiddlewareKindCount));
  if (is_base_http(middleware.kind)) {
    middleware.behaviour =
        options.behaviours[sim.choose({"stack.base_http", Stream::other}, options.behaviours.size())];
  }
  if (middleware.kind == MiddlewareKind::pure_asgi_context) {
    middleware.exit = sim.choose({"stack.context_exit", Stream::other}, 2) == 0
                          ? core::ContextExit::async_awaits
                          : core::ContextExit::sync;
    if (middleware.exit == core::ContextExit::async_awaits) {
      middleware.exit_sleep_ns =
          draw_duration(sim, {"stack.context_exit_ns", Stream::other}, options.work_max_ns);
    }
  }
  return middleware;
}

RaisePoint draw_raise_point(sim::Simulation& sim, const EndpointDescription& endpoint) {
  // One endpoint in four raises: often enough to exercise error paths, rare
  // enough that most stacks reach their background work.
  if (sim.choose({"endpoint.raises", Stream::faults}, 4) != 3) return RaisePoint::never;
  std::vector<RaisePoint> points{RaisePoint::before_start};
  if (endpoint.response == ResponseKind::streaming) points.push_back(RaisePoint::in_stream);
  if (endpoint.background != BackgroundKind::none) points.push_back(RaisePoint::in_background);
  return points[sim.choose({"endpoint.raise_point", Stream::faults}, points.size())];
}

EndpointDescription draw_endpoint(sim::Simulation& sim, const DrawOptions& options) {
  EndpointDescription endpoint;
  endpoint.kind = sim.choose({"endpoint.kind", Stream::other}, 2) == 0 ? core::EndpointKind::async_def
                                                                       : core::EndpointKind::sync_def;
  endpoint.response = sim.choose({"endpoint.response", Stream::other}, 2) == 0 ? ResponseKind::plain
                                                                               : ResponseKind::streaming;
  if (endpoint.response == ResponseKind::streaming) {
    endpoint.chunks =
        static_cast<std::uint32_t>(sim.choose({"endpoint.chunks", Stream::other}, options.chunks_max + 1));
  }
  if (endpoint.kind == core::EndpointKind::async_def) {
    endpoint.reads_body = static_cast<BodyRead>(sim.choose({"endpoint.reads_body", Stream::other}, 3));
  }
  endpoint.background = static_cast<BackgroundKind>(sim.choose({"endpoint.background", Stream::other}, 3));
  if (endpoint.background != BackgroundKind::none) {
    endpoint.background_ns =
        draw_duration(sim, {"endpoint.background_ns", Stream::other}, options.work_max_ns);
    endpoint.background_pauses =
        1 + static_cast<std::uint32_t>(sim.choose({"endpoint.background_pauses", Stream::other}, 3));
  }
  endpoint.raises = draw_raise_point(sim, endpoint);
  return endpoint;
}

}  // namespace

StackDescription draw_stack(sim::Simulation& sim, const DrawOptions& options) {
  if (options.behaviours.empty())
    throw std::invalid_argument("draw_stack needs at least one BaseHTTPMiddleware behaviour");
  StackDescription description;
  const std::uint64_t depth = sim.choose({"stack.depth", Stream::other}, options.middleware_max + 1);
  for (std::uint64_t i = 0; i < depth; ++i) description.middleware.push_back(draw_middleware(sim, options));
  description.endpoint = draw_endpoint(sim, options);
  const std::uint64_t clients = 1 + sim.choose({"clients.count", Stream::clients}, options.clients_max);
  for (std::uint64_t c = 0; c < clients; ++c) {
    ClientDescription client;
    const std::uint64_t requests =
        1 + sim.choose({"clients.requests", Stream::clients}, options.requests_per_client_max);
    for (std::uint64_t r = 0; r < requests; ++r) {
      const auto body_bytes = static_cast<std::size_t>(
          sim.choose({"clients.body_bytes", Stream::clients}, options.body_bytes_max + 1));
      // A drawn size of one byte is a HEAD request (no body): the app answers
      // it with a body, which the server must keep off the wire
      // (head-no-body). Taken from the size, not from a choice of its own, so
      // every recorded choice stream (fuzz corpora, the canary's crash input)
      // keeps its meaning.
      if (options.head_requests && body_bytes == 1) {
        client.requests.push_back({.method = "HEAD", .body_bytes = 0});
      } else {
        client.requests.push_back({.body_bytes = body_bytes});
      }
    }
    description.clients.push_back(std::move(client));
  }
  ASGISIM_ASSERT(validation_error(description).empty());
  return description;
}

}  // namespace asgisim::scenarios
