// uvicorn's HTTP protocol (uvicorn 0.28.x to 0.32.x, run_asgi's close on an
// app error to 0.51.0 and Kludex/uvicorn#3156; httptools_impl.py with
// h11_impl.py where they agree) over an in-memory transport: the connection,
// run_asgi and the server (the RequestResponseCycle is in
// request_response_cycle.cpp). Messages and rules follow the Python source;
// where uvicorn would crash with a KeyError or ValueError on a bad message, the
// model raises a ProtocolError with a clear message into the app instead.
#include "asgisim/core/server.hpp"

#include <fmt/format.h>

#include <charconv>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

#include "asgisim/core/async_generator.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/event.hpp"
#include "request_response_cycle.hpp"

namespace asgisim::core {

namespace {

// The exception for an app_raised observation; `client_disconnected` tells
// whether it was ClientDisconnected.
std::string describe_error(const std::exception_ptr& error, bool& client_disconnected) {
  client_disconnected = false;
  try {
    std::rethrow_exception(error);
  } catch (const ProtocolError& e) {
    return fmt::format("ProtocolError: {}", e.what());
  } catch (const ClientDisconnected& e) {
    client_disconnected = true;
    return fmt::format("ClientDisconnected: {}", e.what());
  } catch (...) {
    return sim::describe(error);
  }
}

}  // namespace

std::string_view to_string(ErrorClose behaviour) {
  switch (behaviour) {
    case ErrorClose::always:
      return "always";
    case ErrorClose::incomplete_or_protocol_error:
      return "incomplete_or_protocol_error";
  }
  return "?";
}

ServerOptions uvicorn_options(std::string_view version) {
  // "0.28.1" -> 28001; missing or malformed parts count as 0.
  int number = 0;
  for (int part = 0; part < 3; ++part) {
    int value = 0;
    const auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), value);
    if (error == std::errc()) version.remove_prefix(static_cast<std::size_t>(end - version.data()));
    if (!version.empty() && version.front() == '.') version.remove_prefix(1);
    number = number * 1'000 + value;
  }
  ServerOptions options;
  // spec_version 2.4 from 0.28.0 to 0.32.0; 0.32.1 (PR #2513) went back to 2.3.
  if (number >= 28'000 && number < 32'001) options.spec_version = "2.4";
  if (number == 28'000) options.send_after_disconnect = SendAfterDisconnect::raise;
  return options;
}

// ---- detail::AsyncioEvent -------------------------------------------------------

namespace detail {

void AsyncioEvent::set() {
  set_ = true;
  if (waiters_.empty()) return;
  sim::Simulation& sim = sim::Simulation::current();
  while (sim::Waiter* waiter = waiters_.pop_front()) {
    waiter->handed = true;
    sim.wake(*waiter->task);  // false if a cancellation woke it first: nothing to do
  }
}

void AsyncioEvent::wait() {
  if (!wait_unless_cancelled()) throw sim::Cancelled{};
}

bool AsyncioEvent::wait_unless_cancelled() {
  sim::Simulation& sim = sim::Simulation::current();
  sim.require_domain(sim::Domain::loop, "asyncio.Event.wait");
  if (set_) return true;
  sim::Waiter waiter{.task = &sim.current_task()};
  waiters_.push_back(waiter);
  sim::WaiterGuard guard(waiters_, waiter);
  return !sim::detail::event_wait_cancelled(sim, sim.block(*this));
}

}  // namespace detail

// ---- Connection -----------------------------------------------------------------

Connection::Connection(std::shared_ptr<detail::ServerCore> core, std::uint64_t id)
    : core_(std::move(core)),
      id_(id),
      read_resumed_(fmt::format("connection {} reading resumed", id)),
      writable_(fmt::format("connection {} writable", id)),
      inbox_ready_(fmt::format("connection {} response data", id)) {
  read_resumed_.set();
  writable_.set();
}

Connection::~Connection() = default;

RequestId Connection::send_head(RequestHead head) {
  sim::checkpoint();
  while (read_paused_ && !closed_) read_resumed_.wait();
  if (closed_) return 0;
  const ServerOptions& options = core_->options;
  Scope scope;
  scope.spec_version = options.spec_version;
  scope.method = std::move(head.method);
  scope.path = options.root_path + head.path;
  scope.raw_path = options.root_path + head.path;
  scope.query_string = std::move(head.query_string);
  scope.root_path = options.root_path;
  for (auto& [name, value] : head.headers) scope.headers.emplace_back(detail::lower(name), std::move(value));
  const RequestId id = core_->next_request_id++;
  ASGISIM_ASSERT(id != 0, "request ids start at 1 (0 means no request)");
  scope.request_id = id;
  auto cycle = std::make_shared<RequestResponseCycle>(core_, *this, id, std::move(scope));
  const bool start_now = !cycle_ || cycle_->response_complete;
  cycle_ = cycle;
  if (start_now) {
    core_->start_cycle(shared_from_this(), cycle);
  } else {
    pipeline_.push_back(cycle);  // pipelined: waits for the previous response
    pause_reading();
  }
  check_invariants();
  return id;
}

