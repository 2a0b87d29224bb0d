// uvicorn's RequestResponseCycle (one request's receive/send state machine)
// and ServerCore, the state it shares with the server and its connections.
// Private to server.cpp and request_response_cycle.cpp.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "asgisim/core/server.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/event.hpp"

namespace asgisim::core {

namespace detail {

inline char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower_ascii(c);
  return out;
}

// The state a server shares with its connections and request tasks, and
// uvicorn's run_asgi.
struct ServerCore {
  ServerCore(sim::Simulation& sim, Observer& observer, App app, ServerOptions options)
      : sim(sim), observer(observer), app(std::move(app)), options(std::move(options)) {
    observe_run(sim, observer);  // every layer of the app reports to it, without a pointer of its own
  }

  void start_cycle(std::shared_ptr<Connection> connection, std::shared_ptr<RequestResponseCycle> cycle);
  // RequestResponseCycle.run_asgi: the body of a request's task.
  void run_asgi(const std::shared_ptr<Connection>& connection,
                const std::shared_ptr<RequestResponseCycle>& cycle);
  void send_500(RequestResponseCycle& cycle, std::string why);
  void observe(ObservationKind kind, RequestId request, std::string detail = {}, std::uint64_t value = 0,
               const Message* message = nullptr);

  sim::Simulation& sim;
  Observer& observer;
  App app;
  ServerOptions options;
  RequestId next_request_id = 1;
};

}  // namespace detail

// One request and its response, as uvicorn's RequestResponseCycle.
class RequestResponseCycle {
 public:
  RequestResponseCycle(std::shared_ptr<detail::ServerCore> core, Connection& connection, RequestId id,
                       Scope scope)
      : core(std::move(core)),
        connection(connection),
        id(id),
        scope(std::move(scope)),
        message_event(fmt::format("request {} message_event", id)),
        keep_alive(this->core->options.keep_alive) {}

  // uvicorn's receive(), with the cancellation of its wait as a value
  // (nullopt): the Receive the app gets raises Cancelled for it.
  std::optional<Message> receive_or_cancelled();
  // Returns false if the message was dropped because the client had left.
  bool send(Message message, bool from_server);

  const std::shared_ptr<detail::ServerCore> core;
  Connection& connection;  // kept alive by the request's task and callables
  const RequestId id;
  Scope scope;
  detail::AsyncioEvent message_event;
  // Connection state.
  bool disconnected = false;
  bool keep_alive = true;
  std::string close_reason = "keep-alive disabled";
  // Request state: bytes received from the client, not yet handed to the app.
  Bytes body;
  bool more_body = true;
  // Response state.
  bool response_started = false;
  bool response_complete = false;
  bool chunked = false;
  bool framing_known = false;  // uvicorn's chunked_encoding is not None
  std::uint64_t expected_content_length = 0;
  std::uint64_t body_bytes_sent = 0;
  bool protocol_error_raised = false;  // fail() raised a ProtocolError into the app

 private:
  [[noreturn]] void fail(std::string message);
  void start_response(const Message& message);
  void send_body(const Message& message);
  void check_invariants() const {
    ASGISIM_ASSERT(!response_complete || response_started);
    ASGISIM_ASSERT(!(disconnected && response_complete));
    // Chunked framing counts no Content-Length; either way the framing is
    // settled once the response has started with a body to frame.
    ASGISIM_ASSERT(!chunked || (framing_known && expected_content_length == 0));
  }
};

}  // namespace asgisim::core
