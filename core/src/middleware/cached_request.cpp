// _CachedRequest.wrapped_receive as starlette/middleware/base.py has it
// (0.28.0; 0.38.3+ with the remembered disconnect).
#include "cached_request.hpp"

#include <optional>
#include <stdexcept>
#include <string>

namespace asgisim::core {

std::optional<Message> CachedRequest::wrapped_receive_or_cancelled() {
  if (wrapped_receive_disconnected_) {
    // "we've already sent a disconnect to the downstream app"
    return Message::disconnect();
  }
  if (wrapped_receive_consumed_) {
    // "since the downstream app has consumed us all that is left is to send it a disconnect"
    if (disconnect_seen()) {
      wrapped_receive_disconnected_ = true;
      return Message::disconnect();
    }
    std::optional<Message> message = receive_message_or_cancelled();
    if (!message) return std::nullopt;
    if (message->type != MessageType::http_disconnect) {
      throw std::runtime_error("Unexpected message received: " + std::string(to_string(message->type)));
    }
    if (remembers_disconnect_) wrapped_receive_disconnected_ = true;
    return message;
  }
  if (cached_body()) {
    // "body() was called, we return it even if the client disconnected"
    wrapped_receive_consumed_ = true;
    return Message::request(*cached_body(), /*more_body=*/false);
  }
  if (stream_consumed()) {
    // "stream() was called to completion: return an empty body so that
    // downstream apps don't hang waiting for a disconnect"
    wrapped_receive_consumed_ = true;
    return Message::request(Bytes{}, /*more_body=*/false);
  }
  // body() was never called and stream() was not consumed: one chunk
  // through a fresh generator.
  try {
    std::optional<Bytes> chunk = stream().next();
    wrapped_receive_consumed_ = stream_consumed();
    return Message::request(chunk.value_or(Bytes{}), /*more_body=*/!stream_consumed());
  } catch (const ClientDisconnect&) {
    wrapped_receive_disconnected_ = true;
    return Message::disconnect();
  }
}

}  // namespace asgisim::core