bool Connection::send_body(Bytes chunk) {
  sim::checkpoint();
  while (read_paused_ && !closed_) read_resumed_.wait();
  if (closed_) return false;
  if (!cycle_) throw sim::UsageError("Connection::send_body before send_head");
  RequestResponseCycle& cycle = *cycle_;
  if (cycle.response_complete || chunk.empty()) return true;  // uvicorn discards it
  cycle.body += chunk;
  if (cycle.body.size() > core_->options.read_pause_bytes) pause_reading();
  cycle.message_event.set();
  check_invariants();
  return true;
}

bool Connection::end_request() {
  // No checkpoint: with Content-Length the message ends with its last body
  // byte, in the same data_received call.
  if (closed_) return false;
  if (!cycle_) throw sim::UsageError("Connection::end_request before send_head");
  if (cycle_->response_complete) return true;
  cycle_->more_body = false;
  cycle_->message_event.set();
  return true;
}

ResponseEvent Connection::read() {
  sim::checkpoint();
  for (;;) {
    if (!inbox_.empty()) {
      ResponseEvent event = std::move(inbox_.front());
      inbox_.pop_front();
      ASGISIM_ASSERT(unread_bytes_ >= event.body.size());
      unread_bytes_ -= event.body.size();
      if (write_paused_ && unread_bytes_ <= core_->options.write_low_water_bytes) resume_writing();
      check_invariants();
      return event;
    }
    if (closed_) return {};
    inbox_ready_.clear();
    inbox_ready_.wait();
  }
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  connection_lost();
}

void Connection::write(ResponseEvent event) {
  if (closed_) return;  // asyncio ignores writes to a closing transport
  unread_bytes_ += event.body.size();
  inbox_.push_back(std::move(event));
  inbox_ready_.set();
  if (!write_paused_ && unread_bytes_ > core_->options.write_high_water_bytes) {
    write_paused_ = true;
    writable_.clear();
  }
  check_invariants();
}

void Connection::close_transport(RequestId request, std::string why) {
  if (closed_) return;
  closed_ = true;
  closed_by_server_ = true;
  core_->observe(ObservationKind::connection_closed, request, std::move(why));
  inbox_ready_.set();
  connection_lost();
}

void Connection::connection_lost() {
  // Only the newest request learns of the disconnect, as in uvicorn; requests
  // queued behind it (pipelining) never start.
  if (cycle_ && !cycle_->response_complete) cycle_->disconnected = true;
  if (cycle_) cycle_->message_event.set();
  pipeline_.clear();
  resume_writing();
  read_resumed_.set();  // blocked client writes wake and see the closed connection
  check_invariants();
}

void Connection::on_response_complete() {
  if (closed_) return;
  resume_reading();
  if (!pipeline_.empty()) {
    std::shared_ptr<RequestResponseCycle> next = std::move(pipeline_.front());
    pipeline_.pop_front();
    core_->start_cycle(shared_from_this(), std::move(next));
  }
}

void Connection::check_invariants() const {
  std::size_t unread = 0;
  for (const ResponseEvent& event : inbox_) unread += event.body.size();
  ASGISIM_ASSERT(unread == unread_bytes_);
  ASGISIM_ASSERT(read_paused_ != read_resumed_.is_set() || closed_);
  ASGISIM_ASSERT(write_paused_ != writable_.is_set());
  ASGISIM_ASSERT(!closed_ || pipeline_.empty());
  // Pipelined requests wait behind the newest one, and none has started.
  ASGISIM_ASSERT(pipeline_.empty() || pipeline_.back() == cycle_);
  for (const auto& waiting : pipeline_) ASGISIM_ASSERT(!waiting->response_started);
}

// ---- ServerCore and Server ------------------------------------------------------

namespace detail {

namespace {

// The receive the server hands the app. It owns the cycle and its connection,
// so an app may keep it past its return (in a background task).
class CycleReceive final : public ReceiveSource {
 public:
  CycleReceive(std::shared_ptr<Connection> connection, std::shared_ptr<RequestResponseCycle> cycle)
      : connection_(std::move(connection)), cycle_(std::move(cycle)) {}
  std::optional<Message> receive_or_cancelled() const override { return cycle_->receive_or_cancelled(); }

