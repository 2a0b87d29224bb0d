// Message type names and header lookup.
#include "asgisim/core/asgi.hpp"

#include <array>

#include "asgisim/sim/errors.hpp"

namespace asgisim::core {

namespace {
constexpr std::array<std::pair<MessageType, std::string_view>, 10> kTypeNames{{
    {MessageType::http_request, "http.request"},
    {MessageType::http_disconnect, "http.disconnect"},
    {MessageType::http_response_start, "http.response.start"},
    {MessageType::http_response_body, "http.response.body"},
    {MessageType::lifespan_startup, "lifespan.startup"},
    {MessageType::lifespan_startup_complete, "lifespan.startup.complete"},
    {MessageType::lifespan_startup_failed, "lifespan.startup.failed"},
    {MessageType::lifespan_shutdown, "lifespan.shutdown"},
    {MessageType::lifespan_shutdown_complete, "lifespan.shutdown.complete"},
    {MessageType::lifespan_shutdown_failed, "lifespan.shutdown.failed"},
}};
}  // namespace

std::string_view to_string(MessageType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "?";
}

std::optional<MessageType> parse_message_type(std::string_view text) {
  for (const auto& [t, name] : kTypeNames) {
    if (name == text) return t;
  }
  return std::nullopt;
}

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<Message> receive_or_cancelled(const Receive& receive) {
  if (const auto* sourced = receive.target<detail::SourcedReceive>())
    return sourced->source->receive_or_cancelled();
  return receive();
}

Message detail::SourcedReceive::operator()() const {
  std::optional<Message> message = source->receive_or_cancelled();
  if (!message) throw sim::Cancelled{};
  return std::move(*message);
}

}  // namespace asgisim::core
