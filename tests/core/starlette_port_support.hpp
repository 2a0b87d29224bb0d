// Test support for the ports of Starlette's tests (routing_test,
// responses_test, request_test, convertors_test): calls an ASGI app directly
// with hand-written receive/send inside a Simulation, the way Starlette's
// TestClient drives an app (one request, redirects followed), and a trivial
// ThreadPoolRunner (a fresh simulated thread per call).
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::core::test_support {

// One new simulated thread per call; the loop task waits for the result
// without being cancellable (as anyio's to_thread.run_sync does).
class ThreadPerCall final : public ThreadPoolRunner {
 public:
  void run_sync(std::function<void()> fn) override {
    sim::LoopFuture<void> done("run_sync");
    sim::TaskHandle worker =
        sim::Simulation::current().spawn_thread("worker", [done, fn = std::move(fn)]() mutable {
          try {
            fn();
          } catch (const sim::TaskUnwound&) {
            throw;
          } catch (const boost::context::detail::forced_unwind&) {
            throw;
          } catch (...) {
            done.set_exception(std::current_exception());
            return;
          }
          done.set_result();
        });
    done.set_producer(worker.id());
    ++calls;
    done.get(/*cancellable=*/false);
  }
  int calls = 0;
};

// What one app call sent, and what it raised.
struct Exchange {
  int status = 0;
  Headers headers{};
  Bytes body{};
  std::size_t body_messages = 0;
  bool complete = false;       // the final body message (more_body false) was sent
  std::exception_ptr error{};  // what the app raised, if anything
  std::string url{};           // the last URL requested (after redirects)
  std::optional<std::string> header(std::string_view name) const { return get_header(headers, name); }
};

// The scope Starlette's TestClient builds for `target` ("/path?query").
inline Scope http_scope(std::string method, std::string_view target,
                        Headers headers = {{"host", "testserver"}}) {
  Scope scope;
  scope.method = std::move(method);
  const std::size_t question = target.find('?');
  scope.raw_path = std::string(target.substr(0, question));
  scope.path = unquote(scope.raw_path);
  if (question != std::string_view::npos) scope.query_string = std::string(target.substr(question + 1));
  scope.headers = std::move(headers);
  return scope;
}

// Calls `app` from the current simulation task. receive() hands out
// `incoming` in order, then (like uvicorn and TestClient) waits until the
// response is complete and answers http.disconnect from then on.
inline Exchange call_here(const App& app, Scope scope,
                          std::vector<Message> incoming = {Message::request("")}) {
  Exchange result;
  sim::Event complete("response complete");
  std::size_t next = 0;
  const Receive receive = [&]() -> Message {
    if (next < incoming.size()) return incoming[next++];
    if (!complete.is_set()) complete.wait();
    return Message::disconnect();
  };
  const Send send = [&](Message message) {
    if (message.type == MessageType::http_response_start) {
      result.status = message.status;
      result.headers = message.headers;
    } else if (message.type == MessageType::http_response_body) {
      result.body += message.body;
      ++result.body_messages;
      if (!message.more_body) {
        result.complete = true;
        complete.set();
      }
    }
  };
  try {
    app(scope, receive, send);
  } catch (const sim::Cancelled&) {
    throw;
  } catch (...) {
    result.error = std::current_exception();
  }
  return result;
}

// Runs `body` as the only task of a fresh simulation.
template <class Body>
sim::RunResult in_sim(Body&& body, sim::SimulationOptions options = {.seed = 1}) {
  sim::Simulation sim(options);
  sim.spawn("test", [&] { body(); });
  return sim.run();
}

// call_here() in a fresh simulation, which must complete.
inline Exchange call(const App& app, Scope scope, std::vector<Message> incoming = {Message::request("")}) {
  Exchange result;
  const sim::RunResult run = in_sim([&] { result = call_here(app, std::move(scope), std::move(incoming)); });
  EXPECT_TRUE(run.ok()) << run.report;
  return result;
}

// client.request(method, target), following redirects like TestClient.
inline Exchange request(const App& app, const std::string& method, std::string target, bool follow = true,
                        Bytes body = {}) {
  for (int hop = 0; hop < 10; ++hop) {
    Exchange result = call(app, http_scope(method, target), {Message::request(body)});
    result.url = "http://testserver" + target;
    const auto location = result.header("location");
    if (!follow || result.status < 300 || result.status >= 400 || !location) return result;
    constexpr std::string_view kOrigin = "http://testserver";
    target = location->rfind(kOrigin, 0) == 0 ? location->substr(kOrigin.size()) : *location;
  }
  ADD_FAILURE() << "redirect loop";
  return {};
}

inline Exchange get(const App& app, std::string target, bool follow = true) {
  return request(app, "GET", std::move(target), follow);
}
inline Exchange post(const App& app, std::string target, Bytes body) {
  return request(app, "POST", std::move(target), true, std::move(body));
}

}  // namespace asgisim::core::test_support
