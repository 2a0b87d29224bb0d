// Properties of the kernel over random task programs (RapidCheck): a small
// program of tasks, each a list of operations (sleep, checkpoint, send and
// receive on shared streams, lock/unlock, spawn children, cancel a scope,
// move_on_after), run under a random seed and strategy. Every blocking
// operation is bounded by a timeout, so a run must complete: a lost wake-up
// shows up as a deadlock or a stuck task. The kernel invariants checked:
// every task ends, virtual time never goes backwards (per task and across
// the run), locks exclude, stream items are neither duplicated nor invented
// nor lost, and the same seed gives the same hash. A variant adds an
// intended lock cycle: the run must then stop as a deadlock whose report
// lists exactly the two tasks of the cycle.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/stream.hpp"

namespace asgisim::sim {
namespace {

constexpr int kStreams = 2;
constexpr int kLocks = 2;

enum class OpKind {
  sleep,           // sleep `arg` ms (0 is a checkpoint)
  checkpoint,      //
  send,            // send on stream `arg`, waiting at most `arg2` ms
  receive,         // receive from stream `arg`, waiting at most `arg2` ms
  lock,            // hold lock `arg` for `arg2` ms
  cancel_task,     // cancel task `arg`'s outermost scope (if it is still in it)
  spawn_children,  // a task group running `body` in `arg` children
  cancel_scope,    // run `body` in a scope that cancels itself before op `arg`
  move_on_after,   // run `body` with a deadline of `arg` ms
  shield,          // run `body` shielded from outer cancellation
  spawn_join,      // spawn a task running `body`, join it for at most `arg` ms
};
constexpr int kLeafKinds = 6;
constexpr int kAllKinds = 11;

struct Op {
  OpKind kind = OpKind::checkpoint;
  int arg = 0;
  int arg2 = 0;
  std::vector<Op> body;
};

struct Program {
  std::vector<std::vector<Op>> tasks;
  std::vector<std::size_t> buffer_sizes;  // per stream
};

void describe_ops(std::ostream& out, const std::vector<Op>& ops, int indent) {
  static const char* const kNames[kAllKinds] = {"sleep",         "checkpoint",  "send",      "receive",
                                                "lock",          "cancel_task", "spawn",     "cancel_scope",
                                                "move_on_after", "shield",      "spawn_join"};
  for (const Op& op : ops) {
    out << std::string(static_cast<std::size_t>(indent), ' ') << kNames[static_cast<int>(op.kind)] << ' '
        << op.arg << ' ' << op.arg2 << '\n';
    describe_ops(out, op.body, indent + 2);
  }
}

std::string describe(const Program& program) {
  std::ostringstream out;
  out << "buffers";
  for (std::size_t b : program.buffer_sizes) out << ' ' << b;
  out << '\n';
  for (std::size_t t = 0; t < program.tasks.size(); ++t) {
    out << "task " << t << ":\n";
    describe_ops(out, program.tasks[t], 2);
  }
  return out.str();
}

// ---- generation (inside a property: each `*gen` is a shrinkable choice) ----

std::vector<Op> generate_ops(int depth, int tasks);

Op generate_op(int depth, int tasks) {
  const int kinds = depth > 0 ? kAllKinds : kLeafKinds;  // nesting ops only above the leaves
  Op op;
  op.kind = static_cast<OpKind>(*rc::gen::inRange(0, kinds));
  switch (op.kind) {
    case OpKind::sleep:
      op.arg = *rc::gen::inRange(0, 4);
      break;
    case OpKind::checkpoint:
      break;
    case OpKind::send:
    case OpKind::receive:
      op.arg = *rc::gen::inRange(0, kStreams);
      op.arg2 = *rc::gen::inRange(1, 20);
      break;
    case OpKind::lock:
      op.arg = *rc::gen::inRange(0, kLocks);
      op.arg2 = *rc::gen::inRange(0, 3);
      break;
    case OpKind::cancel_task:
      op.arg = *rc::gen::inRange(0, tasks);
      break;
    case OpKind::spawn_children:
      op.arg = *rc::gen::inRange(1, 4);
      op.body = generate_ops(depth - 1, tasks);
      break;
    case OpKind::cancel_scope:
      op.body = generate_ops(depth - 1, tasks);
      op.arg = *rc::gen::inRange(0, static_cast<int>(op.body.size()) + 1);
      break;
    case OpKind::move_on_after:
      op.arg = *rc::gen::inRange(0, 10);
      op.body = generate_ops(depth - 1, tasks);
      break;
    case OpKind::shield:
      op.body = generate_ops(depth - 1, tasks);
      break;
    case OpKind::spawn_join:
      op.arg = *rc::gen::inRange(0, 10);
      op.body = generate_ops(depth - 1, tasks);
      break;
  }
  return op;
}

std::vector<Op> generate_ops(int depth, int tasks) {
  const int count = *rc::gen::inRange(0, 7);
  std::vector<Op> ops;
  for (int i = 0; i < count; ++i) ops.push_back(generate_op(depth, tasks));
  return ops;
}

Program generate_program() {
  Program program;
  const int tasks = *rc::gen::inRange(1, 6);
  for (int t = 0; t < tasks; ++t) program.tasks.push_back(generate_ops(2, tasks));
  for (int s = 0; s < kStreams; ++s) program.buffer_sizes.push_back(*rc::gen::inRange<std::size_t>(0, 3));
  return program;
}

// ---- execution ------------------------------------------------------------------

struct Observations {
  std::vector<Nanoseconds> times;  // now() at every operation, in execution order
  std::string trouble;             // the first broken invariant, if any
  std::uint64_t hash = 0;
  RunResult result;
  int tasks_spawned = 0;
  int tasks_ended = 0;
  std::set<std::string> unfinished;  // names of tasks that did not end
  std::vector<int> received;         // item ids
  std::set<int> sent_ok;             // send() returned normally
  std::set<int> attempted;           // send() was called
  std::vector<int> leftover;         // still buffered after the run
};

class Interpreter {
 public:
  Interpreter(const Program& program, Observations& seen) : program_(program), seen_(seen) {
    for (int l = 0; l < kLocks; ++l) locks_.push_back(std::make_unique<Lock>("lock-" + std::to_string(l)));
    for (int s = 0; s < kStreams; ++s) {
      auto [send, receive] = create_memory_object_stream<int>(
          program.buffer_sizes[static_cast<std::size_t>(s)], std::string("s").append(std::to_string(s)));
      sends_.push_back(std::move(send));
      receives_.push_back(std::move(receive));
    }
    top_scopes_.assign(program.tasks.size(), nullptr);
    last_time_.assign(program.tasks.size(), 0);
    holder_.assign(kLocks, -1);
  }

