// Simulated HTTP/1.1 clients driving the uvicorn model (uvicorn 0.28.x to
// 0.32.x) through its in-memory transport. Every choice a request leaves open
// is resolved up front, from the choice stream, with Stream::clients labels.
#include "asgisim/core/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "asgisim/sim/cancel.hpp"

namespace asgisim::core {

namespace {

constexpr sim::Label kChunking{"client.chunking", sim::Stream::clients};
constexpr sim::Label kPause{"client.pause", sim::Stream::clients};
constexpr sim::Label kReadPace{"client.read_pace", sim::Stream::clients};
constexpr sim::Label kDisconnect{"client.disconnect", sim::Stream::clients};

// "/items?limit=3" -> ("/items", "limit=3").
std::pair<std::string, Bytes> split_url(std::string_view url) {
  const std::size_t question = url.find('?');
  if (question == std::string_view::npos) return {std::string(url), Bytes{}};
  return {std::string(url.substr(0, question)), Bytes(url.substr(question + 1))};
}

}  // namespace

std::string_view to_string(DisconnectPoint point) {
  switch (point) {
    case DisconnectPoint::never:
      return "never";
    case DisconnectPoint::before_sending:
      return "before_sending";
    case DisconnectPoint::mid_body:
      return "mid_body";
    case DisconnectPoint::after_start:
      return "after_start";
    case DisconnectPoint::after_body_chunks:
      return "after_body_chunks";
    case DisconnectPoint::after_complete:
      return "after_complete";
    case DisconnectPoint::after_delay:
      return "after_delay";
  }
  return "?";
}

// ---- Client ---------------------------------------------------------------------

struct Client::Plan {
  std::vector<Bytes> chunks;
  std::vector<sim::Nanoseconds> pauses_ns;  // pauses_ns[i]: before chunk i
  sim::Nanoseconds read_pause_ns = 0;
  Disconnect disconnect;
};

Client::Client(Server& server, Observer& observer, ClientOptions options)
    : server_(server), observer_(observer), options_(std::move(options)) {
  if (options_.pause_choices_ns.empty()) options_.pause_choices_ns.push_back(0);
  options_.chunks_max = std::max<std::size_t>(options_.chunks_max, 1);
  options_.response_chunks_max = std::max<std::size_t>(options_.response_chunks_max, 1);
}

Client::Plan Client::resolve(const RequestSpec& spec) {
  sim::Simulation& sim = server_.simulation();
  Plan plan;
  if (spec.chunks) {
    plan.chunks = *spec.chunks;
  } else if (!spec.body.empty()) {
    const std::size_t size = spec.body.size();
    const std::size_t count = 1 + sim.choose(kChunking, std::min(options_.chunks_max, size));
    std::size_t position = 0;
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t left = count - j;
      const std::size_t remaining = size - position;
      // Leave at least one byte for each later chunk.
      const std::size_t length = left == 1 ? remaining : 1 + sim.choose(kChunking, remaining - left + 1);
      plan.chunks.push_back(spec.body.substr(position, length));
      position += length;
    }
  }
  const std::vector<sim::Nanoseconds>& pauses = options_.pause_choices_ns;
  plan.pauses_ns.assign(plan.chunks.size(), 0);
  for (std::size_t i = 1; i < plan.chunks.size(); ++i) {
    plan.pauses_ns[i] =
        spec.chunk_pause_ns ? *spec.chunk_pause_ns : pauses[sim.choose(kPause, pauses.size())];
  }
  plan.read_pause_ns =
      spec.read_pause_ns ? *spec.read_pause_ns : pauses[sim.choose(kReadPace, pauses.size())];
  if (spec.disconnect) {
    plan.disconnect = *spec.disconnect;
  } else if (options_.disconnect_one_in != 0 && sim.choose(kDisconnect, options_.disconnect_one_in) == 0) {
    Disconnect& d = plan.disconnect;
    d.point = static_cast<DisconnectPoint>(1 + sim.choose(kDisconnect, 6));
    if (d.point == DisconnectPoint::mid_body) d.count = sim.choose(kDisconnect, plan.chunks.size() + 1);
    if (d.point == DisconnectPoint::after_body_chunks) {
      d.count = 1 + sim.choose(kDisconnect, options_.response_chunks_max);
    }
    if (d.point == DisconnectPoint::after_delay) {
      const auto steps = static_cast<sim::Nanoseconds>(1 + sim.choose(kDisconnect, 100));
      d.delay_ns = std::max<sim::Nanoseconds>(1, steps * (options_.delay_max_ns / 100));
    }
  }
  return plan;
}

