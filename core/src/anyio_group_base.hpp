// What the model's anyio 3 and anyio 4 task groups (anyio_task_done.hpp,
// anyio4_task_group.hpp) share: the interface Starlette's groups are written
// against (start_soon, cancel_called, cancelled_wait_hop) and the state it
// needs. `Derived` runs each child (run_child) and cancels (cancel()).
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"

namespace asgisim::core::detail {

// Runs a group's body: one returning sim::BodyEnd may end with its
// cancellation as a value (a receive_or_cancelled() that returned nullopt),
// which the group treats as the Cancelled it stands for.
template <class Body, class Group>
sim::BodyEnd run_group_body(Body& body, Group& group) {
  if constexpr (std::is_same_v<std::invoke_result_t<Body&, Group&>, sim::BodyEnd>) {
    return body(group);
  } else {
    body(group);
    return sim::BodyEnd::returned;
  }
}

template <class Derived>
class AnyioGroupBase {
 public:
  AnyioGroupBase(const AnyioGroupBase&) = delete;
  AnyioGroupBase& operator=(const AnyioGroupBase&) = delete;

  bool cancel_called() const { return cancel_called_; }

  template <class Fn>
  void start_soon(std::string name, Fn&& fn) {
    ++live_children_;
    group_.start_soon(std::move(name), [self = static_cast<Derived*>(this),
                                        fn = std::forward<Fn>(fn)]() mutable { self->run_child(fn); });
  }

  // The delivery hop of a child that starts in a cancelled group and waits at once.
  void cancelled_wait_hop() {
    if (cancel_called_) sim::Simulation::current().cancel_shielded_checkpoint();
  }

 protected:
  explicit AnyioGroupBase(sim::TaskGroup& group) : group_(group) {}
  ~AnyioGroupBase() = default;

  sim::TaskGroup& group_;
  int live_children_ = 0;
  bool cancel_called_ = false;
};

}  // namespace asgisim::core::detail
