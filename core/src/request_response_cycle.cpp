// uvicorn's RequestResponseCycle: receive() and send() for one request, with
// the checks of http.response.start (status, header bytes, framing) and the
// body accounting against Content-Length.
#include "request_response_cycle.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string>
#include <string_view>

#include "asgisim/sim/assert.hpp"

namespace asgisim::core {

namespace {

// RFC 9110 token characters: what a header name may contain.
bool is_token_byte(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Control bytes other than TAB, and DEL, may not appear in a header value.
bool is_bad_value_byte(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7F; }

// Bytes as a readable string: control and non-ASCII bytes become \xNN.
std::string printable(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F || c == '\\') {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void RequestResponseCycle::fail(std::string message) {
  protocol_error_raised = true;
  core->observe(ObservationKind::protocol_error, id, message);
  throw ProtocolError(message);
}

std::optional<Message> RequestResponseCycle::receive_or_cancelled() {
  if (!disconnected && !response_complete) {
    connection.resume_reading();
    if (!message_event.wait_unless_cancelled()) return std::nullopt;
    message_event.clear();
  }
  Message message = Message::disconnect();
  if (!disconnected && !response_complete) {
    message = Message::request(std::move(body), more_body);
    body.clear();
  }
  if (core->options.observe_messages) core->observe(ObservationKind::received, id, {}, 0, &message);
  return message;
}

bool RequestResponseCycle::send(Message message, bool from_server) {
  check_invariants();
  if (connection.write_paused_ && !disconnected) connection.writable_.wait();  // flow.drain()
  if (!from_server && core->options.observe_messages)
    core->observe(ObservationKind::sent, id, {}, 0, &message);
  if (disconnected) {
    const bool raise = !from_server && core->options.send_after_disconnect == SendAfterDisconnect::raise;
    core->observe(ObservationKind::send_dropped, id,
                  raise ? "raised ClientDisconnected" : "client disconnected", 0, &message);
    if (raise) throw ClientDisconnected();
    return false;
  }
  if (!response_started) {
    if (message.type != MessageType::http_response_start) {
      fail(
          fmt::format("Expected ASGI message 'http.response.start', but got '{}'.", to_string(message.type)));
    }
    start_response(message);
  } else if (!response_complete) {
    if (message.type != MessageType::http_response_body) {
      fail(fmt::format("Expected ASGI message 'http.response.body', but got '{}'.", to_string(message.type)));
    }
    send_body(message);
  } else {
    fail(fmt::format("Unexpected ASGI message '{}' sent, after response already completed.",
                     to_string(message.type)));
  }
  check_invariants();
  return true;
}

void RequestResponseCycle::start_response(const Message& message) {
  ASGISIM_ASSERT(!response_started && !response_complete, "request {} started its response twice", id);
  // uvicorn marks the response started before it validates anything, so a bad
  // start message closes the connection instead of giving a 500.
  response_started = true;
  if (message.status < 100 || message.status > 599) {
    fail(fmt::format("Invalid HTTP status code {} in 'http.response.start' (must be 100 to 599).",
                     message.status));
  }
  Headers headers = message.headers;
  const Header close_header{"connection", "close"};
  auto has_close = [&](const Headers& list) {
    for (const Header& header : list) {
      if (header == close_header) return true;
    }
    return false;
  };
  if (has_close(scope.headers) && !has_close(headers)) headers.push_back(close_header);
  for (auto& [name, value] : headers) {
    if (name.empty()) fail("Invalid HTTP header name '' in 'http.response.start': empty.");
    for (const char c : name) {
      if (!is_token_byte(static_cast<unsigned char>(c))) {
        fail(fmt::format(
            "Invalid HTTP header name '{}' in 'http.response.start': byte 0x{:02x} is not allowed.",
            printable(name), static_cast<unsigned char>(c)));
      }
    }
    for (const char c : value) {
      if (is_bad_value_byte(static_cast<unsigned char>(c))) {
        fail(
            fmt::format("Invalid HTTP header value '{}' for '{}' in 'http.response.start': byte 0x{:02x} is "
                        "not allowed.",
                        printable(value), printable(name), static_cast<unsigned char>(c)));
      }
    }
    name = detail::lower(name);
    if (name == "content-length" && !framing_known) {
      std::uint64_t length = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (value.empty() || error != std::errc() || end != value.data() + value.size()) {
        fail(fmt::format("Invalid Content-Length value '{}' in 'http.response.start'.", printable(value)));
      }
      expected_content_length = length;
      framing_known = true;
    } else if (name == "transfer-encoding" && detail::lower(value) == "chunked") {
      expected_content_length = 0;
      chunked = true;
      framing_known = true;
    } else if (name == "connection" && detail::lower(value) == "close") {
      keep_alive = false;
      close_reason = "connection: close";
    }
  }
  if (!framing_known && scope.method != "HEAD" && message.status != 204 && message.status != 304) {
    chunked = true;
    framing_known = true;
    headers.emplace_back("transfer-encoding", "chunked");
  }
  connection.write(
      {.kind = ResponseEvent::Kind::start, .status = message.status, .headers = std::move(headers)});
}

void RequestResponseCycle::send_body(const Message& message) {
  ASGISIM_ASSERT(response_started && !response_complete && !disconnected);
  const std::uint64_t size = message.body.size();
  if (scope.method == "HEAD") {
    expected_content_length = 0;  // the server strips the body of a HEAD response
  } else if (chunked) {
    if (size > 0) connection.write({.kind = ResponseEvent::Kind::body, .body = message.body});
    body_bytes_sent += size;
  } else {
    if (size > expected_content_length) {
      fail(fmt::format("Response content longer than Content-Length: {} more byte(s) declared, {} sent.",
                       expected_content_length, size));
    }
    expected_content_length -= size;
    if (size > 0) connection.write({.kind = ResponseEvent::Kind::body, .body = message.body});
    body_bytes_sent += size;
  }
  if (message.more_body) return;
  if (expected_content_length != 0) {
    fail(fmt::format("Response content shorter than Content-Length: {} byte(s) sent, {} more declared.",
                     body_bytes_sent, expected_content_length));
  }
  ASGISIM_ASSERT(!response_complete, "request {} completed its response twice", id);
  response_complete = true;
  message_event.set();
  connection.write({.kind = ResponseEvent::Kind::end});
  core->observe(ObservationKind::response_completed, id, {}, body_bytes_sent);
  if (!keep_alive) connection.close_transport(id, close_reason);
  connection.on_response_complete();
}

}  // namespace asgisim::core