ClientRecord Client::request(const RequestSpec& spec) {
  sim::Simulation& sim = server_.simulation();
  const Plan plan = resolve(spec);
  const std::size_t index = records_.size();
  records_.push_back(
      ClientRecord{.method = spec.method, .path = spec.path, .plan = plan.disconnect, .began_ns = sim.now()});
  if (!connection_ || connection_->closed()) connection_ = server_.connect();
  records_[index].connection = connection_->id();
  if (plan.disconnect.point == DisconnectPoint::after_delay) {
    const sim::Nanoseconds deadline_ns = records_[index].began_ns + plan.disconnect.delay_ns;
    const bool cut = sim::cancel_scope([&] { exchange(spec, plan, index); }, deadline_ns);
    if (cut && !records_[index].disconnected && !records_[index].complete) {
      leave(index, fmt::format("after a delay of {} ns", plan.disconnect.delay_ns));
    }
  } else {
    exchange(spec, plan, index);
  }
  ClientRecord& record = records_[index];
  if (!record.ended_ns) record.ended_ns = sim.now();
  return record;
}

void Client::exchange(const RequestSpec& spec, const Plan& plan, std::size_t index) {
  sim::Simulation& sim = server_.simulation();
  const Disconnect& d = plan.disconnect;
  if (d.point == DisconnectPoint::before_sending) {
    leave(index, "before sending");
    return;
  }
  RequestHead head{
      .method = spec.method, .path = spec.path, .query_string = spec.query, .headers = spec.headers};
  std::size_t body_size = 0;
  for (const Bytes& chunk : plan.chunks) body_size += chunk.size();
  if (body_size > 0 && !find_header(head.headers, "content-length") &&
      !find_header(head.headers, "transfer-encoding")) {
    head.headers.emplace_back("content-length", std::to_string(body_size));
  }
  // A keep-alive connection may be closed under us (like httpx, retry once on a new one).
  RequestId id = connection_->send_head(head);
  if (id == 0) {
    connection_ = server_.connect();
    records_[index].connection = connection_->id();
    id = connection_->send_head(std::move(head));
  }
  records_[index].request = id;
  std::shared_ptr<Connection> connection = connection_;
  for (std::size_t i = 0; i < plan.chunks.size(); ++i) {
    if (d.point == DisconnectPoint::mid_body && i == d.count) {
      leave(index, fmt::format("mid-body after {} chunk(s)", i));
      return;
    }
    if (plan.pauses_ns[i] > 0) sim.sleep(plan.pauses_ns[i]);
    if (!connection->send_body(plan.chunks[i])) break;  // closed by the server: read what it sent
    ++records_[index].request_chunks_sent;
  }
  if (d.point == DisconnectPoint::mid_body && d.count >= plan.chunks.size() && !connection->closed()) {
    leave(index, fmt::format("mid-body after {} chunk(s)", plan.chunks.size()));
    return;
  }
  if (records_[index].request_chunks_sent == plan.chunks.size() && connection->end_request()) {
    records_[index].request_sent = true;
    records_[index].request_sent_ns = sim.now();
    observe(ObservationKind::client_sent_request, id, {}, body_size);
  }
  for (;;) {
    if (plan.read_pause_ns > 0) sim.sleep(plan.read_pause_ns);
    ResponseEvent event = connection->read();
    ClientRecord& record = records_[index];
    switch (event.kind) {
      case ResponseEvent::Kind::start:
        record.started = true;
        record.started_ns = sim.now();
        record.status = event.status;
        record.headers = std::move(event.headers);
        observe(ObservationKind::client_got_start, id, {}, static_cast<std::uint64_t>(record.status));
        if (d.point == DisconnectPoint::after_start) return leave(index, "after the response start");
        break;
      case ResponseEvent::Kind::body:
        record.body += event.body;
        ++record.body_chunks;
        observe(ObservationKind::client_got_body, id, {}, event.body.size());
        if (d.point == DisconnectPoint::after_body_chunks && record.body_chunks == d.count) {
          return leave(index, fmt::format("after {} body chunk(s)", d.count));
        }
        break;
      case ResponseEvent::Kind::end:
        record.complete = true;
        record.completed_ns = sim.now();
        observe(ObservationKind::client_got_complete, id, {}, record.body.size());
        if (d.point == DisconnectPoint::after_complete) return leave(index, "right after the final body");
        return;
      case ResponseEvent::Kind::closed:
        record.closed_by_server = true;
        record.ended_ns = sim.now();
        return;
    }
  }
}