  void spawn_all(Simulation& sim) {
    for (std::size_t t = 0; t < program_.tasks.size(); ++t) {
      const std::string name = "task-" + std::to_string(t);
      unfinished_add(name);
      sim.spawn(name, [this, t, name] {
        cancel_scope([&](CancelScope& scope) {
          top_scopes_[t] = &scope;
          run_ops(program_.tasks[t], static_cast<int>(t));
        });
        top_scopes_[t] = nullptr;
        ended(name);
      });
    }
  }

  // Drains what is still buffered (after the run, outside any task).
  void drain() {
    for (auto& receive : receives_) {
      for (;;) {
        try {
          seen_.leftover.push_back(receive.receive_nowait());
        } catch (const WouldBlock&) {
          break;
        }
      }
    }
  }

 private:
  void unfinished_add(const std::string& name) {
    ++seen_.tasks_spawned;
    seen_.unfinished.insert(name);
  }
  void ended(const std::string& name) {
    ++seen_.tasks_ended;
    seen_.unfinished.erase(name);
  }

  void observe(int task) {
    const Nanoseconds t = now();
    if (!seen_.times.empty() && t < seen_.times.back() && seen_.trouble.empty()) {
      seen_.trouble = "virtual time went backwards across the run";
    }
    if (task >= 0) {
      Nanoseconds& last = last_time_[static_cast<std::size_t>(task)];
      if (t < last && seen_.trouble.empty()) seen_.trouble = "virtual time went backwards in a task";
      last = t;
    }
    seen_.times.push_back(t);
  }

  void run_ops(const std::vector<Op>& ops, int task) {
    for (const Op& op : ops) {
      observe(task);
      run_op(op, task);
      observe(task);
    }
  }

