// Tests of task groups (task_group.hpp): waiting for every child, the first
// error cancelling siblings and body, both anyio conventions for surfacing
// errors, and cancellation flowing into and out of a group.
#include "asgisim/sim/task_group.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// The messages of an ExceptionGroup's members, in order.
std::vector<std::string> messages(const ExceptionGroup& group) {
  std::vector<std::string> out;
  for (const auto& e : group.exceptions()) out.push_back(describe(e));
  return out;
}

// Sleeps for an hour and records whether it was cancelled, and when.
struct Sleeper {
  bool cancelled = false;
  Nanoseconds cancelled_at = -1;
  void operator()() {
    try {
      sim::sleep(3'600 * kSecond);
    } catch (const Cancelled&) {
      cancelled = true;
      cancelled_at = now();
      throw;
    }
  }
};

TEST(TaskGroup, WaitsForEveryChild) {
  std::vector<int> finished;
  Nanoseconds left_at = -1;
  run_task([&] {
    task_group([&](TaskGroup& tg) {
      for (int i = 3; i >= 1; --i) {
        tg.start_soon("child", [&finished, i] {
          sim::sleep(i * kMillisecond);
          finished.push_back(i);
        });
      }
    });
    left_at = now();
  });
  EXPECT_EQ(finished, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(left_at, 3 * kMillisecond);
}

TEST(TaskGroup, AnEmptyGroupLeavesAtOnce) {
  run_task([&] {
    task_group([](TaskGroup&) {});
    EXPECT_EQ(now(), 0);
  });
}

TEST(TaskGroup, ChildrenStartAfterTheBodyYields) {
  std::vector<std::string> log;
  run_task([&] {
    task_group([&](TaskGroup& tg) {
      tg.start_soon("a", [&] { log.push_back("a"); });
      tg.start_soon("b", [&] { log.push_back("b"); });
      log.push_back("body");
    });
  });
  EXPECT_EQ(log, (std::vector<std::string>{"body", "a", "b"}));
}

TEST(TaskGroup, TheFirstChildErrorCancelsSiblingsAndBodyAndSurfacesBareInAnyio3) {
  Sleeper sibling;
  Sleeper body_sleep;
  std::string surfaced;
  run_task(
      [&] {
        try {
          task_group([&](TaskGroup& tg) {
            tg.start_soon("failing", [] {
              sim::sleep(kMillisecond);
              throw std::runtime_error("child failed");
            });
            tg.start_soon("sibling", [&] { sibling(); });
            body_sleep();
          });
        } catch (const std::runtime_error& error) {
          surfaced = error.what();
        }
        EXPECT_EQ(now(), kMillisecond);
      },
      {.task_group_errors = TaskGroupErrors::anyio3});
  EXPECT_EQ(surfaced, "child failed");
  EXPECT_TRUE(sibling.cancelled);
  EXPECT_EQ(sibling.cancelled_at, kMillisecond);
  EXPECT_TRUE(body_sleep.cancelled);
  EXPECT_EQ(body_sleep.cancelled_at, kMillisecond);
}

TEST(TaskGroup, TheFirstChildErrorSurfacesAsAGroupInAnyio4) {
  Sleeper sibling;
  std::vector<std::string> surfaced;
  run_task(
      [&] {
        try {
          task_group([&](TaskGroup& tg) {
            tg.start_soon("failing", [] {
              sim::sleep(kMillisecond);
              throw std::runtime_error("child failed");
            });
            tg.start_soon("sibling", [&] { sibling(); });
          });
        } catch (const ExceptionGroup& group) {
          surfaced = messages(group);
        }
      },
      {.task_group_errors = TaskGroupErrors::anyio4});
  EXPECT_EQ(surfaced, (std::vector<std::string>{"child failed"}));
  EXPECT_TRUE(sibling.cancelled);
}

class BothConventions : public ::testing::TestWithParam<TaskGroupErrors> {};

TEST_P(BothConventions, TwoFailingChildrenSurfaceAsAGroup) {
  std::vector<std::string> surfaced;
  std::string what;
  run_task(
      [&] {
        try {
          task_group([&](TaskGroup& tg) {
            // Both wake at 1 ms; the second is already ready when the first
            // fails, so it raises its own error instead of Cancelled.
            tg.start_soon("a", [] {
              sim::sleep(kMillisecond);
              throw std::runtime_error("a failed");
            });
            tg.start_soon("b", [] {
              sim::sleep(kMillisecond);
              throw std::logic_error("b failed");
            });
          });
        } catch (const ExceptionGroup& group) {
          surfaced = messages(group);
          what = group.what();
        }
      },
      {.task_group_errors = GetParam()});
  EXPECT_EQ(surfaced, (std::vector<std::string>{"a failed", "b failed"}));
  EXPECT_NE(what.find("2 exception(s)"), std::string::npos) << what;
  EXPECT_NE(what.find("a failed"), std::string::npos) << what;
}

TEST_P(BothConventions, ABodyExceptionCancelsTheChildren) {
  Sleeper child;
  std::vector<std::string> surfaced;
  run_task(
      [&] {
        try {
          task_group([&](TaskGroup& tg) {
            tg.start_soon("child", [&] { child(); });
            sim::sleep(2 * kMillisecond);
            throw std::runtime_error("body failed");
          });
        } catch (const ExceptionGroup& group) {
          surfaced = messages(group);
        } catch (const std::runtime_error& error) {
          surfaced = {std::string("bare: ") + error.what()};
        }
        EXPECT_EQ(now(), 2 * kMillisecond);
      },
      {.task_group_errors = GetParam()});
  EXPECT_TRUE(child.cancelled);
  EXPECT_EQ(child.cancelled_at, 2 * kMillisecond);
  if (GetParam() == TaskGroupErrors::anyio3) {
    EXPECT_EQ(surfaced, (std::vector<std::string>{"bare: body failed"}));
  } else {
    EXPECT_EQ(surfaced, (std::vector<std::string>{"body failed"}));
  }
}

TEST_P(BothConventions, ChildrenThatOnlyRaiseCancelledAddNoError) {
  run_task(
      [&] {
        EXPECT_NO_THROW(task_group([&](TaskGroup& tg) {
          tg.start_soon("a", [] { sim::sleep(kSecond); });
          tg.start_soon("b", [] { sim::sleep(kSecond); });
          sim::sleep(kMillisecond);
          tg.cancel_scope().cancel();
        }));
        EXPECT_EQ(now(), kMillisecond);
      },
      {.task_group_errors = GetParam()});
}

INSTANTIATE_TEST_SUITE_P(Conventions, BothConventions,
                         ::testing::Values(TaskGroupErrors::anyio3, TaskGroupErrors::anyio4),
                         [](const auto& info) {
                           return std::string(info.param == TaskGroupErrors::anyio3 ? "anyio3" : "anyio4");
                         });

TEST(TaskGroup, OuterCancellationPropagatesThroughTheGroup) {
  Sleeper a;
  Sleeper b;
  bool after_group = false;
  bool caught = false;
  run_task([&] {
    caught = move_on_after(5 * kMillisecond, [&] {
      task_group([&](TaskGroup& tg) {
        tg.start_soon("a", [&] { a(); });
        tg.start_soon("b", [&] { b(); });
      });
      after_group = true;  // not reached: the outer Cancelled keeps going
    });
    EXPECT_EQ(now(), 5 * kMillisecond);
  });
  EXPECT_TRUE(caught);
  EXPECT_FALSE(after_group);
  EXPECT_TRUE(a.cancelled);
  EXPECT_TRUE(b.cancelled);
  EXPECT_EQ(a.cancelled_at, 5 * kMillisecond);
}

TEST(TaskGroup, OuterCancellationWhileTheBodyRunsReachesBodyAndChildren) {
  Sleeper body;
  Sleeper child;
  bool caught = false;
  run_task([&] {
    caught = move_on_after(4 * kMillisecond, [&] {
      task_group([&](TaskGroup& tg) {
        tg.start_soon("child", [&] { child(); });
        body();
      });
    });
  });
  EXPECT_TRUE(caught);
  EXPECT_TRUE(body.cancelled);
  EXPECT_TRUE(child.cancelled);
  EXPECT_EQ(child.cancelled_at, 4 * kMillisecond);
}

TEST(TaskGroup, CancellingTheGroupsScopeIsSwallowed) {
  Sleeper child;
  bool after_group = false;
  run_task([&] {
    task_group([&](TaskGroup& tg) {
      tg.start_soon("child", [&] { child(); });
      sim::sleep(3 * kMillisecond);
      tg.cancel_scope().cancel();
      checkpoint();  // raises Cancelled out of the body
      ADD_FAILURE() << "the body's checkpoint did not raise";
    });
    after_group = true;
    checkpoint();  // nothing is cancelled any more
  });
  EXPECT_TRUE(after_group);
  EXPECT_TRUE(child.cancelled);
  EXPECT_EQ(child.cancelled_at, 3 * kMillisecond);
}

TEST(TaskGroup, AChildCanCancelItsOwnGroup) {
  Sleeper sibling;
  run_task([&] {
    task_group([&](TaskGroup& tg) {
      tg.start_soon("sibling", [&] { sibling(); });
      tg.start_soon("canceller", [&] {
        sim::sleep(6 * kMillisecond);
        tg.cancel_scope().cancel();
      });
    });
    EXPECT_EQ(now(), 6 * kMillisecond);
  });
  EXPECT_TRUE(sibling.cancelled);
}

TEST(TaskGroup, AChildCanStartMoreChildren) {
  std::vector<std::string> log;
  run_task([&] {
    task_group([&](TaskGroup& tg) {
      tg.start_soon("first", [&] {
        sim::sleep(kMillisecond);
        tg.start_soon("second", [&] {
          sim::sleep(kMillisecond);
          log.push_back("second");
        });
        log.push_back("first");
      });
    });
    log.push_back("left");
    EXPECT_EQ(now(), 2 * kMillisecond);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"first", "second", "left"}));
}

TEST(TaskGroup, NestedGroupsPropagateAChildErrorOutward) {
  Sleeper outer_sibling;
  std::string surfaced;
  run_task([&] {
    try {
      task_group([&](TaskGroup& outer) {
        outer.start_soon("outer-sibling", [&] { outer_sibling(); });
        outer.start_soon("inner-host", [] {
          task_group([](TaskGroup& inner) {
            inner.start_soon("deep", [] {
              sim::sleep(kMillisecond);
              throw std::runtime_error("deep failure");
            });
          });
        });
      });
    } catch (const std::runtime_error& error) {
      surfaced = error.what();
    }
  });
  EXPECT_EQ(surfaced, "deep failure");
  EXPECT_TRUE(outer_sibling.cancelled);
}

TEST(TaskGroup, ShieldedCleanupInAChildRunsToTheEnd) {
  Nanoseconds cleanup_done = -1;
  run_task([&] {
    move_on_after(kMillisecond, [&] {
      task_group([&](TaskGroup& tg) {
        tg.start_soon("with-cleanup", [&] {
          try {
            sim::sleep(kSecond);
          } catch (const Cancelled&) {
            shielded([&] { sim::sleep(5 * kMillisecond); });
            cleanup_done = now();
            throw;
          }
        });
      });
    });
    EXPECT_EQ(now(), 6 * kMillisecond) << "the group waited for the shielded cleanup";
  });
  EXPECT_EQ(cleanup_done, 6 * kMillisecond);
}

// The kernel's reach (trio, anyio 4): cancelling a group's scope reaches the
// children of a group nested in it at once, unlike anyio 3 (whose model is
// core's AnyioTaskGroup).
TEST(TaskGroup, CancellingTheOuterGroupReachesTheChildrenOfANestedGroupAtOnce) {
  Sleeper grandchild;
  Nanoseconds inner_left_at = -1;
  run_task([&] {
    task_group([&](TaskGroup& outer) {
      outer.start_soon("inner host", [&] {
        try {
          task_group([&](TaskGroup& inner) { inner.start_soon("grandchild", [&] { grandchild(); }); });
        } catch (const Cancelled&) {
          inner_left_at = now();
          throw;
        }
      });
      sim::sleep(3 * kMillisecond);
      outer.cancel_scope().cancel();
    });
  });
  EXPECT_TRUE(grandchild.cancelled);
  EXPECT_EQ(grandchild.cancelled_at, 3 * kMillisecond);
  EXPECT_EQ(inner_left_at, 3 * kMillisecond);
}

TEST(IsCancellation, TellsCancelledFromOtherErrorsAndFromNone) {
  EXPECT_TRUE(is_cancellation(std::make_exception_ptr(Cancelled{})));
  EXPECT_FALSE(is_cancellation(std::make_exception_ptr(std::runtime_error("boom"))));
  EXPECT_FALSE(is_cancellation(std::make_exception_ptr(TimeoutError("late"))));
  EXPECT_FALSE(is_cancellation(nullptr));
}

}  // namespace
}  // namespace asgisim::sim
