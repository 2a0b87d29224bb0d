// The ASGI protocol validator: the boundary wrapper that reports messages, the
// chain builder, and the Checker that judges message order per conversation.
#include "asgisim/core/validator.hpp"

#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <utility>

#include "asgisim/sim/assert.hpp"

namespace asgisim::core {

namespace {

// What one validate_boundary wrapper shares between its calls.
struct Boundary {
  std::string layer{};  // "outer->inner"
  Observer* observer = nullptr;
  std::uint64_t calls = 0;
};

// Content-Length as a number; nullopt when absent or not a plain decimal
// (then it cannot be judged).
std::optional<std::uint64_t> parse_content_length(const Headers& headers) {
  const std::optional<std::string_view> value = find_header(headers, "content-length");
  if (!value) return std::nullopt;
  std::string_view text = *value;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  std::uint64_t length = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, length);
  if (text.empty() || error != std::errc{} || ptr != end) return std::nullopt;
  return length;
}

bool is_http_message(MessageType type) {
  return type == MessageType::http_request || type == MessageType::http_disconnect ||
         type == MessageType::http_response_start || type == MessageType::http_response_body;
}

// "outer->inner" split into its two names; a layer without an arrow names both.
std::pair<std::string_view, std::string_view> split_boundary(std::string_view layer) {
  const std::size_t arrow = layer.find("->");
  if (arrow == std::string_view::npos) return {layer, layer};
  return {layer.substr(0, arrow), layer.substr(arrow + 2)};
}

// A boundary's receive: reports each message the inner app receives. A
// cancelled receive reports nothing, thrown or as a value.
class ObservedReceive final : public detail::ReceiveSource {
 public:
  ObservedReceive(std::shared_ptr<Boundary> boundary, Receive receive, RequestId request, std::uint64_t call,
                  std::string detail)
      : boundary_(std::move(boundary)),
        receive_(std::move(receive)),
        request_(request),
        call_(call),
        detail_(std::move(detail)) {}

  std::optional<Message> receive_or_cancelled() const override {
    std::optional<Message> message = core::receive_or_cancelled(receive_);
    if (message) {
      boundary_->observer->observe({.kind = ObservationKind::received,
                                    .request = request_,
                                    .layer = boundary_->layer,
                                    .message = *message,
                                    .detail = detail_,
                                    .value = call_,
                                    .reporter = Reporter::boundary});
    }
    return message;
  }

 private:
  std::shared_ptr<Boundary> boundary_;
  Receive receive_;
  RequestId request_;
  std::uint64_t call_;
  std::string detail_;
};

}  // namespace

// ---- the boundary wrapper ----------------------------------------------------------

App validate_boundary(App inner, std::string outer_name, std::string inner_name, Observer& observer) {
  ASGISIM_ASSERT(inner, "validate_boundary needs an app to wrap");
  ASGISIM_ASSERT(outer_name.find("->") == std::string::npos && inner_name.find("->") == std::string::npos);
  auto boundary = std::make_shared<Boundary>(
      Boundary{.layer = outer_name + "->" + inner_name, .observer = &observer, .calls = 0});
  return [inner = std::move(inner), boundary](Scope& scope, const Receive& receive, const Send& send) {
    const std::uint64_t call = ++boundary->calls;
    const RequestId request = scope.request_id;
    std::string detail = scope.type + " " + scope.method;
    // The wrappers copy what they use: an inner app may keep receive/send
    // (a task it spawned) past the end of this call.
    const Receive observed_receive =
        detail::SourcedReceive{std::make_shared<ObservedReceive>(boundary, receive, request, call, detail)};
    Send observed_send = [boundary, send, request, call, detail](Message message) {
      boundary->observer->observe({.kind = ObservationKind::sent,
                                   .request = request,
                                   .layer = boundary->layer,
                                   .message = message,
                                   .detail = detail,
                                   .value = call,
                                   .reporter = Reporter::boundary});
      send(std::move(message));
    };
    inner(scope, observed_receive, observed_send);
  };
}

App validated_chain(std::vector<NamedMiddleware> middleware, App endpoint, Observer& observer,
                    std::string endpoint_name, std::string server_name) {
  ASGISIM_ASSERT(endpoint, "validated_chain needs an endpoint");
  std::string inner_name = std::move(endpoint_name);
  App app = std::move(endpoint);
  // Build from the inside out: validate the boundary above the current app,
  // then wrap it in the next middleware out.
  for (std::size_t i = middleware.size(); i-- > 0;) {
    NamedMiddleware& layer = middleware[i];
    ASGISIM_ASSERT(layer.wrap, "every NamedMiddleware needs a wrap function");
    app = validate_boundary(std::move(app), layer.name, inner_name, observer);
    app = layer.wrap(std::move(app));
    ASGISIM_ASSERT(app, "a middleware's wrap returned no app");
    inner_name = layer.name;
  }
  return validate_boundary(std::move(app), std::move(server_name), std::move(inner_name), observer);
}

