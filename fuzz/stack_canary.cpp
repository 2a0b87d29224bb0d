// The canary middleware and the `stack-canary` scenario (stack_canary.hpp
// says what the planted bug is and why it is there).
#include "stack_canary.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/core/validator.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/scenarios/stack_description.hpp"
#include "asgisim/sim/simulation.hpp"
#include "fuzz_support.hpp"

namespace asgisim::fuzz {

namespace {

// What the canary read of the request, handed to the app before anything
// the real receive() says.
struct BufferedBody {
  std::vector<core::Message> messages{};
  std::size_t next = 0;
};

}  // namespace

core::App body_buffer_canary(core::App app) {
  return [app = std::move(app)](core::Scope& scope, const core::Receive& receive, const core::Send& send) {
    if (scope.type != "http") {
      app(scope, receive, send);
      return;
    }
    auto body = std::make_shared<BufferedBody>();
    std::size_t chunks = 0;
    bool client_left = false;
    const sim::Nanoseconds began_ns = sim::now();
    while (true) {
      core::Message message = receive();
      const core::MessageType type = message.type;
      const bool more = message.more_body;
      if (type == core::MessageType::http_request) ++chunks;
      body->messages.push_back(std::move(message));
      if (type == core::MessageType::http_disconnect) {
        client_left = true;
        break;
      }
      if (type != core::MessageType::http_request || !more) break;
    }
    const sim::Nanoseconds upload_ns = sim::now() - began_ns;
    count("canary: body in " + std::to_string(chunks) + " message(s)" + (client_left ? ", client left" : ""));
    if (client_left) return;  // nobody is left to answer
    if (chunks >= kCanaryChunks && upload_ns >= kCanarySlowUploadNs) {
      send(core::Message::start(408, {{"content-type", "text/plain"}}));
      send(core::Message::body_chunk("request body too slow"));
      // THE PLANTED BUG: a `return` is missing here, so the app runs too.
      count("canary: answered 408 and runs the app");
    }
    // `receive` by value: a task below (a disconnect listener) may still
    // call the replaying receive after this call has returned.
    const core::Receive replay = [body, receive]() -> core::Message {
      if (body->next < body->messages.size()) return body->messages[body->next++];
      return receive();
    };
    app(scope, replay, send);
  };
}

namespace {

using scenarios::StackDescription;

std::vector<core::RequestSpec> request_specs(const scenarios::ClientDescription& client) {
  std::vector<core::RequestSpec> specs;
  for (const scenarios::RequestDescription& request : client.requests) {
    specs.push_back({.method = request.method,
                     .body = core::Bytes(request.body_bytes, 'x'),
                     .disconnect = request.disconnect});
  }
  return specs;
}

// What StackRun (stack_description.hpp) builds, with the canary between the
// server and the described chain: server -> StackCanary -> chain -> endpoint.
class CanaryStack {
 public:
  CanaryStack(scenarios::RunContext& run, StackDescription description)
      : description_(std::move(description)) {
    threadpool_ = std::make_unique<core::AnyioToThread>(core::AnyioToThreadOptions{});
    core::App chain = scenarios::build_app(description_, run.observer, *threadpool_, run.stack.streaming);
    core::App app =
        core::validate_boundary(body_buffer_canary(std::move(chain)), "server", kCanaryLayer, run.observer);
    server_ = std::make_unique<core::Server>(run.sim, run.observer, std::move(app), run.stack.server);
    for (std::size_t c = 0; c < description_.clients.size(); ++c) {
      const std::string name = "client#" + std::to_string(c + 1);
      clients_.push_back(
          std::make_unique<core::Client>(*server_, run.observer, core::ClientOptions{.name = name}));
      run.sim.spawn(name, [client = clients_.back().get(), specs = request_specs(description_.clients[c])] {
        client->run(specs);
      });
    }
  }

  std::uint64_t threads_bound() const { return core::AnyioToThreadOptions{}.total_tokens; }

  std::string report() const {
    std::string text = "server -> StackCanary -> the chain below\n" + scenarios::describe(description_);
    for (std::size_t c = 0; c < clients_.size(); ++c) {
      for (const core::ClientRecord& record : clients_[c]->records()) {
        text += "\nclient#" + std::to_string(c + 1) + " request " + std::to_string(record.request) + ": " +
                std::to_string(record.request_chunks_sent) + " body chunk(s) sent, disconnect " +
                std::string(core::to_string(record.plan.point)) + ", status " + std::to_string(record.status);
      }
    }
    return text;
  }

 private:
  StackDescription description_;
  std::unique_ptr<core::AnyioToThread> threadpool_;
  std::unique_ptr<core::Server> server_;
  std::vector<std::unique_ptr<core::Client>> clients_;
};

// random-stack (scenarios/catalogue/random_stack.cpp) with the canary in
// front. The configurations mirror random-stack's: keep them in step.
class StackCanaryScenario final : public scenarios::Scenario {
 public:
  const scenarios::ScenarioInfo& info() const override {
    static const scenarios::ScenarioInfo info = make_info();
    return info;
  }

  void build(scenarios::RunContext& run) const override {
    scenarios::DrawOptions options;
    if (!run.stack.versions.starlette.empty()) {
      options.behaviours = {run.stack.base_http};
    } else {
      options.behaviours = scenarios::all_base_http_behaviours();
    }
    auto stack = std::make_shared<CanaryStack>(run, scenarios::draw_stack(run.sim, options));
    run.params.threads_bound = stack->threads_bound();
    run.describe = [stack] { return stack->report(); };
  }

 private:
  static scenarios::ScenarioInfo make_info() {
    scenarios::ScenarioInfo info;
    info.name = "stack-canary";
    info.title = "random-stack behind a body-buffering middleware with a planted bug (fuzz canary)";
    info.upstream = "none: a deliberate bug (fuzz/stack_canary.hpp)";
    info.buggy = {.versions = {}, .summary = "every BaseHTTPMiddleware behaviour, drawn per middleware"};
    info.fixed = {.versions = {.starlette = "1.3.1", .anyio = "4.14.2"},
                  .summary = "as random-stack's fixed configuration"};
    info.invariants = scenarios::stack_invariants();
    info.steps_max = 500'000;
    info.time_max_ns = 60 * sim::kSecond;
    return info;
  }
};

}  // namespace

std::unique_ptr<scenarios::Scenario> make_stack_canary_scenario() {
  return std::make_unique<StackCanaryScenario>();
}

}  // namespace asgisim::fuzz
