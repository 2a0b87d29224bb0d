// The random task programs of the kernel properties (kernel_property_test):
// a program of tasks, each a list of operations (sleep, checkpoint, send and
// receive on shared streams, lock/unlock, spawn children, cancel a scope,
// move_on_after), its generation inside a RapidCheck property, and the
// interpreter that runs it and records what the kernel invariants need.
#pragma once

#include <rapidcheck.h>

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

namespace asgisim::sim::kernel_program {

inline constexpr int kStreams = 2;
inline constexpr int kLocks = 2;

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
inline constexpr int kLeafKinds = 6;
inline constexpr int kAllKinds = 11;

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

inline void describe_ops(std::ostream& out, const std::vector<Op>& ops, int indent) {
  static const char* const kNames[kAllKinds] = {"sleep",         "checkpoint",  "send",      "receive",
                                                "lock",          "cancel_task", "spawn",     "cancel_scope",
                                                "move_on_after", "shield",      "spawn_join"};
  for (const Op& op : ops) {
    out << std::string(static_cast<std::size_t>(indent), ' ') << kNames[static_cast<int>(op.kind)] << ' '
        << op.arg << ' ' << op.arg2 << '\n';
    describe_ops(out, op.body, indent + 2);
  }
}

inline std::string describe(const Program& program) {
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

inline Op generate_op(int depth, int tasks) {
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

inline std::vector<Op> generate_ops(int depth, int tasks) {
  const int count = *rc::gen::inRange(0, 7);
  std::vector<Op> ops;
  for (int i = 0; i < count; ++i) ops.push_back(generate_op(depth, tasks));
  return ops;
}

inline Program generate_program() {
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

}  // namespace asgisim::sim::kernel_program
