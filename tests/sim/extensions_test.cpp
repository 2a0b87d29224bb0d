// Tests of per-run extensions (extensions.hpp, Simulation::extension<T>()):
// one value-initialised object per type and Simulation, kept for the
// Simulation's life, destroyed with it in reverse order of first use, after
// the run's remaining tasks are unwound.
#include "asgisim/sim/extensions.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {
namespace {

struct Counter {
  int count;  // no initialiser: extension<T>() value-initialises
};

struct Registry {
  std::map<int, std::string> entries;
};

TEST(Extensions, AreValueInitialisedOnFirstUseAndKept) {
  Simulation sim;
  EXPECT_EQ(sim.find_extension<Counter>(), nullptr);
  Counter& counter = sim.extension<Counter>();
  EXPECT_EQ(counter.count, 0);
  counter.count = 5;
  EXPECT_EQ(&sim.extension<Counter>(), &counter);
  EXPECT_EQ(sim.find_extension<Counter>(), &counter);
  EXPECT_EQ(sim.extension<Counter>().count, 5);
  EXPECT_EQ(sim.find_extension<Registry>(), nullptr) << "one type's object is not another's";
}

TEST(Extensions, EachSimulationHasItsOwn) {
  Simulation first;
  Simulation second;
  first.extension<Counter>().count = 1;
  EXPECT_EQ(second.find_extension<Counter>(), nullptr);
  EXPECT_EQ(second.extension<Counter>().count, 0);
  // Inside a run, the running Simulation's own.
  second.spawn("task", [] { Simulation::current().extension<Counter>().count += 10; });
  ASSERT_TRUE(second.run().ok());
  EXPECT_EQ(second.extension<Counter>().count, 10);
  EXPECT_EQ(first.extension<Counter>().count, 1);
}

TEST(Extensions, ANewRunStartsWithoutTheLastRunsState) {
  // What a thread_local registry would get wrong: seeds run one after the
  // other on one thread must not see each other's state.
  for (int seed = 0; seed < 3; ++seed) {
    Simulation sim({.seed = static_cast<std::uint64_t>(seed)});
    sim.spawn("task", [seed] {
      Registry& registry = Simulation::current().extension<Registry>();
      EXPECT_TRUE(registry.entries.empty()) << "seed " << seed;
      registry.entries.emplace(seed, "left behind");
    });
    ASSERT_TRUE(sim.run().ok());
  }
}

// Records its destruction, and whether the other extension was still there.
template <int N>
struct Recorder {
  std::vector<std::string>* log = nullptr;
  ~Recorder() {
    if (log != nullptr) log->push_back("destroyed " + std::to_string(N));
  }
};

TEST(Extensions, AreDestroyedWithTheSimulationLastAttachedFirst) {
  std::vector<std::string> log;
  {
    Simulation sim;
    sim.extension<Recorder<1>>().log = &log;
    sim.extension<Recorder<2>>().log = &log;
    sim.extension<Recorder<3>>().log = &log;
    sim.extension<Recorder<2>>();  // a later use does not reorder
    EXPECT_TRUE(log.empty());
  }
  const std::vector<std::string> expected = {"destroyed 3", "destroyed 2", "destroyed 1"};
  EXPECT_EQ(log, expected);
}

// Unwinding a task that never ran destroys its captures; they may still use
// the run's extensions (core's anyio groups forget their scopes there).
struct UsesRegistryWhenDestroyed {
  bool* found;
  ~UsesRegistryWhenDestroyed() {
    Simulation* sim = Simulation::current_or_null();
    *found = sim != nullptr && sim->find_extension<Registry>() != nullptr;
  }
};

TEST(Extensions, OutliveTheUnwindOfTheRemainingTasks) {
  bool found = false;
  {
    Simulation sim;
    sim.extension<Registry>();
    auto guard = std::shared_ptr<UsesRegistryWhenDestroyed>(new UsesRegistryWhenDestroyed{&found});
    sim.spawn("never-run", [guard] {});
    guard.reset();
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace asgisim::sim
