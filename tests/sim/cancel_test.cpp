// Tests of cancel scopes (cancel.hpp): nesting, level-triggered delivery,
// shields, cancellation from another task, and Cancelled staying out of reach
// of `catch (const std::exception&)`.
#include "asgisim/sim/cancel.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- nesting ----------------------------------------------------------------------

TEST(CancelScope, CancellingTheOuterScopeReachesTheInnerOneAndOnlyTheOuterSwallowsIt) {
  bool outer_caught = false;
  bool inner_caught = true;
  bool after_inner = false;
  run_task([&] {
    outer_caught = cancel_scope([&](CancelScope& outer) {
      cancel_scope([&](CancelScope& inner) {
        outer.cancel();
        try {
          checkpoint();
        } catch (const Cancelled&) {
          inner_caught = inner.cancelled_caught();
          throw;
        }
      });
      after_inner = true;  // not reached: the inner scope does not swallow
    });
  });
  EXPECT_TRUE(outer_caught);
  EXPECT_FALSE(inner_caught);
  EXPECT_FALSE(after_inner);
}

TEST(CancelScope, CancellingTheInnerScopeLeavesTheOuterOneRunning) {
  bool inner_result = false;
  bool outer_result = true;
  Nanoseconds outer_end = -1;
  run_task([&] {
    outer_result = cancel_scope([&](CancelScope& outer) {
      inner_result = cancel_scope([&](CancelScope& inner) {
        inner.cancel();
        sim::sleep(kSecond);
        ADD_FAILURE() << "sleep in a cancelled scope returned";
      });
      EXPECT_FALSE(outer.cancel_called());
      sim::sleep(kMillisecond);  // the outer scope is not cancelled
      outer_end = now();
    });
  });
  EXPECT_TRUE(inner_result);
  EXPECT_FALSE(outer_result);
  EXPECT_EQ(outer_end, kMillisecond);
}

TEST(CancelScope, ACancelledScopeWhoseBodyNeverCheckpointsCatchesNothing) {
  run_task([&] {
    bool caught = cancel_scope([&](CancelScope& scope) {
      scope.cancel();
      EXPECT_TRUE(scope.cancel_called());
    });
    EXPECT_FALSE(caught) << "no checkpoint ran in the scope, so nothing was cancelled";
  });
}

// ---- level-triggered ---------------------------------------------------------------

TEST(CancelScope, EveryCheckpointInsideACancelledScopeRaisesAgainUntilItIsLeft) {
  int raised = 0;
  bool caught = false;
  bool after_scope_ok = false;
  run_task([&] {
    caught = cancel_scope([&](CancelScope& scope) {
      scope.cancel();
      for (int i = 0; i < 3; ++i) {
        try {
          checkpoint();
        } catch (const Cancelled&) {
          ++raised;
        }
      }
      try {
        sim::sleep(kSecond);
      } catch (const Cancelled&) {
        ++raised;
      }
      try {
        Simulation::current().checkpoint_if_cancelled();
      } catch (const Cancelled&) {
        ++raised;
      }
      checkpoint();  // the fifth time: let it leave the scope
    });
    checkpoint();  // outside the scope nothing is cancelled any more
    after_scope_ok = true;
  });
  EXPECT_EQ(raised, 5);
  EXPECT_TRUE(caught);
  EXPECT_TRUE(after_scope_ok);
}

TEST(CancelScope, CancelShieldedCheckpointDoesNotRaise) {
  run_task([&] {
    bool caught = cancel_scope([&](CancelScope& scope) {
      scope.cancel();
      Simulation::current().cancel_shielded_checkpoint();
      EXPECT_THROW(checkpoint(), Cancelled);
    });
    EXPECT_FALSE(caught) << "the Cancelled was caught inside the body";
  });
}

// ---- shields ----------------------------------------------------------------------

TEST(CancelScope, AShieldBlocksOuterCancellationUntilItIsLeft) {
  Nanoseconds shielded_sleep_end = -1;
  Nanoseconds cancelled_at = -1;
  bool caught = false;
  run_task([&] {
    caught = move_on_after(10 * kMillisecond, [&] {
      shielded([&] {
        sim::sleep(50 * kMillisecond);  // the outer deadline passes meanwhile
        shielded_sleep_end = now();
        checkpoint();  // still shielded: no Cancelled
      });
      try {
        checkpoint();
      } catch (const Cancelled&) {
        cancelled_at = now();
        throw;
      }
    });
  });
  EXPECT_EQ(shielded_sleep_end, 50 * kMillisecond);
  EXPECT_EQ(cancelled_at, 50 * kMillisecond);
  EXPECT_TRUE(caught);
}

TEST(CancelScope, AShieldDoesNotBlockItsOwnCancellation) {
  run_task([&] {
    bool caught = cancel_scope(
        [&](CancelScope& scope) {
          scope.cancel();
          sim::sleep(kSecond);
        },
        kNoDeadline, /*shield=*/true);
    EXPECT_TRUE(caught);
    EXPECT_EQ(now(), 0);
  });
}

