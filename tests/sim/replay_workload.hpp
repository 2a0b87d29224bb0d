// The workload the record-and-replay tests share: a run that cannot deadlock
// or fail whatever its choices are, recorded with the seeded source or
// replayed from a log, and the temporary files and line helpers of the tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/stream.hpp"

namespace asgisim::sim::replay_workload {

inline constexpr Label kItems{"client.items", Stream::clients};
inline constexpr Label kNap{"client.nap", Stream::clients};
inline constexpr Label kPause{"client.pause", Stream::clients};
inline constexpr Label kExtra{"client.extra", Stream::clients};
inline constexpr Label kSlow{"fault.slow", Stream::faults};

// A workload that cannot deadlock or fail whatever its choices are. With
// `changed`, it asks one extra question (a new build of the model). Without
// `with_group` it has no task group: the divergence tests use that, because
// a run stopped while a task group has live children cannot yet be torn
// down (see task_group_test's TaskGroupTeardown tests).
inline void spawn_workload(Simulation& sim, Lock& lock, Event& go, bool changed = false,
                           bool with_group = true) {
  auto [send, receive] = create_memory_object_stream<int>(0, "items");
  sim.spawn("producer", [&go, &lock, changed, send = std::move(send)]() mutable {
    go.wait();
    const auto items = 1 + static_cast<int>(choose(kItems, 4));
    for (int i = 0; i < items; ++i) {
      if (changed && i == 1) (void)choose(kExtra, 3);
      if (buggify(kSlow, 0.5)) sim::sleep(2 * kMillisecond);
      with_lock(lock, [] { checkpoint(); });
      send.send(i);
    }
  });
  sim.spawn("consumer", [&lock, receive = std::move(receive)]() mutable {
    receive.for_each([&](int) {
      with_lock(lock, [] { sim::sleep(static_cast<Nanoseconds>(choose(kNap, 3)) * kMillisecond); });
    });
  });
  sim.spawn("starter", [&go] {
    sim::sleep(static_cast<Nanoseconds>(choose(kPause, 2)) * kMillisecond);
    go.set();
  });
  if (!with_group) return;
  sim.spawn("group", [] {
    task_group([](TaskGroup& tg) {
      for (int i = 0; i < 2; ++i) {
        tg.start_soon("child", [] {
          move_on_after(3 * kMillisecond, [] {
            for (int k = 0; k < 4; ++k) sim::sleep(static_cast<Nanoseconds>(choose(kNap, 3)) * kMillisecond);
          });
        });
      }
    });
  });
}

struct Recorded {
  RunResult result;
  DecisionLog log;
};

// Runs the workload with the seeded source and keeps the decisions it made.
inline Recorded record(std::uint64_t seed, Strategy strategy, bool with_group = true) {
  Lock lock("lock");
  Event go("go");
  Simulation sim({.seed = seed, .strategy = strategy});
  spawn_workload(sim, lock, go, false, with_group);
  Recorded out{sim.run(), sim.decisions()};
  return out;
}

// Runs the workload with decisions from `source`.
inline Recorded replay(ChoiceSource& source, Strategy strategy, bool changed = false,
                       bool with_group = true) {
  Lock lock("lock");
  Event go("go");
  // The seed must not matter when a source is given.
  Simulation sim({.seed = 0xdeadbeef, .strategy = strategy}, source);
  spawn_workload(sim, lock, go, changed, with_group);
  Recorded out{sim.run(), sim.decisions()};
  return out;
}

// The running test's name, usable in a file name ("Suite/Name/param" has slashes).
inline std::string sanitized_test_name() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

// A file in the temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& stem)
      : path_(std::filesystem::temp_directory_path() /
              (stem + "-" + std::to_string(::getpid()) + "-" + sanitized_test_name() + ".log")) {}
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  void write(const std::string& text) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
  }

 private:
  std::filesystem::path path_;
};

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

}  // namespace asgisim::sim::replay_workload