 private:
  std::shared_ptr<Connection> connection_;
  std::shared_ptr<RequestResponseCycle> cycle_;
};

}  // namespace

void ServerCore::start_cycle(std::shared_ptr<Connection> connection,
                             std::shared_ptr<RequestResponseCycle> cycle) {
  sim.spawn(fmt::format("request {}", cycle->id), [core = cycle->core, connection = std::move(connection),
                                                   cycle] { core->run_asgi(connection, cycle); });
}

void ServerCore::run_asgi(const std::shared_ptr<Connection>& connection,
                          const std::shared_ptr<RequestResponseCycle>& cycle_ptr) {
  RequestResponseCycle& cycle = *cycle_ptr;
  observe(ObservationKind::request_started, cycle.id,
          fmt::format("{} {}", cycle.scope.method, cycle.scope.path));
  // The callables own the cycle and its connection, so an app may keep them
  // past its return (in a background task).
  const Receive receive = detail::SourcedReceive{std::make_shared<CycleReceive>(connection, cycle_ptr)};
  const Send send = [connection, cycle_ptr](Message message) { cycle_ptr->send(std::move(message), false); };
  std::exception_ptr error;
  try {
    app(cycle.scope, receive, send);
  } catch (const sim::TaskUnwound&) {
    throw;
  } catch (const boost::context::detail::forced_unwind&) {
    throw;
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    bool client_disconnected = false;
    const std::string what = describe_error(error, client_disconnected);
    if (client_disconnected && options.send_after_disconnect == SendAfterDisconnect::raise) {
      // uvicorn 0.28.0: `except ClientDisconnected: pass`.
      observe(ObservationKind::app_raised, cycle.id, what + " (ignored by the server)");
      error = nullptr;
      exception_handled();
      return;
    }
    observe(ObservationKind::app_raised, cycle.id, what);
    if (!cycle.response_started) {
      send_500(cycle, "app raised before http.response.start");
    } else if (!cycle.response_complete || options.close_on_error == ErrorClose::always ||
               cycle.protocol_error_raised) {
      connection->close_transport(cycle.id, "app raised after http.response.start");
    }
    error = nullptr;
    exception_handled();  // the end of uvicorn's `except`: the exception and what it held go
  } else {
    observe(ObservationKind::app_returned, cycle.id);
    if (!cycle.response_started && !cycle.disconnected) {
      send_500(cycle, "app returned without starting the response");
    } else if (!cycle.response_complete && !cycle.disconnected) {
      connection->close_transport(cycle.id, "app returned without completing the response");
    }
  }
  // The server leaves no request half answered: its response is complete,
  // its client gone, or its connection closed.
  ASGISIM_ASSERT(cycle.response_complete || cycle.disconnected || connection->closed(),
                 "request {} ended with its response neither complete nor cut off", cycle.id);
}

void ServerCore::send_500(RequestResponseCycle& cycle, std::string why) {
  const Headers headers{{"content-type", "text/plain; charset=utf-8"}, {"connection", "close"}};
  if (cycle.send(Message::start(500, headers), /*from_server=*/true)) {
    observe(ObservationKind::server_500, cycle.id, std::move(why), 500);
  }
  cycle.send(Message::body_chunk("Internal Server Error"), /*from_server=*/true);
}

void ServerCore::observe(ObservationKind kind, RequestId request, std::string detail, std::uint64_t value,
                         const Message* message) {
  const bool boundary = kind == ObservationKind::received || kind == ObservationKind::sent;
  observer.observe(Observation{.kind = kind,
                               .request = request,
                               .layer = boundary ? options.name + "->app" : options.name,
                               .message = message ? std::optional<Message>(*message) : std::nullopt,
                               .detail = std::move(detail),
                               .value = value,
                               .reporter = boundary ? Reporter::boundary : Reporter::server});
}

}  // namespace detail

Server::Server(sim::Simulation& sim, Observer& observer, App app, ServerOptions options)
    : core_(std::make_shared<detail::ServerCore>(sim, observer, std::move(app), std::move(options))) {}

Server::~Server() = default;

std::shared_ptr<Connection> Server::connect() {
  connections_.push_back(std::make_shared<Connection>(core_, connections_.size() + 1));
  return connections_.back();
}

const ServerOptions& Server::options() const { return core_->options; }
sim::Simulation& Server::simulation() const { return core_->sim; }
Observer& Server::observer() const { return core_->observer; }
std::uint64_t Server::requests_received() const { return core_->next_request_id - 1; }

}  // namespace asgisim::core