// ---- the checker -----------------------------------------------------------------

ProtocolValidator::Conversation& ProtocolValidator::conversation(const Observation& observation) {
  auto [boundary, inserted] =
      boundary_ids_.try_emplace(observation.layer, static_cast<std::uint32_t>(boundary_ids_.size()));
  (void)inserted;
  auto [it, created] =
      conversations_.try_emplace(Key{boundary->second, observation.request, observation.value});
  Conversation& state = it->second;
  if (created) {
    // detail = "<scope type> <method>" (see validate_boundary).
    const std::string_view detail = observation.detail;
    const std::size_t space = detail.find(' ');
    const std::string_view type = detail.substr(0, space);
    const std::string_view method = space == std::string_view::npos ? "" : detail.substr(space + 1);
    state.scope = type == "http"       ? ScopeKind::http
                  : type == "lifespan" ? ScopeKind::lifespan
                                       : ScopeKind::unknown;
    state.head = method == "HEAD";
  }
  return state;
}

void ProtocolValidator::judge_wire(const Observation& observation, Observer& observer) {
  if (observation.kind == ObservationKind::request_started) {
    // detail = "<method> <path>" (ServerCore::run_asgi)
    if (observation.detail.starts_with("HEAD ")) head_requests_.insert(observation.request);
    return;
  }
  ASGISIM_ASSERT(observation.kind == ObservationKind::client_got_body);
  if (observation.value == 0 || !head_requests_.contains(observation.request)) return;
  if (!head_reported_.insert(observation.request).second) return;
  observer.report({.invariant = std::string(invariant_id::kHeadNoBody),
                   .layer = "server",
                   .request = observation.request,
                   .time_ns = observation.time_ns,
                   .detail = fmt::format("the client of a HEAD request received {} body bytes on the wire",
                                         observation.value)});
}

void ProtocolValidator::observe(const Observation& observation, Observer& observer) {
  if (observation.kind == ObservationKind::request_started ||
      observation.kind == ObservationKind::client_got_body) {
    judge_wire(observation, observer);
    return;
  }
  if (observation.kind != ObservationKind::received && observation.kind != ObservationKind::sent) return;
  if (!observation.message) return;
  Conversation& state = conversation(observation);
  if (state.failed || state.scope == ScopeKind::unknown) return;
  if (observation.kind == ObservationKind::sent) {
    judge_sent(state, *observation.message, observation, observer);
  } else {
    judge_received(state, *observation.message, observation, observer);
  }
  // Postconditions: the state machine never runs backwards.
  ASGISIM_ASSERT(!state.response_done || state.start_sent || state.failed);
}

