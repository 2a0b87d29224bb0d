// A timeline of a run with 10 tasks whose names share a long prefix reads at
// 120 columns and names every task in full (issue 16: six tasks read
// "BaseHTTPMiddlewar~").
#include <gtest/gtest.h>

#include <string>

#include "asgisim/scenarios/timeline.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios {
namespace {

TEST(TimelineNames, TenTasksWithACommonPrefixAreNamedInFullWithin120Columns) {
  sim::Simulation simulation({.seed = 1});
  for (int i = 0; i < 10; ++i) {
    simulation.spawn("BaseHTTPMiddleware" + std::to_string(i) + ".call_next",
                     [i] { sim::sleep((i + 1) * sim::kMillisecond); });
  }
  ASSERT_TRUE(simulation.run().ok());
  const std::string timeline = text_timeline(simulation.trace(), simulation.task_names());
  for (int i = 0; i < 10; ++i) {
    const std::string name = "BaseHTTPMiddleware" + std::to_string(i) + ".call_next";
    EXPECT_NE(timeline.find("=" + name), std::string::npos) << name << "\n" << timeline;
  }
  std::size_t start = 0;
  while (start < timeline.size()) {
    const std::size_t end = std::min(timeline.find('\n', start), timeline.size());
    EXPECT_LE(end - start, 120U) << timeline.substr(start, end - start);
    start = end + 1;
  }
  EXPECT_EQ(timeline.find('~'), std::string::npos) << timeline;
}

// A task waits on a named event that another sets after a labelled choice.
void spawn_a_named_event_and_a_labelled_choice(sim::Simulation& simulation) {
  auto ready = std::make_shared<sim::Event>("response_sent");
  simulation.spawn("waiter", [ready] { ready->wait(); });
  simulation.spawn("client", [ready] {
    const std::uint64_t pause =
        sim::Simulation::current().choose({"client.pause_ms", sim::Stream::clients}, 3);
    sim::sleep((pause + 1) * sim::kMillisecond);
    ready->set();
  });
}

// "object #12" and "choice 0 of 2 (clients)" named nothing (issue 16).
TEST(TimelineNames, BlockingObjectsAndChoicesAreNamed) {
  sim::Simulation simulation({.seed = 7, .trace = {.records_max = 1024}});
  spawn_a_named_event_and_a_labelled_choice(simulation);
  ASSERT_TRUE(simulation.run().ok());
  const std::string timeline = text_timeline(simulation.trace(), simulation.task_names());
  EXPECT_NE(timeline.find("blocks on anyio.Event 'response_sent' #"), std::string::npos) << timeline;
  EXPECT_NE(timeline.find("woken (notified) from anyio.Event 'response_sent' #"), std::string::npos)
      << timeline;
  EXPECT_NE(timeline.find("client.pause_ms = "), std::string::npos) << timeline;
  EXPECT_EQ(timeline.find("object #"), std::string::npos) << timeline;
  EXPECT_EQ(timeline.find("choice "), std::string::npos) << timeline;
}

}  // namespace
}  // namespace asgisim::scenarios
