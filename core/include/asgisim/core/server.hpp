// The server model: uvicorn's HTTP/1.1 protocol (httptools_impl.py and
// h11_impl.py) and its RequestResponseCycle, as of uvicorn 0.28.x to 0.32.x
// (run_asgi's close on an app error: every release to 0.51.0, and the open
// Kludex/uvicorn#3156), over an in-memory transport that a simulated client
// drives.
//
//   Server server(sim, observer, app, {.spec_version = "2.4"});
//   std::shared_ptr<Connection> connection = server.connect();
//   connection->send_head({.method = "GET", .path = "/"});   // starts the app's task
//   connection->end_request();
//   ResponseEvent event = connection->read();                // status line, body, end
//
// Per connection there is one protocol object and one task per request. What
// the app sees (receive merging, the 64 KiB read pause, disconnects, the 500
// and close rules, Content-Length checks, HEAD) follows uvicorn line by line;
// see DESIGN.md "core/: the ASGI stack model" -> Server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::core {

// What send() does after the client disconnected before the response completed.
enum class SendAfterDisconnect : std::uint8_t {
  drop,   // return silently (every uvicorn release but 0.28.0); observed as send_dropped
  raise,  // raise ClientDisconnected into the app (uvicorn 0.28.0 only, reverted in 0.28.1)
};

// What run_asgi does when the app raises after http.response.start
// (h11_impl.py and httptools_impl.py agree; read at tags 0.28.0, 0.32.1,
// 0.40.0 and 0.51.0).
enum class ErrorClose : std::uint8_t {
  // Every release read, 0.28.0 to 0.51.0: `else: self.transport.close()`,
  // even when the response had completed (a failing background task), which
  // also cuts off the next request of a keep-alive connection that is already
  // being served (catalogue entry 10).
  always,
  // Kludex/uvicorn#3156 (open, unreleased; from its description): close only
  // while the failing response is incomplete, or when the server itself
  // raised a protocol error into the app (a send after the response
  // completed, a body that does not match Content-Length).
  incomplete_or_protocol_error,
};
std::string_view to_string(ErrorClose behaviour);

struct ServerOptions {
  // The ASGI spec_version advertised in every scope: "2.4" in uvicorn 0.28.0
  // to 0.32.0, "2.3" before and from 0.32.1 (PR #2513).
  std::string spec_version = "2.3";
  // send() after an early disconnect: dropped, or ClientDisconnected (0.28.0).
  SendAfterDisconnect send_after_disconnect = SendAfterDisconnect::drop;
  // HTTP/1.1 keep-alive. False models an HTTP/1.0 client: the connection
  // closes after every response.
  bool keep_alive = true;
  // uvicorn's HIGH_WATER_LIMIT: reading from the client pauses while more
  // request-body bytes than this are buffered and not yet received by the app.
  std::size_t read_pause_bytes = 65'536;
  // The transport's write buffer (asyncio's defaults): above the high mark,
  // send() waits (flow.drain) until the client has read down to the low mark.
  std::size_t write_high_water_bytes = 65'536;
  std::size_t write_low_water_bytes = 16'384;
  // An app that raises after http.response.start: whether run_asgi closes
  // the transport once the response had already completed (see ErrorClose).
  ErrorClose close_on_error = ErrorClose::always;
  // scope["root_path"] (uvicorn --root-path); prefixed to scope path too.
  std::string root_path{};
  // Also observe every message crossing the server/app boundary as
  // `received` / `sent` with layer "<name>->app". Off by default: the
  // protocol validator observes boundaries when it is inserted.
  bool observe_messages = false;
  // The layer name in observations.
  std::string name = "uvicorn";
};

// The options of a uvicorn release ("0.28.0", "0.32.1", ...): spec_version
// and the send-after-disconnect behaviour; everything else default (every
// release closes on an app error: ErrorClose::always).
ServerOptions uvicorn_options(std::string_view version);

namespace detail {

// asyncio.Event as uvicorn uses it: set, clear and wait. Unlike anyio.Event
// it can be cleared, and waiting on a set flag returns at once without a
// checkpoint. Cancelled while waiting: Cancelled is raised, nothing changes.
class AsyncioEvent final : public sim::Waitable {
 public:
  explicit AsyncioEvent(std::string name = {}) : sim::Waitable(std::move(name)) {}
  ~AsyncioEvent() override { sim::detail::unlink_all(waiters_); }
  AsyncioEvent(const AsyncioEvent&) = delete;
  AsyncioEvent& operator=(const AsyncioEvent&) = delete;

