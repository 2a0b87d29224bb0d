// Request body reading for BaseHTTPMiddleware's dispatch (requests.py of
// 0.20 to 0.27 and of 0.28) and _CachedRequest.wrapped_receive (0.28.0).
#include "asgisim/core/middleware/dispatch_request.hpp"

#include <stdexcept>
#include <utility>

#include "asgisim/core/json_text.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

DispatchRequest::DispatchRequest(Scope& scope, Receive receive, StreamConsumedRule rule)
    : scope_(&scope), receive_(std::move(receive)), rule_(rule) {
  if (scope.type != "http")
    throw std::invalid_argument("Request needs an http scope, got '" + scope.type + "'");
}

const QueryParams& DispatchRequest::query_params() {
  if (!query_params_) query_params_.emplace(scope_->query_string);
  return *query_params_;
}

Message DispatchRequest::receive_message() {
  if (!receive_) throw std::runtime_error("Receive channel has not been made available");
  return receive_();
}

std::optional<Bytes> DispatchRequest::Stream::next() {
  DispatchRequest& request = *request_;
  const bool on_last = request.rule_ == StreamConsumedRule::on_last;
  switch (state_) {
    case State::fresh:
      if (request.body_) {
        state_ = State::cached_tail;
        return *request.body_;
      }
      if (request.stream_consumed_) {
        state_ = State::done;
        throw std::runtime_error("Stream consumed");
      }
      if (!on_last) request.stream_consumed_ = true;
      state_ = State::receiving;
      [[fallthrough]];
    case State::receiving:
      // 0.28: `while not self._stream_consumed`; before: `while True`.
      while (!(on_last && request.stream_consumed_)) {
        Message message;
        try {
          message = request.receive_message();
        } catch (...) {
          state_ = State::done;  // an exception closes the generator
          throw;
        }
        if (message.type == MessageType::http_request) {
          const bool last = !message.more_body;
          if (last) {
            if (on_last) request.stream_consumed_ = true;
            state_ = State::final_empty;
          }
          if (!message.body.empty()) return std::move(message.body);
          if (last) break;
        } else if (message.type == MessageType::http_disconnect) {
          request.is_disconnected_ = true;
          state_ = State::done;
          throw ClientDisconnect();
        }
      }
      [[fallthrough]];
    case State::final_empty:
    case State::cached_tail:
      state_ = State::done;
      return Bytes{};
    case State::done:
      return std::nullopt;
  }
  return std::nullopt;
}

Bytes DispatchRequest::body() {
  if (!body_) {
    Bytes joined;
    Stream chunks = stream();
    while (std::optional<Bytes> chunk = chunks.next()) joined += *chunk;
    body_ = std::move(joined);
  }
  return *body_;
}

std::string DispatchRequest::json() {
  if (!json_) json_ = check_json(body());
  return *json_;
}

bool DispatchRequest::is_disconnected() {
  if (!is_disconnected_) {
    std::optional<Message> message;
    if (!receive_) receive_message();  // raises like empty_receive()
    sim::cancel_scope([&](sim::CancelScope& scope) {
      scope.cancel();
      message = receive_();
    });
    if (message && message->type == MessageType::http_disconnect) is_disconnected_ = true;
  }
  return is_disconnected_;
}

Message DispatchRequest::wrapped_receive() {
  if (wrapped_receive_disconnected_) {
    // "we've already sent a disconnect to the downstream app"
    return Message::disconnect();
  }
  if (wrapped_receive_consumed_) {
    // "since the downstream app has consumed us all that is left is to send it a disconnect"
    if (is_disconnected_) {
      wrapped_receive_disconnected_ = true;
      return Message::disconnect();
    }
    Message message = receive_message();
    if (message.type != MessageType::http_disconnect) {
      throw std::runtime_error("Unexpected message received: " + std::string(to_string(message.type)));
    }
    if (remember_wrapped_disconnect_) wrapped_receive_disconnected_ = true;
    return message;
  }
  if (body_) {
    // "body() was called, we return it even if the client disconnected"
    wrapped_receive_consumed_ = true;
    return Message::request(*body_, /*more_body=*/false);
  }
  if (stream_consumed_) {
    // "stream() was called to completion: return an empty body so that
    // downstream apps don't hang waiting for a disconnect"
    wrapped_receive_consumed_ = true;
    return Message::request(Bytes{}, /*more_body=*/false);
  }
  // body() was never called and stream() was not consumed: one chunk
  // through a fresh generator.
  try {
    std::optional<Bytes> chunk = stream().next();
    wrapped_receive_consumed_ = stream_consumed_;
    return Message::request(chunk.value_or(Bytes{}), /*more_body=*/!stream_consumed_);
  } catch (const ClientDisconnect&) {
    wrapped_receive_disconnected_ = true;
    return Message::disconnect();
  }
}

}  // namespace asgisim::core
