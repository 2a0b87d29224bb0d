// Exceptions and fibers: a task may block inside a catch block (as Python code
// awaits in `except:`) while other tasks throw and catch, and still rethrow
// its own exception; exceptions never cross a context switch.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {
namespace {

TEST(FiberExceptionTest, BlockingInsideCatchKeepsEachTasksCaughtException) {
  for (Strategy strategy : {Strategy::fifo, Strategy::random, Strategy::pct}) {
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      SCOPED_TRACE(testing::Message() << to_string(strategy) << " seed " << seed);
      Simulation sim({.seed = seed, .strategy = strategy});
      std::string a_result;
      std::string b_result;
      auto body = [&sim](const char* what, std::string& result) {
        try {
          try {
            throw std::runtime_error(what);
          } catch (const std::exception&) {
            // Suspend inside the handler while the other task throws too.
            sim.sleep(kMillisecond);
            sim.checkpoint();
            EXPECT_EQ(std::uncaught_exceptions(), 0);
            throw;  // must rethrow this task's own exception
          }
        } catch (const std::runtime_error& e) {
          result = e.what();
        }
      };
      sim.spawn("a", [&] { body("from a", a_result); });
      sim.spawn("b", [&] { body("from b", b_result); });
      RunResult result = sim.run();
      ASSERT_TRUE(result.ok()) << result.report;
      EXPECT_EQ(a_result, "from a");
      EXPECT_EQ(b_result, "from b");
    }
  }
}

TEST(FiberExceptionTest, CurrentExceptionInsideHandlerSurvivesSwitches) {
  Simulation sim;
  int seen = 0;
  for (int i = 0; i < 3; ++i) {
    sim.spawn(std::string("t").append(std::to_string(i)), [&sim, &seen, i] {
      try {
        throw i;
      } catch (int) {
        sim.checkpoint();
        try {
          std::rethrow_exception(std::current_exception());
        } catch (int value) {
          EXPECT_EQ(value, i);
          ++seen;
        }
      }
    });
  }
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(seen, 3);
}

TEST(FiberExceptionTest, TaskErrorIsReportedNotPropagatedAcrossTheSwitch) {
  Simulation sim;
  sim.spawn("raiser", [&sim] {
    sim.checkpoint();
    throw std::logic_error("boom");
  });
  bool other_finished = false;
  sim.spawn("other", [&] {
    sim.checkpoint();
    other_finished = true;
  });
  RunResult result = sim.run();
  EXPECT_EQ(result.status, RunStatus::task_error);
  EXPECT_NE(result.report.find("boom"), std::string::npos);
  EXPECT_NE(result.report.find("raiser"), std::string::npos);
  (void)other_finished;
}

}  // namespace
}  // namespace asgisim::sim