  void run_op(const Op& op, int task) {
    switch (op.kind) {
      case OpKind::sleep:
        sim::sleep(op.arg * kMillisecond);
        break;
      case OpKind::checkpoint:
        checkpoint();
        break;
      case OpKind::send: {
        const int item = next_item_++;
        seen_.attempted.insert(item);
        move_on_after(op.arg2 * kMillisecond, [&] {
          sends_[static_cast<std::size_t>(op.arg)].send(item);
          seen_.sent_ok.insert(item);
        });
        break;
      }
      case OpKind::receive:
        move_on_after(op.arg2 * kMillisecond, [&] {
          seen_.received.push_back(receives_[static_cast<std::size_t>(op.arg)].receive());
        });
        break;
      case OpKind::lock: {
        const auto l = static_cast<std::size_t>(op.arg);
        with_lock(*locks_[l], [&] {
          if (holder_[l] != -1 && seen_.trouble.empty()) seen_.trouble = "two tasks held one lock";
          holder_[l] = task;
          try {
            sim::sleep(op.arg2 * kMillisecond);
          } catch (...) {
            holder_[l] = -1;
            throw;
          }
          holder_[l] = -1;
        });
        break;
      }
      case OpKind::spawn_children:
        task_group([&](TaskGroup& tg) {
          for (int c = 0; c < op.arg; ++c) {
            const std::string name = "child-" + std::to_string(child_names_++);
            unfinished_add(name);
            // A child has no per-task clock of its own here (-1); the
            // run-wide clock check still covers it.
            tg.start_soon(name, [this, &op, name] {
              try {
                run_ops(op.body, -1);
              } catch (const Cancelled&) {
                ended(name);  // cancelled with its group: it ends all the same
                throw;
              }
              ended(name);
            });
          }
        });
        break;
      case OpKind::cancel_scope:
        cancel_scope([&](CancelScope& scope) {
          for (std::size_t i = 0; i < op.body.size(); ++i) {
            if (static_cast<int>(i) == op.arg) scope.cancel();
            observe(task);
            run_op(op.body[i], task);
          }
          if (static_cast<int>(op.body.size()) == op.arg) scope.cancel();
        });
        break;
      case OpKind::cancel_task:
        if (CancelScope* scope = top_scopes_[static_cast<std::size_t>(op.arg)]) scope->cancel();
        break;
      case OpKind::move_on_after:
        move_on_after(op.arg * kMillisecond, [&] { run_ops(op.body, task); });
        break;
      case OpKind::shield:
        shielded([&] { run_ops(op.body, task); });
        break;
      case OpKind::spawn_join: {
        // A plain task outside every scope of its spawner: cancelling the
        // join leaves it running, and it still ends.
        const std::string name = "spawned-" + std::to_string(child_names_++);
        unfinished_add(name);
        TaskHandle handle = Simulation::current().spawn(name, [this, &op, name] {
          run_ops(op.body, -1);
          ended(name);
        });
        move_on_after(op.arg * kMillisecond, [&] { handle.join(); });
        break;
      }
    }
  }

