// random-stack sends HEAD requests (issue 16): the endpoints answer them with
// a body, as Starlette's do, and head-no-body, judged where the server
// writes, must not fire on such ordinary stacks (it did when it was judged at
// the app boundary).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/stack_description.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios {
namespace {

std::size_t head_requests(const StackDescription& stack) {
  std::size_t count = 0;
  for (const ClientDescription& client : stack.clients) {
    for (const RequestDescription& request : client.requests) count += request.method == "HEAD" ? 1 : 0;
  }
  return count;
}

TEST(HeadTraffic, DrawStackSendsHeadRequests) {
  std::size_t head = 0;
  std::size_t seeds_with_head = 0;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    sim::Simulation sim({.seed = seed});
    const std::size_t n = head_requests(draw_stack(sim, DrawOptions{}));
    head += n;
    seeds_with_head += n > 0 ? 1 : 0;
  }
  EXPECT_GE(seeds_with_head, 10U) << head << " HEAD requests in 400 draws";
  sim::Simulation off({.seed = 1});
  DrawOptions no_head;
  no_head.head_requests = false;
  EXPECT_EQ(head_requests(draw_stack(off, no_head)), 0U);
}

TEST(HeadTraffic, RandomStackFixedRunsWithHeadRequestsNeverFailHeadNoBody) {
  const Scenario& random_stack = *built_in_catalogue().find("random-stack");
  const RunSettings settings{.strategy = sim::Strategy::random};
  std::size_t runs_with_head = 0;
  for (std::uint64_t seed = 0; seed < 1000 && runs_with_head < 20; ++seed) {
    sim::Simulation sim({.seed = seed});  // the draw is the run's first use of its choice source
    if (head_requests(draw_stack(
            sim, DrawOptions{.behaviours = {resolve(random_stack.info().fixed.versions).base_http}})) == 0) {
      continue;
    }
    ++runs_with_head;
    const RunOutcome outcome = run_seed(random_stack, ConfigKind::fixed, seed, settings);
    EXPECT_FALSE(outcome.failed()) << describe(outcome);
    for (const core::Violation& v : outcome.violations) EXPECT_NE(v.invariant, "head-no-body") << v.detail;
  }
  EXPECT_GE(runs_with_head, 10U);
}

}  // namespace
}  // namespace asgisim::scenarios