TEST(CancelScope, DroppingAShieldExposesABlockedTaskToTheOuterCancellation) {
  Simulation sim;
  CancelScope* inner_scope = nullptr;
  Nanoseconds cancelled_at = -1;
  sim.spawn("guarded", [&] {
    cancel_scope([&](CancelScope& outer) {
      cancel_scope(
          [&](CancelScope& inner) {
            inner_scope = &inner;
            outer.cancel();
            try {
              sim::sleep(kSecond);
            } catch (const Cancelled&) {
              cancelled_at = now();
              throw;
            }
          },
          kNoDeadline, /*shield=*/true);
    });
    inner_scope = nullptr;
  });
  sim.spawn("unshield", [&] {
    sim::sleep(3 * kMillisecond);
    ASSERT_NE(inner_scope, nullptr);
    inner_scope->set_shield(false);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(cancelled_at, 3 * kMillisecond);
}

// ---- cancellation from another task -------------------------------------------------

TEST(CrossTask, CancelFromAnotherTaskWakesABlockedSleeperAtTheCancelTime) {
  Simulation sim;
  CancelScope* scope_of_sleeper = nullptr;
  Nanoseconds woke_at = -1;
  bool caught = false;
  sim.spawn("sleeper", [&] {
    caught = cancel_scope([&](CancelScope& scope) {
      scope_of_sleeper = &scope;
      try {
        sim::sleep(3'600 * kSecond);
      } catch (const Cancelled&) {
        woke_at = now();
        throw;
      }
    });
    scope_of_sleeper = nullptr;
  });
  sim.spawn("canceller", [&] {
    sim::sleep(7 * kMillisecond);
    ASSERT_NE(scope_of_sleeper, nullptr);
    scope_of_sleeper->cancel();
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(caught);
  EXPECT_EQ(woke_at, 7 * kMillisecond);
  EXPECT_EQ(result.end_time_ns, 7 * kMillisecond);
}

TEST(CrossTask, AReadyTaskSeesTheCancellationWhenItsCheckpointResumes) {
  Simulation sim;
  CancelScope* target = nullptr;
  int steps_after_cancel = 0;
  bool cancel_sent = false;
  sim.spawn("busy", [&] {
    cancel_scope([&](CancelScope& scope) {
      target = &scope;
      for (;;) {
        if (cancel_sent) ++steps_after_cancel;
        checkpoint();
      }
    });
    target = nullptr;
  });
  sim.spawn("canceller", [&] {
    checkpoint();
    checkpoint();
    target->cancel();
    cancel_sent = true;
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  // busy was suspended in a checkpoint when cancel() ran: that checkpoint
  // raises as it resumes, so no step runs after the cancellation.
  EXPECT_EQ(steps_after_cancel, 0);
}

// ---- Cancelled is not a std::exception ----------------------------------------------

TEST(CancelledType, IsNotCaughtByCatchStdException) {
  bool swallowed_by_std_exception = false;
  bool caught = false;
  run_task([&] {
    caught = move_on_after(kMillisecond, [&] {
      try {
        sim::sleep(kSecond);
      } catch (const std::exception&) {
        swallowed_by_std_exception = true;
      }
    });
  });
  EXPECT_FALSE(swallowed_by_std_exception);
  EXPECT_TRUE(caught);
}

// cancelled_caught() becomes true when the scope is left (a scope object
// does not outlive cancel_scope(), whose return value carries the same fact).
TEST(CancelledType, CancelledCaughtIsReportedOnlyWhenTheScopeSwallowedItsOwnCancellation) {
  run_task([&] {
    EXPECT_TRUE(cancel_scope([](CancelScope& scope) {
      EXPECT_FALSE(scope.cancelled_caught());
      scope.cancel();
      EXPECT_FALSE(scope.cancelled_caught()) << "not before the scope is left";
      checkpoint();
    }));
    // Cancelled but never raised inside: nothing caught.
    EXPECT_FALSE(cancel_scope([](CancelScope& scope) { scope.cancel(); }));
    // Raised, but caught inside the body: the scope itself caught nothing.
    EXPECT_FALSE(cancel_scope([](CancelScope& scope) {
      scope.cancel();
      EXPECT_THROW(checkpoint(), Cancelled);
    }));
    // Not cancelled at all.
    EXPECT_FALSE(cancel_scope([] { checkpoint(); }));
  });
}

// ---- BodyEnd: a cancellation as a value ------------------------------------------------

TEST(BodyEnd, CancelledIsSwallowedByTheScopeThatWasCancelledAsAThrownCancelledWouldBe) {
  bool after = false;
  run_task([&] {
    EXPECT_TRUE(cancel_scope([](CancelScope& scope) {
      scope.cancel();
      return BodyEnd::cancelled;
    }));
    EXPECT_FALSE(cancel_scope([](CancelScope& scope) {
      scope.cancel();
      return BodyEnd::returned;
    }));
    checkpoint();  // both scopes were left cleanly
    after = true;
  });
  EXPECT_TRUE(after);
}

TEST(BodyEnd, CancelledInAScopeThatWasNotCancelledIsRaisedToTheEnclosingOne) {
  bool inner_swallowed = true;
  bool after_inner = false;
  bool outer_swallowed = false;
  run_task([&] {
    outer_swallowed = cancel_scope([&](CancelScope& outer) {
      outer.cancel();
      inner_swallowed = cancel_scope([] { return BodyEnd::cancelled; });
      after_inner = true;  // not reached: the inner scope raised Cancelled
    });
  });
  EXPECT_TRUE(outer_swallowed);
  EXPECT_TRUE(inner_swallowed) << "unchanged: cancel_scope raised instead of returning";
  EXPECT_FALSE(after_inner);
}

TEST(CancelledType, AnExceptionOtherThanCancelledPassesThroughACancelledScope) {
  run_task([&] {
    EXPECT_THROW(cancel_scope([](CancelScope& scope) {
                   scope.cancel();
                   throw std::runtime_error("not a cancellation");
                 }),
                 std::runtime_error);
    checkpoint();  // the scope was left cleanly: no cancellation leaks out
  });
}

TEST(CancelledType, CheckpointsOutsideAnyScopeNeverRaise) {
  run_task([&] {
    for (int i = 0; i < 10; ++i) checkpoint();
    Simulation::current().checkpoint_if_cancelled();
    EXPECT_FALSE(Simulation::current().is_cancelled(Simulation::current().current_task()));
  });
}

}  // namespace
}  // namespace asgisim::sim
