// Tests of cancel-scope deadlines in virtual time (cancel.hpp): move_on_after,
// fail_after, past, nested, moved, removed and infinite deadlines.
#include "asgisim/sim/cancel.hpp"

#include <gtest/gtest.h>

#include <string>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;

// ---- deadlines --------------------------------------------------------------------

TEST(Deadlines, MoveOnAfterCutsABodyShortAtExactlyTheDeadline) {
  run_task([&] {
    sim::sleep(kMillisecond);
    EXPECT_TRUE(move_on_after(10 * kMillisecond, [] { sim::sleep(3'600 * kSecond); }));
    EXPECT_EQ(now(), 11 * kMillisecond);
    EXPECT_FALSE(move_on_after(10 * kMillisecond, [] { sim::sleep(4 * kMillisecond); }));
    EXPECT_EQ(now(), 15 * kMillisecond);
  });
}

TEST(Deadlines, FailAfterRaisesTimeoutErrorAtTheDeadline) {
  run_task([&] {
    try {
      fail_after(25 * kMillisecond, [] { sim::sleep(kSecond); });
      ADD_FAILURE() << "fail_after did not raise";
    } catch (const TimeoutError& error) {
      EXPECT_EQ(now(), 25 * kMillisecond);
      EXPECT_NE(std::string(error.what()).find("deadline"), std::string::npos);
    }
    EXPECT_NO_THROW(fail_after(25 * kMillisecond, [] { sim::sleep(5 * kMillisecond); }));
    EXPECT_EQ(now(), 30 * kMillisecond);
  });
}

TEST(Deadlines, ADeadlineInThePastCancelsAtOnce) {
  run_task([&] {
    sim::sleep(kSecond);
    for (Nanoseconds delay : {Nanoseconds{0}, -5 * kMillisecond}) {
      SCOPED_TRACE(testing::Message() << "delay " << delay);
      bool cancel_called = false;
      const bool caught = move_on_after(delay, [&] {
        cancel_called = true;
        sim::sleep(kSecond);
      });
      EXPECT_TRUE(caught);
      EXPECT_TRUE(cancel_called);
      EXPECT_EQ(now(), kSecond);
    }
    // An absolute deadline already passed.
    EXPECT_TRUE(cancel_scope([] { checkpoint(); }, now() - 1));
    EXPECT_THROW(fail_after(0, [] { checkpoint(); }), TimeoutError);
    EXPECT_EQ(now(), kSecond);
  });
}

TEST(Deadlines, NestedDeadlinesFireInOrderAndTheEarlierWins) {
  run_task([&] {
    bool outer_caught = false;
    bool inner_caught = false;
    outer_caught = move_on_after(5 * kMillisecond, [&] {
      inner_caught = move_on_after(20 * kMillisecond, [] { sim::sleep(kSecond); });
    });
    EXPECT_TRUE(outer_caught);
    EXPECT_FALSE(inner_caught);
    EXPECT_EQ(now(), 5 * kMillisecond);
  });
}

TEST(Deadlines, SetDeadlineMovesTheDeadline) {
  run_task([&] {
    // Later.
    EXPECT_TRUE(cancel_scope(
        [](CancelScope& scope) {
          scope.set_deadline(now() + 30 * kMillisecond);
          sim::sleep(kSecond);
        },
        now() + 10 * kMillisecond));
    EXPECT_EQ(now(), 30 * kMillisecond);
    // Earlier.
    EXPECT_TRUE(cancel_scope(
        [](CancelScope& scope) {
          scope.set_deadline(now() + 2 * kMillisecond);
          EXPECT_EQ(scope.deadline(), 32 * kMillisecond);
          sim::sleep(kSecond);
        },
        now() + 10 * kMillisecond));
    EXPECT_EQ(now(), 32 * kMillisecond);
  });
}

TEST(Deadlines, RemovingTheDeadlineStopsItFromFiring) {
  bool caught = true;
  run_task([&] {
    caught = cancel_scope(
        [](CancelScope& scope) {
          scope.set_deadline(kNoDeadline);
          EXPECT_EQ(scope.deadline(), kNoDeadline);
          sim::sleep(20 * kMillisecond);
        },
        10 * kMillisecond);
    EXPECT_EQ(now(), 20 * kMillisecond);
  });
  EXPECT_FALSE(caught) << "the scope was cancelled by a deadline it no longer had";
}

// anyio's move_on_after(math.inf): an infinite relative delay means no
// deadline, whatever the current time (now() + delay must not overflow).
TEST(Deadlines, AnInfiniteDelayMeansNoDeadline) {
  run_task([&] {
    sim::sleep(kMillisecond);
    const bool caught = move_on_after(kNoDeadline, [] { sim::sleep(5 * kMillisecond); });
    EXPECT_FALSE(caught) << "cancelled at once: the deadline overflowed";
    EXPECT_EQ(now(), 6 * kMillisecond);
  });
}

// A deadline scope that ended early must leave no live timer behind: a later
// scope of the same task (likely built at the same stack address) must get
// its own deadline, not the first one's.
TEST(Deadlines, AnExitedScopesDeadlineDoesNotCancelALaterScope) {
  bool first_caught = true;
  bool second_caught = true;
  Nanoseconds second_end = -1;
  run_task([&] {
    for (int round = 0; round < 2; ++round) {
      const Nanoseconds deadline = round == 0 ? 10 * kMillisecond : 100 * kMillisecond;
      const Nanoseconds nap = round == 0 ? kMillisecond : 50 * kMillisecond;
      const bool caught = move_on_after(deadline, [&] { sim::sleep(nap); });
      (round == 0 ? first_caught : second_caught) = caught;
    }
    second_end = now();
  });
  EXPECT_FALSE(first_caught);
  EXPECT_FALSE(second_caught) << "cancelled at virtual time " << second_end
                              << " ns by the first scope's stale deadline (10 ms)";
  EXPECT_EQ(second_end, 51 * kMillisecond);
}

}  // namespace
}  // namespace asgisim::sim