  const Program& program_;
  Observations& seen_;
  std::vector<std::unique_ptr<Lock>> locks_;
  std::vector<MemoryObjectSendStream<int>> sends_;
  std::vector<MemoryObjectReceiveStream<int>> receives_;
  std::vector<CancelScope*> top_scopes_;
  std::vector<Nanoseconds> last_time_;
  std::vector<int> holder_;
  int next_item_ = 0;
  int child_names_ = 0;
};

// Runs `program` (plus, with `with_cycle`, two tasks locking two locks in
// opposite orders) and returns what it observed. A task cancelled from
// outside still ends: its outermost scope swallows the Cancelled; a child
// cancelled with its group ends by raising it into the group.
// How a run is scheduled: the seed, the strategy and PCT's parameters (short
// step estimates put PCT's change points inside these short runs).
struct Schedule {
  std::uint64_t seed = 0;
  Strategy strategy = Strategy::fifo;
  std::uint32_t pct_depth = 3;
  std::uint64_t pct_steps_estimate = 2'000;
};

std::ostream& operator<<(std::ostream& out, const Schedule& s) {
  return out << "seed " << s.seed << " strategy " << to_string(s.strategy) << " pct_depth " << s.pct_depth
             << " pct_steps_estimate " << s.pct_steps_estimate;
}

Schedule generate_schedule() {
  Schedule s;
  s.seed = *rc::gen::arbitrary<std::uint64_t>();
  s.strategy = *rc::gen::element(Strategy::fifo, Strategy::random, Strategy::pct);
  s.pct_depth = *rc::gen::inRange<std::uint32_t>(1, 5);
  s.pct_steps_estimate = *rc::gen::inRange<std::uint64_t>(2, 300);
  return s;
}

Observations run_program(const Program& program, const Schedule& schedule, bool with_cycle) {
  Observations seen;
  Lock cycle_a("cycle-a");
  Lock cycle_b("cycle-b");
  Interpreter interpreter(program, seen);
  {
    Simulation sim({.seed = schedule.seed,
                    .strategy = schedule.strategy,
                    .pct_depth = schedule.pct_depth,
                    .pct_steps_estimate = schedule.pct_steps_estimate,
                    .steps_max = 200'000});
    interpreter.spawn_all(sim);
    if (with_cycle) {
      sim.spawn("cycle-1", [&] {
        LockGuard first(cycle_a);
        sim::sleep(kMillisecond);
        LockGuard second(cycle_b);
      });
      sim.spawn("cycle-2", [&] {
        LockGuard first(cycle_b);
        sim::sleep(kMillisecond);
        LockGuard second(cycle_a);
      });
    }
    seen.result = sim.run();
    seen.hash = seen.result.trace_hash;
  }
  interpreter.drain();
  return seen;
}

// The invariants every completed run keeps.
void check_items(const Observations& seen) {
  std::multiset<int> delivered(seen.received.begin(), seen.received.end());
  delivered.insert(seen.leftover.begin(), seen.leftover.end());
  for (int item : delivered) {
    RC_ASSERT(delivered.count(item) == 1u);       // never duplicated
    RC_ASSERT(seen.attempted.count(item) == 1u);  // never invented
  }
  for (int item : seen.sent_ok) RC_ASSERT(delivered.count(item) == 1u);  // never lost
}

RC_GTEST_PROP(KernelProperties, EveryProgramCompletesKeepingTheKernelInvariants, ()) {
  const Program program = generate_program();
  const Schedule schedule = generate_schedule();
  RC_LOG() << schedule << "\n" << describe(program);

  const Observations first = run_program(program, schedule, false);
  RC_ASSERT(first.result.status == RunStatus::completed);
  RC_ASSERT(first.trouble.empty());
  RC_ASSERT(first.tasks_ended == first.tasks_spawned);
  RC_ASSERT(first.unfinished.empty());
  RC_ASSERT(first.result.blocked.empty());
  RC_ASSERT(std::is_sorted(first.times.begin(), first.times.end()));
  RC_ASSERT((first.times.empty() || first.times.back() <= first.result.end_time_ns));
  check_items(first);

  const Observations second = run_program(program, schedule, false);
  RC_ASSERT(second.hash == first.hash);
  RC_ASSERT(second.times == first.times);
  RC_ASSERT(second.received == first.received);
}

RC_GTEST_PROP(KernelProperties, AnIntendedCycleIsTheOnlyThingReportedBlocked, ()) {
  const Program program = generate_program();
  const Schedule schedule = generate_schedule();
  RC_LOG() << schedule << "\n" << describe(program);

  const Observations seen = run_program(program, schedule, true);
  RC_ASSERT(seen.result.status == RunStatus::deadlock);
  RC_ASSERT(seen.trouble.empty());
  // Every program task ended; only the two tasks of the cycle are blocked.
  RC_ASSERT(seen.unfinished.empty());
  RC_ASSERT(seen.result.blocked.size() == 2u);
  std::set<std::string> blocked;
  for (const BlockedTask& b : seen.result.blocked) {
    blocked.insert(b.task_name);
    RC_ASSERT(b.held_by.size() == 1u);
  }
  RC_ASSERT(blocked == (std::set<std::string>{"cycle-1", "cycle-2"}));
  RC_ASSERT(seen.result.report.find("cycle:") != std::string::npos);
  check_items(seen);
}

RC_GTEST_PROP(KernelProperties, ClockObservationsMatchTheEndTime, ()) {
  // A program of sleeps only: the run ends exactly when its longest task does.
  const int tasks = *rc::gen::inRange(1, 8);
  std::vector<std::vector<int>> naps;
  Nanoseconds longest = 0;
  for (int t = 0; t < tasks; ++t) {
    naps.push_back(*rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 50)));
    Nanoseconds total = 0;
    for (int n : naps.back()) total += n * kMillisecond;
    longest = std::max(longest, total);
  }
  const Schedule schedule = generate_schedule();
  RC_LOG() << schedule;
  Simulation sim({.seed = schedule.seed,
                  .strategy = schedule.strategy,
                  .pct_depth = schedule.pct_depth,
                  .pct_steps_estimate = schedule.pct_steps_estimate});
  std::vector<Nanoseconds> ends(static_cast<std::size_t>(tasks), -1);
  bool clock_exact = true;  // checked after the run: RC_ASSERT must not throw inside a task
  for (int t = 0; t < tasks; ++t) {
    sim.spawn("sleeper", [&, t] {
      Nanoseconds expected = 0;
      for (int n : naps[static_cast<std::size_t>(t)]) {
        sim::sleep(n * kMillisecond);
        expected += n * kMillisecond;
        clock_exact = clock_exact && now() == expected;
      }
      ends[static_cast<std::size_t>(t)] = now();
    });
  }
  const RunResult result = sim.run();
  RC_ASSERT(result.ok());
  RC_ASSERT(clock_exact);
  RC_ASSERT(result.end_time_ns == longest);
  RC_ASSERT(*std::max_element(ends.begin(), ends.end()) == longest);
}

}  // namespace
}  // namespace asgisim::sim
