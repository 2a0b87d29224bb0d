// Helpers of the validator's tests (validator_test, validator_property_test):
// a fake outer side of an app call, calls run as tasks of one simulation, and
// scripted apps.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core::validator_test_support {

// The outer side of one app call: receive() hands out `incoming` in order and
// then http.disconnect forever; send() records what arrived.
struct FakeServer {
  std::vector<Message> incoming{};
  std::size_t next = 0;
  std::vector<Message> sent{};
};

inline Scope http_scope(RequestId request, std::string method = "GET") {
  Scope scope;
  scope.method = std::move(method);
  scope.request_id = request;
  return scope;
}

// Runs each (scope, server) call of `app` as its own task of one simulation.
inline void run_calls(const App& app, std::vector<std::pair<Scope, FakeServer*>> calls) {
  sim::Simulation sim;
  for (auto& [scope, server] : calls) {
    sim.spawn("request", [&app, &scope = scope, server = server] {
      const Receive receive = [server] {
        if (server->next < server->incoming.size()) return server->incoming[server->next++];
        return Message::disconnect();
      };
      const Send send = [server](Message message) { server->sent.push_back(std::move(message)); };
      app(scope, receive, send);
    });
  }
  const sim::RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << to_string(result.status) << ": " << result.report;
}

// A step of a scripted app: a receive(), or a send(message).
struct Step {
  bool app_sends = false;
  Message message{};
};
inline const Step kReceive{};
inline Step sends(Message message) { return {.app_sends = true, .message = std::move(message)}; }
inline App scripted(std::vector<Step> steps) {
  return [steps = std::move(steps)](Scope&, const Receive& receive, const Send& send) {
    for (const Step& step : steps) step.app_sends ? send(step.message) : void(receive());
  };
}

// A middleware that changes nothing.
inline App pass_through(App app) { return app; }

}  // namespace asgisim::core::validator_test_support
