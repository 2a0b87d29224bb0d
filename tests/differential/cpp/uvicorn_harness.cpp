// The harness of CASE_FORMAT.md 1.3; the order of checks is asgi_server.py's.
#include "uvicorn_harness.hpp"

#include <numeric>
#include <stdexcept>
#include <utility>

#include "asgisim/core/async_generator.hpp"
#include "asgisim/sim/errors.hpp"

namespace asgisim::differential {

namespace {

nlohmann::json describe_sent(const core::Message& message) {
  const std::string type(core::to_string(message.type));
  if (message.type == core::MessageType::http_response_start) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [name, value] : message.headers) headers.push_back({name, value});
    return {{"type", type}, {"status", message.status}, {"headers", std::move(headers)}};
  }
  if (message.type == core::MessageType::http_response_body) {
    return {{"type", type}, {"body", message.body}, {"more_body", message.more_body}};
  }
  return {{"type", type}};
}

nlohmann::json describe_received(const core::Message& message) {
  if (message.type == core::MessageType::http_request) {
    return {{"type", "http.request"}, {"body_len", message.body.size()}, {"more_body", message.more_body}};
  }
  return {{"type", std::string(core::to_string(message.type))}};
}

}  // namespace

UvicornHarness::UvicornHarness(const Case& the_case, Recorder& record) : case_(the_case), record_(record) {
  scope_.type = "http";
  scope_.spec_version = the_case.spec_version;
  scope_.method = "POST";
  scope_.path = "/";
  scope_.raw_path = "/";
  scope_.headers = {{"host", "testserver"}};
  if (!the_case.body_chunks.empty()) {
    const std::uint64_t size =
        std::accumulate(the_case.body_chunks.begin(), the_case.body_chunks.end(), std::uint64_t{0});
    scope_.headers.emplace_back("content-length", std::to_string(size));
  }
  scope_.request_id = 1;
}

void UvicornHarness::client_disconnects() {
  disconnected_ = true;
  record_("client_disconnected", {{"point", case_.disconnect.text}});
  message_event_.set();
}

core::Message UvicornHarness::receive() {
  if (case_.disconnect.kind == DisconnectKind::mid_body && !disconnected_ && !response_complete_ &&
      !body_done_ && chunks_given_ == static_cast<std::size_t>(case_.disconnect.count)) {
    client_disconnects();
  }
  if (!disconnected_ && !response_complete_ && body_done_) {
    message_event_.wait();
    message_event_.clear();
  }
  core::Message message = core::Message::disconnect();
  if (!disconnected_ && !response_complete_) {
    const std::size_t index = chunks_given_;
    const std::uint64_t size = case_.body_chunks.empty() ? 0 : case_.body_chunks[index];
    const bool more_body = index + 1 < case_.body_chunks.size();
    message = core::Message::request(core::Bytes(size, 'x'), more_body);
    ++chunks_given_;
    body_done_ = !more_body;
  }
  record_("received", {{"message", describe_received(message)}});
  return message;
}

void UvicornHarness::send(core::Message message, const char* origin) {
  nlohmann::json described = describe_sent(message);
  if (disconnected_) {
    if (case_.send_raises_after_disconnect) {
      record_("sent", {{"message", std::move(described)},
                       {"origin", origin},
                       {"result", "raised"},
                       {"exception", "ClientDisconnected"}});
      throw core::ClientDisconnected();
    }
    record_("sent", {{"message", std::move(described)}, {"origin", origin}, {"result", "dropped"}});
    return;
  }
  const char* error = nullptr;
  if (!response_started_) {
    if (message.type != core::MessageType::http_response_start)
      error = "Expected ASGI message 'http.response.start'";
  } else if (!response_complete_) {
    if (message.type != core::MessageType::http_response_body)
      error = "Expected ASGI message 'http.response.body'";
  } else {
    error = "Unexpected ASGI message sent, after response already completed.";
  }
  if (error != nullptr) {
    record_("sent", {{"message", std::move(described)},
                     {"origin", origin},
                     {"result", "raised"},
                     {"exception", "RuntimeError"}});
    throw core::ProtocolError(error);
  }
  if (!response_started_) {
    response_started_ = true;
  } else if (!message.more_body) {
    response_complete_ = true;
    message_event_.set();
  }
  record_("sent", {{"message", std::move(described)}, {"origin", origin}, {"result", "delivered"}});
  ++messages_delivered_;
  if (case_.disconnect.kind == DisconnectKind::after_send &&
      messages_delivered_ == static_cast<std::uint64_t>(case_.disconnect.count)) {
    client_disconnects();
  }
}

void UvicornHarness::send_500_response() {
  send(core::Message::start(500, {{"content-type", "text/plain; charset=utf-8"}, {"connection", "close"}}),
       "server");
  send(core::Message::body_chunk("Internal Server Error"), "server");
}

void UvicornHarness::run_asgi(const core::App& app) {
  if (case_.disconnect.kind == DisconnectKind::before_request) client_disconnects();
  record_("request_started");
  const core::Receive receive = [this] { return this->receive(); };
  const core::Send send = [this](core::Message message) { this->send(std::move(message), "app"); };
  std::exception_ptr error;
  try {
    app(scope_, receive, send);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    const std::optional<std::string> name = exception_name(error);
    if (!name) std::rethrow_exception(error);  // the run's teardown, not the app
    record_("app_raised", {{"exception", *name}});
    try {
      if (!response_started_) {
        send_500_response();
      } else {
        record_("connection_closed", {{"reason", "exception_after_start"}});
      }
    } catch (const core::ClientDisconnected&) {
      // uvicorn 0.28.0 let this escape its task; it is recorded as sent/raised.
    }
    error = nullptr;
    core::exception_handled();  // the end of the `except`: the exception and what it held go
    return;
  }
  record_("app_returned");
  if (!response_started_ && !disconnected_) {
    send_500_response();
  } else if (!response_complete_ && !disconnected_) {
    record_("connection_closed", {{"reason", "incomplete_response"}});
  }
}

void UvicornHarness::spawn_run_asgi(sim::Simulation& simulation, const core::App& app) {
  // The watcher is a daemon, so its timer is reached only when every other
  // task is blocked (a hang), as the real runner's virtual clock advances
  // only when its loop is idle.
  simulation.spawn("run_asgi", [this, &app] {
    sim::cancel_scope([&](sim::CancelScope& scope) {
      server_scope_ = &scope;
      run_asgi(app);
    });
    server_scope_ = nullptr;
  });
  simulation.spawn("time box",
                   [this] {
                     sim::sleep(case_.timebox_ns);
                     record_.stop("timebox");
                     if (server_scope_ != nullptr) server_scope_->cancel();
                   },
                   {.daemon = true});
}

}  // namespace asgisim::differential
