// Request body reading as starlette/requests.py does it (0.26.1; 0.28.0's
// stream() under StreamConsumedRule::on_last).
#include "asgisim/core/request.hpp"

#include <stdexcept>
#include <utility>

#include "asgisim/core/json_text.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

Request::Request(Scope& scope, Receive receive, Send send, StreamConsumedRule rule)
    : scope_(&scope), receive_(std::move(receive)), send_(std::move(send)), rule_(rule) {
  if (scope.type != "http")
    throw std::invalid_argument("Request needs an http scope, got '" + scope.type + "'");
}

const QueryParams& Request::query_params() {
  if (!query_params_) query_params_.emplace(scope_->query_string);
  return *query_params_;
}

Message Request::receive_message() {
  if (!receive_) throw std::runtime_error("Receive channel has not been made available");
  return receive_();
}

std::optional<Message> Request::receive_message_or_cancelled() {
  if (!receive_) throw std::runtime_error("Receive channel has not been made available");
  return receive_or_cancelled(receive_);
}

std::optional<Bytes> Request::Stream::next() {
  Request& request = *request_;
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

Bytes Request::body() {
  if (!body_) {
    Bytes joined;
    Stream chunks = stream();
    while (std::optional<Bytes> chunk = chunks.next()) joined += *chunk;
    body_ = std::move(joined);
  }
  return *body_;
}

std::string Request::json() {
  if (!json_) json_ = check_json(body());
  return *json_;
}

bool Request::is_disconnected() {
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

}  // namespace asgisim::core
