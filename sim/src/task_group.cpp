// Task groups: collecting child results, cancelling siblings on the first
// error, waiting for every child, and raising per the anyio convention.
#include "asgisim/sim/task_group.hpp"

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/trace.hpp"

namespace asgisim::sim {

TaskGroup::TaskGroup(Simulation& sim)
    : Waitable("task group"), sim_(sim), scope_(sim, &sim.current_task(), kNoDeadline, false) {
  scope_.of_task_group_ = true;
}

TaskGroup::~TaskGroup() {
  if (!scope_.exited_) scope_.exit(false);
  ASGISIM_ASSERT(live_children_ == 0);
}

void TaskGroup::append_state(std::string& out) const {
  append_decimal(out, live_children_);
  out.append(" child task(s) running");
}

void TaskGroup::holders(std::vector<TaskId>& out) const {
  for (TaskId id : children_) {
    if (sim_.is_live(id)) out.push_back(id);
  }
}

void TaskGroup::child_finished(Task* child, std::exception_ptr error) {
  (void)child;
  ASGISIM_ASSERT(live_children_ > 0);
  --live_children_;
  if (sim_.tearing_down_) return;
  if (error && !is_cancellation(error)) {
    errors_.push_back(std::move(error));
    scope_.cancel();
  }
  if (live_children_ == 0) {
    while (Waiter* waiter = host_waiting_.pop_front()) sim_.wake(*waiter->task);
  }
}

void TaskGroup::finish(std::exception_ptr body_error) {
  if (sim_.tearing_down_) {
    scope_.exit(false);
    if (body_error) std::rethrow_exception(body_error);
    return;
  }
  bool cancelled = false;
  if (body_error) {
    // Any exception leaving the body, cancellation included, cancels the children.
    if (is_cancellation(body_error)) {
      cancelled = true;
    } else {
      errors_.push_back(std::move(body_error));
    }
    scope_.cancel();
  }
  // Wait for every child. If the host is cancelled while waiting, cancel the
  // children and keep waiting, no longer interruptible.
  while (live_children_ > 0) {
    Waiter waiter{.task = &sim_.current_task()};
    host_waiting_.push_back(waiter);
    WaiterGuard guard(host_waiting_, waiter);
    if (sim_.block(*this, kNoDeadline, !cancelled) == WakeReason::cancelled) {
      cancelled = true;
      scope_.cancel();
    }
  }
  scope_.exit(cancelled);
  if (!errors_.empty()) {
    if (errors_.size() == 1 && sim_.options().task_group_errors == TaskGroupErrors::anyio3) {
      std::rethrow_exception(errors_.front());
    }
    throw ExceptionGroup(errors_);
  }
  // The group's own cancellation ends here; an outer one keeps propagating.
  if (cancelled && sim_.is_cancelled(sim_.current_task())) throw Cancelled{};
}

}  // namespace asgisim::sim
