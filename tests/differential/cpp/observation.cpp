// One case, one Simulation: the harness task, a time-box watcher, and the
// summaries of case_format.summarise.
#include "observation.hpp"

#include <iostream>
#include <map>
#include <utility>

#include "asgisim/core/threadpool.hpp"
#include "asgisim/sim/simulation.hpp"
#include "case_stack.hpp"
#include "recorder.hpp"
#include "uvicorn_harness.hpp"

namespace asgisim::differential {

nlohmann::json summarise(const nlohmann::json& events, const std::vector<MiddlewareKind>& middleware,
                         bool has_background) {
  nlohmann::json app = {{"outcome", "hung"}, {"exception", nullptr}, {"hung_reason", nullptr}};
  nlohmann::json client = {{"messages", nlohmann::json::array()},
                           {"status", nullptr},
                           {"body", ""},
                           {"complete", false},
                           {"disconnected", false},
                           {"connection_closed", nullptr}};
  nlohmann::json background =
      has_background ? nlohmann::json{{"started", false}, {"end", "not_started"}} : nullptr;
  std::map<int, nlohmann::json> contexts;
  for (std::size_t index = 0; index < middleware.size(); ++index) {
    if (middleware[index] != MiddlewareKind::pure_asgi_cm) continue;
    contexts[static_cast<int>(index)] = {
        {"mw", index}, {"entered", false}, {"exit", "none"}, {"exit_exception", nullptr}};
  }
  for (std::size_t at = 0; at < events.size(); ++at) {
    const nlohmann::json& event = events[at];
    const std::string name = event.at("ev").get<std::string>();
    if (name == "app_returned") {
      app["outcome"] = "returned";
    } else if (name == "app_raised") {
      app["outcome"] = "raised";
      app["exception"] = event.at("exception");
    } else if (name == "app_hung") {
      app["outcome"] = "hung";
      app["hung_reason"] = event.at("reason");
    } else if (name == "sent" && event.at("result") == "delivered") {
      nlohmann::json message = event.at("message");
      message["at"] = at;
      if (message.at("type") == "http.response.start" && client["status"].is_null()) {
        client["status"] = message.at("status");
      } else if (message.at("type") == "http.response.body") {
        client["body"] = client["body"].get<std::string>() + message.at("body").get<std::string>();
        if (!message.at("more_body").get<bool>()) client["complete"] = true;
      }
      client["messages"].push_back(std::move(message));
    } else if (name == "client_disconnected") {
      client["disconnected"] = true;
    } else if (name == "connection_closed") {
      client["connection_closed"] = event.at("reason");
    } else if (name.rfind("background_", 0) == 0 && has_background) {
      if (name == "background_started") {
        background = {{"started", true}, {"end", "running"}};
      } else {
        background["end"] = name.substr(std::string("background_").size());
      }
    } else if (name.rfind("context_", 0) == 0 && contexts.count(event.at("mw").get<int>()) != 0) {
      nlohmann::json& context = contexts[event.at("mw").get<int>()];
      if (name == "context_entered") {
        context["entered"] = true;
      } else if (name == "context_exit_started") {
        context["exit"] = "running";
        context["exit_exception"] = event.at("exception");
      } else if (name == "context_exited") {
        context["exit"] = "done";
      } else if (name == "context_exit_cancelled") {
        context["exit"] = "cancelled";
      }
    }
  }
  nlohmann::json context_list = nlohmann::json::array();
  for (auto& [index, context] : contexts) context_list.push_back(std::move(context));
  return {{"app", std::move(app)},
          {"client", std::move(client)},
          {"background", std::move(background)},
          {"contexts", std::move(context_list)}};
}

namespace {

// The kernel's trace, one step a line, for --trace.
void print_trace(sim::Simulation& simulation, const std::string& id) {
  std::cerr << "== " << id << "\n";
  for (const sim::TraceRecord& record : simulation.trace().records()) {
    std::string kind;
    switch (record.kind) {
      case sim::TraceKind::switch_to:
        kind = "run";
        break;
      case sim::TraceKind::yield:
        kind = "  yield";
        break;
      case sim::TraceKind::block:
        kind = "  block";
        break;
      case sim::TraceKind::wake:
        kind = "  wake";
        break;
      case sim::TraceKind::spawn:
        kind = "  spawn";
        break;
      case sim::TraceKind::finish:
        kind = "  finish";
        break;
      case sim::TraceKind::cancel:
        kind = "  cancel";
        break;
      case sim::TraceKind::note:
        std::cerr << "    " << simulation.trace().string(static_cast<std::uint32_t>(record.object)) << "\n";
        continue;
      default:
        continue;
    }
    std::cerr << kind << " " << simulation.task_name(record.task) << " #" << record.task << "\n";
  }
}

}  // namespace

nlohmann::json run_case(const Case& the_case, const RunOptions& options) {
  Recorder record;
  record.set_trace(options.trace);
  sim::Simulation simulation({.seed = 0,
                              .strategy = sim::Strategy::fifo,
                              .steps_max = the_case.step_budget,
                              .task_group_errors = options.anyio_major >= 4 ? sim::TaskGroupErrors::anyio4
                                                                            : sim::TaskGroupErrors::anyio3,
                              .trace = {.records_max = options.trace ? std::size_t{1} << 16 : 0},
                              .record_decisions = false});
  core::AnyioToThread pool({.wake_order = options.anyio_major >= 4 ? sim::LimiterWakeOrder::oldest_first
                                                                   : sim::LimiterWakeOrder::newest_first});
  UvicornHarness harness(the_case, record);
  const core::App app = build_case_app(the_case, options.behaviour, pool, record, options.streaming);

  harness.spawn_run_asgi(simulation, app);
  const sim::RunResult result = simulation.run();
  if (result.status == sim::RunStatus::liveness_steps) record.stop("step_budget");
  if (options.trace) print_trace(simulation, the_case.id);
  record.deactivate();

  nlohmann::json observation = {{"format", 1}, {"id", the_case.id}};
  if (result.status != sim::RunStatus::completed && result.status != sim::RunStatus::liveness_steps &&
      !(result.status == sim::RunStatus::deadlock && !record.events().empty() &&
        record.events().back().at("ev") == "app_hung")) {
    observation["error"] =
        std::string("simulation ") + std::string(sim::to_string(result.status)) + ": " + result.report;
    return observation;
  }
  observation.update(
      summarise(record.events(), the_case.middleware, the_case.endpoint.background.has_value()));
  observation["events"] = record.events();
  if (options.meta) {
    observation["meta"] = {{"starlette", options.starlette},
                           {"model_behaviour", std::string(core::to_string(options.behaviour))},
                           {"kernel_steps", result.steps},
                           {"virtual_time_ns", result.end_time_ns}};
  }
  return observation;
}

}  // namespace asgisim::differential
