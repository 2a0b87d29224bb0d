// PythonScenario::build: the plan from Python, the model around it.
#include "python_scenario.hpp"

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/server.hpp"
#include "bridge_run.hpp"
#include "python_app.hpp"

namespace asgisim::python {
namespace {

core::Headers headers_from(const py::handle& list) {
  core::Headers headers;
  for (py::handle pair : list) {
    auto items = py::reinterpret_borrow<py::sequence>(pair);
    headers.emplace_back(items[0].cast<std::string>(), items[1].cast<std::string>());
  }
  return headers;
}

std::optional<sim::Nanoseconds> optional_ns(const py::dict& dict, const char* key) {
  if (!dict.contains(key) || dict[key].is_none()) return std::nullopt;
  return dict[key].cast<sim::Nanoseconds>();
}

core::DisconnectPoint point_named(const std::string& name) {
  using core::DisconnectPoint;
  for (DisconnectPoint point :
       {DisconnectPoint::never, DisconnectPoint::before_sending, DisconnectPoint::mid_body,
        DisconnectPoint::after_start, DisconnectPoint::after_body_chunks, DisconnectPoint::after_complete,
        DisconnectPoint::after_delay}) {
    if (core::to_string(point) == name) return point;
  }
  throw std::invalid_argument("unknown disconnect point: " + name);
}

// One request of the plan: asgisim.scenario.Request.to_plan()'s dict.
core::RequestSpec request_from(const py::dict& dict) {
  core::RequestSpec spec;
  spec.method = dict["method"].cast<std::string>();
  spec.path = dict["path"].cast<std::string>();
  spec.query = dict["query"].cast<std::string>();
  spec.headers = headers_from(dict["headers"]);
  spec.body = dict["body"].cast<std::string>();
  if (!dict["chunks"].is_none()) spec.chunks = dict["chunks"].cast<std::vector<std::string>>();
  spec.chunk_pause_ns = optional_ns(dict, "chunk_pause_ns");
  spec.read_pause_ns = optional_ns(dict, "read_pause_ns");
  if (!dict["disconnect"].is_none()) {
    auto disconnect = dict["disconnect"].cast<py::dict>();
    spec.disconnect = core::Disconnect{.point = point_named(disconnect["point"].cast<std::string>()),
                                       .count = disconnect["count"].cast<std::size_t>(),
                                       .delay_ns = disconnect["delay_ns"].cast<sim::Nanoseconds>()};
  }
  return spec;
}

core::ClientOptions client_options_from(const py::dict& dict, std::size_t index) {
  core::ClientOptions options;
  options.name = fmt::format("client {}", index + 1);
  options.disconnect_one_in = dict["disconnect_one_in"].cast<std::uint64_t>();
  options.chunks_max = dict["chunks_max"].cast<std::size_t>();
  options.pause_choices_ns = dict["pause_choices_ns"].cast<std::vector<sim::Nanoseconds>>();
  return options;
}

core::ServerOptions server_options_from(const py::dict& dict) {
  core::ServerOptions options;
  options.spec_version = dict["spec_version"].cast<std::string>();
  options.keep_alive = dict["keep_alive"].cast<bool>();
  options.send_after_disconnect = dict["send_after_disconnect_raises"].cast<bool>()
                                      ? core::SendAfterDisconnect::raise
                                      : core::SendAfterDisconnect::drop;
  return options;
}

}  // namespace

void PythonScenario::build(scenarios::RunContext& run) const {
  auto bridge = std::make_shared<BridgeRun>(run.sim, run.observer);
  const py::object plan = host_.attr("begin_run")(bridge);
  bridge->start_loop(plan.attr("loop"));
  auto server = std::make_shared<core::Server>(
      run.sim, run.observer, python_app(bridge, host_, plan.attr("app_name").cast<std::string>()),
      server_options_from(plan.attr("server").cast<py::dict>()));
  const py::list clients = plan.attr("clients");
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto client = clients[i].cast<py::dict>();
    std::vector<core::RequestSpec> requests;
    for (py::handle request : client["requests"]) requests.push_back(request_from(request.cast<py::dict>()));
    run.sim.spawn(fmt::format("client {}", i + 1),
                  [server, requests = std::move(requests), options = client_options_from(client, i)] {
                    core::Client(*server, server->observer(), options).run(requests);
                  });
  }
  const py::object latency = plan.attr("latency_budget_ns");
  if (!latency.is_none()) run.params.latency_budget_ns = latency.cast<sim::Nanoseconds>();
  const py::object threads_bound = plan.attr("threads_bound");
  if (!threads_bound.is_none()) run.params.threads_bound = threads_bound.cast<std::uint64_t>();
  const py::object memory_budget = plan.attr("memory_budget");
  if (!memory_budget.is_none()) run.params.memory_budget_bytes = memory_budget.cast<std::uint64_t>();
}

}  // namespace asgisim::python