void ProtocolValidator::judge_sent(Conversation& state, const Message& message,
                                   const Observation& observation, Observer& observer) {
  const MessageType type = message.type;
  if (state.scope == ScopeKind::lifespan) {
    const bool legal =
        type == MessageType::lifespan_startup_complete || type == MessageType::lifespan_startup_failed ||
        type == MessageType::lifespan_shutdown_complete || type == MessageType::lifespan_shutdown_failed;
    if (!legal && options_.check_message_types) {
      report(state, observation, observer, invariant_id::kMessageType,
             fmt::format("the app sent {} in a lifespan scope", to_string(type)));
    }
    return;
  }
  ASGISIM_ASSERT(state.scope == ScopeKind::http);
  if (type != MessageType::http_response_start && type != MessageType::http_response_body) {
    if (options_.check_message_types) {
      report(state, observation, observer, invariant_id::kMessageType,
             is_http_message(type)
                 ? fmt::format("the app sent {}, which only a server sends", to_string(type))
                 : fmt::format("the app sent {} in an http scope", to_string(type)));
    }
    return;
  }

  if (state.disconnected && !state.warned) {
    const bool warning = !options_.send_after_disconnect_is_error;
    report(state, observation, observer, invariant_id::kNoSendAfterDisconnect,
           fmt::format("the app sent {} after its receive() returned http.disconnect", to_string(type)),
           warning);
    if (state.failed) return;
  }

  if (type == MessageType::http_response_start) {
    if (state.start_sent) {
      report(state, observation, observer, invariant_id::kStartOnce,
             fmt::format("a second http.response.start (status {}; the first had status {})", message.status,
                         state.status));
      return;
    }
    state.start_sent = true;
    state.status = message.status;
    state.content_length = parse_content_length(message.headers);
    return;
  }

  // http.response.body
  if (!state.start_sent) {
    report(state, observation, observer, invariant_id::kBodyAfterStart,
           "http.response.body before http.response.start");
    return;
  }
  if (state.response_done) {
    report(state, observation, observer, invariant_id::kBodyAfterStart,
           fmt::format("http.response.body ({} bytes) after the final one (more_body=false)",
                       message.body.size()));
    return;
  }
  // A body for HEAD is legal here: the server keeps it off the wire, where
  // head-no-body is judged (judge_wire).
  state.body_bytes += message.body.size();
  state.response_done = !message.more_body;
  const bool judge_length = state.content_length && !state.head && state.status != 304;
  if (judge_length && state.body_bytes > *state.content_length) {
    report(state, observation, observer, invariant_id::kContentLength,
           fmt::format("{} body bytes sent, more than Content-Length {}", state.body_bytes,
                       *state.content_length));
  } else if (judge_length && state.response_done && state.body_bytes != *state.content_length) {
    report(state, observation, observer, invariant_id::kContentLength,
           fmt::format("the response ended after {} body bytes, Content-Length is {}", state.body_bytes,
                       *state.content_length));
  }
}

void ProtocolValidator::judge_received(Conversation& state, const Message& message,
                                       const Observation& observation, Observer& observer) {
  const MessageType type = message.type;
  if (state.scope == ScopeKind::lifespan) {
    const bool legal = type == MessageType::lifespan_startup || type == MessageType::lifespan_shutdown;
    if (!legal && options_.check_message_types) {
      report(state, observation, observer, invariant_id::kMessageType,
             fmt::format("receive() returned {} in a lifespan scope", to_string(type)));
    }
    return;
  }
  ASGISIM_ASSERT(state.scope == ScopeKind::http);
  if (type != MessageType::http_request && type != MessageType::http_disconnect) {
    if (options_.check_message_types) {
      report(state, observation, observer, invariant_id::kMessageType,
             is_http_message(type)
                 ? fmt::format("receive() returned {}, which only an app sends", to_string(type))
                 : fmt::format("receive() returned {} in an http scope", to_string(type)));
    }
    return;
  }
  if (state.disconnected) {
    if (type != MessageType::http_disconnect) {
      report(state, observation, observer, invariant_id::kDisconnectSticky,
             fmt::format("receive() returned {} after it had returned http.disconnect", to_string(type)));
    }
    return;
  }
  if (type == MessageType::http_disconnect) {
    state.disconnected = true;
    return;
  }
  // http.request
  if (state.request_done) {
    report(state, observation, observer, invariant_id::kReceiveOrder,
           fmt::format("receive() returned http.request ({} bytes) after the one with more_body=false",
                       message.body.size()));
    return;
  }
  state.request_done = !message.more_body;
}

void ProtocolValidator::report(Conversation& state, const Observation& observation, Observer& observer,
                               std::string_view invariant, std::string detail, bool warning) {
  ASGISIM_ASSERT(!state.failed, "a conversation reports one failure at most");
  const auto [outer, inner] = split_boundary(observation.layer);
  const bool sent = observation.kind == ObservationKind::sent;
  const std::string_view blamed = sent ? inner : outer;
  if (warning) {
    state.warned = true;
  } else {
    state.failed = true;
  }
  // A sent message travels outwards: at "A->B" it echoes a violation already
  // found at "B->C". A received one travels inwards: at "B->C" it echoes one
  // found at "A->B". Record this one either way, so the chain continues.
  const std::string_view adjacent = sent ? inner : outer;
  const bool echo =
      reported_.count({sent, observation.request, std::string(invariant), std::string(adjacent)}) > 0;
  reported_.insert({sent, observation.request, std::string(invariant), std::string(sent ? outer : inner)});
  if (echo && !options_.report_echoes) return;
  observer.report({.invariant = std::string(invariant),
                   .layer = std::string(blamed),
                   .request = observation.request,
                   .time_ns = observation.time_ns,
                   .detail = fmt::format("{} (at boundary {})", detail, observation.layer),
                   .warning = warning});
}

}  // namespace asgisim::core
