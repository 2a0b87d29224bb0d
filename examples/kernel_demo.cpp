// A tour of the deterministic kernel: the same small workload under three
// seeds of the `random` strategy, one seed run twice to show that a run is a
// function of its seed (same steps, same end time, same trace hash), and a
// deadlock with the wait-for report the kernel prints for it.
//
// Exits 0 when every expectation holds, 1 otherwise (it doubles as a test).
#include <cstdint>
#include <string>

#include <fmt/core.h>

#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/stream.hpp"

namespace sim = asgisim::sim;

namespace {

constexpr int kItemsPerProducer = 4;

struct WorkloadOutcome {
  sim::RunResult result;
  std::string consumed;  // items in the order the consumer got them
  int items_consumed = 0;
};

// Two producers send items after seed-chosen delays through one zero-buffer
// memory object stream (a send completes only when the consumer takes the
// item); the consumer reads until both producers have closed their ends.
WorkloadOutcome run_workload(std::uint64_t seed) {
  WorkloadOutcome outcome;
  sim::Simulation simulation({.seed = seed, .strategy = sim::Strategy::random});
  auto [send, receive] = sim::create_memory_object_stream<std::string>(0, "items");
  for (const char* producer : {"a", "b"}) {
    // Each producer owns a clone; its end closes when the task's body is destroyed.
    simulation.spawn(fmt::format("producer-{}", producer), [send = send.clone(), producer]() mutable {
      for (int i = 0; i < kItemsPerProducer; ++i) {
        const auto delay_ms = sim::choose({"demo.produce_delay", sim::Stream::other}, 5);
        sim::sleep(static_cast<sim::Nanoseconds>(delay_ms) * sim::kMillisecond);
        send.send(fmt::format("{}{}", producer, i));
      }
    });
  }
  send.close();  // only the producers' clones keep the stream open
  simulation.spawn("consumer", [receive = std::move(receive), &outcome]() mutable {
    receive.for_each([&outcome](std::string item) {
      if (!outcome.consumed.empty()) outcome.consumed += ' ';
      outcome.consumed += item;
      ++outcome.items_consumed;
    });
  });
  outcome.result = simulation.run();
  return outcome;
}

void print_outcome(std::uint64_t seed, const WorkloadOutcome& outcome) {
  const sim::RunResult& r = outcome.result;
  fmt::print("seed {:>3}  {:<9}  steps {:>4}  end {:>3}.{:03} ms  trace 0x{:016x}  order {}\n", seed,
             sim::to_string(r.status), r.steps, r.end_time_ns / sim::kMillisecond,
             r.end_time_ns % sim::kMillisecond / sim::kMicrosecond, r.trace_hash, outcome.consumed);
}

bool expect(bool condition, const std::string& what) {
  if (!condition) fmt::print("FAILED: {}\n", what);
  return condition;
}

bool workload_section() {
  fmt::print("== producer/consumer under Strategy::random\n");
  bool ok = true;
  for (const std::uint64_t seed : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}}) {
    const WorkloadOutcome outcome = run_workload(seed);
    print_outcome(seed, outcome);
    ok &= expect(outcome.result.ok(), fmt::format("seed {} completes", seed));
    ok &= expect(outcome.items_consumed == 2 * kItemsPerProducer,
                 fmt::format("seed {} consumes every item", seed));
  }
  return ok;
}

bool determinism_section() {
  fmt::print("\n== the same seed twice\n");
  const WorkloadOutcome first = run_workload(2);
  const WorkloadOutcome second = run_workload(2);
  print_outcome(2, first);
  print_outcome(2, second);
  const bool same =
      first.result.trace_hash == second.result.trace_hash && first.result.steps == second.result.steps &&
      first.result.end_time_ns == second.result.end_time_ns && first.consumed == second.consumed;
  fmt::print("{}\n", same ? "identical: a run is a function of its seed" : "DIFFERENT");
  return expect(same, "seed 2 gives the same run twice");
}

bool deadlock_section() {
  fmt::print("\n== a deadlock: each task waits for an event only the other would set\n");
  sim::Event a_done("a_done");
  sim::Event b_done("b_done");
  sim::Simulation simulation({.seed = 7, .strategy = sim::Strategy::random});
  simulation.spawn("task-a", [&] {
    b_done.wait();
    a_done.set();
  });
  simulation.spawn("task-b", [&] {
    a_done.wait();
    b_done.set();
  });
  const sim::RunResult result = simulation.run();
  fmt::print("status {}  steps {}  blocked tasks {}\n{}", sim::to_string(result.status), result.steps,
             result.blocked.size(), result.report);
  if (!result.report.empty() && result.report.back() != '\n') fmt::print("\n");
  bool ok = expect(result.status == sim::RunStatus::deadlock, "the run ends in a deadlock");
  ok &= expect(result.blocked.size() == 2, "both tasks are reported blocked");
  return ok;
}

}  // namespace

int main() {
  bool ok = workload_section();
  ok &= determinism_section();
  ok &= deadlock_section();
  fmt::print("\nkernel_demo: {}\n", ok ? "all expectations hold" : "SOME EXPECTATIONS FAILED");
  return ok ? 0 : 1;
}