void Client::leave(std::size_t index, std::string detail) {
  ClientRecord& record = records_[index];
  if (connection_) connection_->close();
  record.disconnected = true;
  record.ended_ns = server_.simulation().now();
  record.disconnect_detail = detail;
  observe(ObservationKind::client_disconnected, record.request, std::move(detail));
}

std::vector<ClientRecord> Client::run(const std::vector<RequestSpec>& specs) {
  std::vector<ClientRecord> out;
  for (const RequestSpec& spec : specs) out.push_back(request(spec));
  close();
  return out;
}

void Client::close() {
  if (connection_) connection_->close();
  connection_.reset();
}

void Client::observe(ObservationKind kind, RequestId request, std::string detail, std::uint64_t value) {
  observer_.observe(Observation{.kind = kind,
                                .request = request,
                                .layer = options_.name,
                                .message = std::nullopt,
                                .detail = std::move(detail),
                                .value = value,
                                .reporter = Reporter::client});
}

// ---- TestClient -----------------------------------------------------------------

TestClient::TestClient(sim::Simulation& sim, Observer& observer, App app, ServerOptions options)
    : server_(sim, observer, std::move(app), std::move(options)),
      client_(server_, observer, ClientOptions{.name = "testclient", .disconnect_one_in = 0}) {}

ClientRecord TestClient::get(std::string_view url, Headers headers) {
  auto [path, query] = split_url(url);
  return request(
      {.method = "GET", .path = std::move(path), .query = std::move(query), .headers = std::move(headers)});
}

ClientRecord TestClient::head(std::string_view url, Headers headers) {
  auto [path, query] = split_url(url);
  return request(
      {.method = "HEAD", .path = std::move(path), .query = std::move(query), .headers = std::move(headers)});
}

ClientRecord TestClient::post(std::string_view url, Bytes body, Headers headers) {
  auto [path, query] = split_url(url);
  return request({.method = "POST",
                  .path = std::move(path),
                  .query = std::move(query),
                  .headers = std::move(headers),
                  .body = std::move(body)});
}

ClientRecord TestClient::request(RequestSpec spec) {
  if (!spec.chunks) spec.chunks = spec.body.empty() ? std::vector<Bytes>{} : std::vector<Bytes>{spec.body};
  if (!spec.chunk_pause_ns) spec.chunk_pause_ns = 0;
  if (!spec.read_pause_ns) spec.read_pause_ns = 0;
  if (!spec.disconnect) spec.disconnect = Disconnect{};
  return client_.request(spec);
}

// ---- run_app --------------------------------------------------------------------

AppRun run_app(App app, std::vector<RequestSpec> requests, RunAppOptions options) {
  sim::Simulation sim(options.simulation);
  Observer own_observer;
  Observer& observer = options.observer != nullptr ? *options.observer : own_observer;
  Server server(sim, observer, std::move(app), options.server);
  std::vector<std::unique_ptr<Client>> clients;
  const std::size_t client_count = options.concurrent ? requests.size() : 1;
  for (std::size_t i = 0; i < client_count; ++i) {
    ClientOptions client_options = options.client;
    if (options.concurrent) client_options.name = fmt::format("{} {}", options.client.name, i + 1);
    clients.push_back(std::make_unique<Client>(server, observer, std::move(client_options)));
  }
  if (options.concurrent) {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      sim.spawn(clients[i]->options().name, [&client = *clients[i], &spec = requests[i]] {
        client.request(spec);
        client.close();
      });
    }
  } else {
    sim.spawn(options.client.name, [&client = *clients[0], &requests] { client.run(requests); });
  }
  AppRun run;
  run.result = sim.run();
  observer.finish();
  for (const auto& client : clients) {
    run.records.insert(run.records.end(), client->records().begin(), client->records().end());
  }
  run.observations = observer.log();
  run.violations = observer.violations();
  return run;
}

}  // namespace asgisim::core
