// Cancel scopes with anyio/trio semantics: they nest, are level-triggered
// (once cancelled, every later checkpoint inside raises Cancelled again until
// the scope is left), can be shielded, and can carry a deadline.
//
//   bool timed_out = move_on_after(5 * kSecond, [&] { stream.receive(); });
//   fail_after(30 * kSecond, [&] { pool.checkout(); });   // throws TimeoutError
//   cancel_scope([&](CancelScope& scope) { ...; scope.cancel(); ... });
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/types.hpp"

namespace asgisim::sim {

class Simulation;
class Task;
namespace detail {
class RuntimeHooks;
}  // namespace detail

inline constexpr Nanoseconds kNoDeadline = std::numeric_limits<Nanoseconds>::max();

// How a cancel scope's body may end without throwing: `cancelled` is the
// value form of a Cancelled raised out of the body, for internal paths that
// read a waiter's cancellation as a value (core::receive_or_cancelled()). The
// scope treats it exactly as that Cancelled: swallowed if the scope was
// cancelled itself, otherwise raised on from the scope.
enum class BodyEnd { returned, cancelled };

// Runs `body` (callable with no argument or with CancelScope&; returning void
// or a BodyEnd) inside a new cancel scope of the current task. Returns true if
// the scope was cancelled and swallowed the resulting Cancelled.
template <class Body>
bool cancel_scope(Body&& body, Nanoseconds deadline_ns = kNoDeadline, bool shield = false);

class CancelScope {
 public:
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

  // Cancels everything inside the scope: tasks blocked in a cancellable wait
  // wake with Cancelled at once; running tasks raise at their next checkpoint.
  void cancel();
  bool cancel_called() const { return cancel_called_; }
  // True after the scope was left by its own cancellation.
  bool cancelled_caught() const { return cancelled_caught_; }

  bool shield() const { return shield_; }
  void set_shield(bool shield);

  Nanoseconds deadline() const { return deadline_; }
  // Absolute virtual time; kNoDeadline for none. Reaching it cancels the scope.
  void set_deadline(Nanoseconds deadline_ns);

  std::uint64_t id() const { return id_; }

 private:
  friend class Simulation;
  friend class TaskGroup;
  friend class detail::RuntimeHooks;  // parent(), for a model's own walk up the chain
  template <class Body>
  friend bool cancel_scope(Body&& body, Nanoseconds deadline_ns, bool shield);

  CancelScope(Simulation& sim, Task* host, Nanoseconds deadline_ns, bool shield);
  ~CancelScope();
  // Leaves the scope. `by_cancelled` says the body ended with Cancelled;
  // returns true if this scope swallows it.
  bool exit(bool by_cancelled);

  Simulation& sim_;
  Task* host_;
  CancelScope* parent_;
  // Intrusive lists: child scopes, and tasks whose innermost scope this is.
  CancelScope* first_child_ = nullptr;
  CancelScope* next_sibling_ = nullptr;
  CancelScope* prev_sibling_ = nullptr;
  Task* first_task_ = nullptr;
  std::uint64_t id_;
  Nanoseconds deadline_ = kNoDeadline;
  std::uint64_t timer_generation_ = 0;
  bool cancel_called_ = false;
  bool cancelled_caught_ = false;
  bool shield_ = false;
  bool exited_ = false;
  bool of_task_group_ = false;  // a TaskGroup's own scope
};

// Runs `body` with a relative deadline; returns true if the deadline (or an
// explicit cancel) cut it short. What cancellation does to the operation the
// body was waiting in is documented per primitive.
template <class Body>
bool move_on_after(Nanoseconds delay_ns, Body&& body);
// As move_on_after, but a cut-short body raises TimeoutError.
template <class Body>
void fail_after(Nanoseconds delay_ns, Body&& body);
// Runs `body` shielded from outer cancellation.
template <class Body>
void shielded(Body&& body);

}  // namespace asgisim::sim