  void set();  // wakes every waiter
  void clear() { set_ = false; }
  bool is_set() const { return set_; }
  void wait();  // loop side only
  // wait() with its cancellation as a value: false where wait() raises Cancelled.
  [[nodiscard]] bool wait_unless_cancelled();

  std::string_view kind() const override { return "asyncio.Event"; }
  void append_state(std::string& out) const override { out.append(set_ ? "set" : "not set"); }

 private:
  sim::WaitQueue waiters_;
  bool set_ = false;
};

}  // namespace detail

// The request line and headers the client sends.
struct RequestHead {
  std::string method = "GET";
  std::string path = "/";  // already percent-decoded
  Bytes query_string{};    // without the '?'
  Headers headers{};       // names are lowered by the server, as uvicorn does
};

// What the client reads from the connection, one HTTP event at a time.
struct ResponseEvent {
  enum class Kind : std::uint8_t {
    start,   // status line and headers
    body,    // body bytes (never empty)
    end,     // the response is complete
    closed,  // the connection is closed and everything before was read
  };
  Kind kind = Kind::closed;
  int status = 0;     // start
  Headers headers{};  // start: what was written, incl. transfer-encoding
  Bytes body{};       // body
};

class RequestResponseCycle;
namespace detail {
struct ServerCore;
}

// One client connection: an in-memory transport plus uvicorn's per-connection
// protocol state. The client side calls the methods below from a simulated
// loop task; every method but end_request() and close() is a checkpoint
// first, like a socket operation. Made by Server::connect().
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<detail::ServerCore> core, std::uint64_t id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- the client's side ----------------------------------------------------
  // Delivers a request line and headers; the server starts the request's
  // task (or queues it behind an incomplete response: pipelining). Returns
  // the request id the server assigned, 0 if the connection is closed.
  RequestId send_head(RequestHead head);
  // Delivers request-body bytes; waits while the server has paused reading.
  // Returns false, delivering nothing, once the connection is closed.
  bool send_body(Bytes chunk);
  // Ends the request message (more_body=false for the app). False if closed.
  bool end_request();
  // The next response event; waits for one. Cancellable.
  ResponseEvent read();
  // The client closes the connection (a disconnect). Idempotent.
  void close();

  std::uint64_t id() const { return id_; }
  bool closed() const { return closed_; }
  bool closed_by_server() const { return closed_by_server_; }
  bool reading_paused() const { return read_paused_; }
  bool writing_paused() const { return write_paused_; }
  std::size_t unread_bytes() const { return unread_bytes_; }

 private:
  friend class RequestResponseCycle;
  friend struct detail::ServerCore;

  // ---- the server's side (uvicorn's protocol callbacks) ------------------
  void write(ResponseEvent event);
  // transport.close() from the server; `why` goes into connection_closed.
  void close_transport(RequestId request, std::string why);
  void connection_lost();
  void pause_reading() {
    if (!read_paused_) read_resumed_.clear();
    read_paused_ = true;
  }
  void resume_reading() {
    if (read_paused_) read_resumed_.set();
    read_paused_ = false;
  }
  void resume_writing() {
    if (write_paused_) writable_.set();
    write_paused_ = false;
  }
  void on_response_complete();
  void check_invariants() const;

  std::shared_ptr<detail::ServerCore> core_;
  std::uint64_t id_;
  bool closed_ = false;
  bool closed_by_server_ = false;
  bool read_paused_ = false;
  bool write_paused_ = false;
  std::size_t unread_bytes_ = 0;
  std::deque<ResponseEvent> inbox_;
  detail::AsyncioEvent read_resumed_;  // set while reading is not paused
  detail::AsyncioEvent writable_;      // set while writing is not paused
  detail::AsyncioEvent inbox_ready_;   // set when the client has something to read
  // The newest request (uvicorn's self.cycle) and requests queued behind it.
  std::shared_ptr<RequestResponseCycle> cycle_;
  std::deque<std::shared_ptr<RequestResponseCycle>> pipeline_;
};

// The uvicorn server. Request tasks share its state, so an app may outlive
// the Server object (a TestClient that goes out of scope while a background
// task still runs); the Simulation and the Observer must outlive the run.
class Server {
 public:
  Server(sim::Simulation& sim, Observer& observer, App app, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens a new connection for a client to drive. The server keeps it too.
  std::shared_ptr<Connection> connect();

  const ServerOptions& options() const;
  sim::Simulation& simulation() const;
  Observer& observer() const;
  // Requests whose head arrived so far (the last id handed out).
  std::uint64_t requests_received() const;
  std::size_t connections_opened() const { return connections_.size(); }

 private:
  std::shared_ptr<detail::ServerCore> core_;
  std::vector<std::shared_ptr<Connection>> connections_;
};

}  // namespace asgisim::core
