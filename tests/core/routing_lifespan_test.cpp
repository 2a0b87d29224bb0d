// Tests of the router's lifespan (routing.hpp, Starlette 0.26.1): ports of the
// lifespan tests of tests/test_routing.py: startup and shutdown hooks, and a hook
// that raises.
#include "asgisim/core/routing.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/json_text.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/threading.hpp"
#include "core/starlette_port_support.hpp"

namespace asgisim::core {
namespace {

using test_support::call_here;
using test_support::http_scope;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct LifespanRun {
  std::vector<Message> sent{};
  std::exception_ptr error{};
  bool ok = false;
};

// Runs the lifespan protocol against `app`: startup, then `between()`, then shutdown.
LifespanRun run_lifespan(const App& app, const std::function<void()>& between = {}) {
  LifespanRun result;
  sim::Simulation sim({.seed = 1});
  sim.spawn("server", [&] {
    sim::Event startup_answered;
    sim::Event shutdown_requested;
    int received = 0;
    const Receive receive = [&]() -> Message {
      if (received++ == 0) return Message{.type = MessageType::lifespan_startup};
      shutdown_requested.wait();
      return Message{.type = MessageType::lifespan_shutdown};
    };
    const Send send = [&](Message message) {
      result.sent.push_back(message);
      startup_answered.set();
    };
    sim::task_group([&](sim::TaskGroup& group) {
      group.start_soon("lifespan", [&] {
        Scope scope;
        scope.type = "lifespan";
        try {
          app(scope, receive, send);
        } catch (const sim::Cancelled&) {
          throw;
        } catch (...) {
          result.error = std::current_exception();
          startup_answered.set();
        }
      });
      startup_answered.wait();
      if (between && !result.error) between();
      shutdown_requested.set();
    });
  });
  result.ok = sim.run().ok();
  return result;
}

std::vector<MessageType> types(const std::vector<Message>& messages) {
  std::vector<MessageType> out;
  for (const Message& m : messages) out.push_back(m.type);
  return out;
}

// Ports of test_lifespan_async and test_lifespan_sync (hooks are called on the loop either way).
TEST(Lifespan, RunsStartupAndShutdownHooks) {
  bool startup_complete = false;
  bool shutdown_complete = false;
  auto router =
      std::make_shared<Router>(Routes{Route("/", [](Request&) { return PlainTextResponse("hello, world"); })},
                               RouterOptions{.on_startup = {[&] { startup_complete = true; }},
                                             .on_shutdown = {[&] { shutdown_complete = true; }}});
  const App app = as_app(router);
  EXPECT_FALSE(startup_complete);
  const LifespanRun run = run_lifespan(app, [&] {
    EXPECT_TRUE(startup_complete);
    EXPECT_FALSE(shutdown_complete);
    EXPECT_EQ(call_here(app, http_scope("GET", "/")).body, "hello, world");
  });
  EXPECT_TRUE(run.ok);
  EXPECT_FALSE(run.error);
  EXPECT_TRUE(startup_complete);
  EXPECT_TRUE(shutdown_complete);
  EXPECT_THAT(types(run.sent),
              ElementsAre(MessageType::lifespan_startup_complete, MessageType::lifespan_shutdown_complete));
}

// Port of test_raise_on_startup.
TEST(Lifespan, RaiseOnStartup) {
  const App app = as_app(std::make_shared<Router>(
      Routes{}, RouterOptions{.on_startup = {[] { throw std::runtime_error("startup broke"); }}}));
  const LifespanRun run = run_lifespan(app);
  EXPECT_TRUE(run.ok);
  ASSERT_TRUE(run.error);
  EXPECT_THROW(std::rethrow_exception(run.error), std::runtime_error);
  ASSERT_THAT(types(run.sent), ElementsAre(MessageType::lifespan_startup_failed));
  EXPECT_THAT(run.sent[0].text, HasSubstr("startup broke"));
}

// Port of test_raise_on_shutdown.
TEST(Lifespan, RaiseOnShutdown) {
  const App app = as_app(std::make_shared<Router>(
      Routes{}, RouterOptions{.on_shutdown = {[] { throw std::runtime_error("shutdown broke"); }}}));
  const LifespanRun run = run_lifespan(app);
  ASSERT_TRUE(run.error);
  ASSERT_THAT(types(run.sent),
              ElementsAre(MessageType::lifespan_startup_complete, MessageType::lifespan_shutdown_failed));
  EXPECT_THAT(run.sent[1].text, HasSubstr("shutdown broke"));
}

}  // namespace
}  // namespace asgisim::core
