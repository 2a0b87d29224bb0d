// Cancel scopes: linking tasks into scope chains (and into task groups),
// cancellation delivery, deadlines, and the rules for swallowing Cancelled on
// exit (anyio/trio).
#include "asgisim/sim/cancel.hpp"

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {

CancelScope::CancelScope(Simulation& sim, Task* host, Nanoseconds deadline_ns, bool shield)
    : sim_(sim), host_(host), parent_(host->scope_), id_(sim.next_scope_id()), shield_(shield) {
  if (parent_ != nullptr) {
    next_sibling_ = parent_->first_child_;
    if (next_sibling_) next_sibling_->prev_sibling_ = this;
    parent_->first_child_ = this;
  }
  sim_.scope_remove_task(host_);
  sim_.scope_add_task(this, host_);
  if (deadline_ns != kNoDeadline) set_deadline(deadline_ns);
}

CancelScope::~CancelScope() { ASGISIM_ASSERT(exited_, "a cancel scope must be left through exit()"); }

void CancelScope::cancel() {
  if (cancel_called_ || exited_) return;
  cancel_called_ = true;
  sim_.trace().record({sim_.now(), host_->id(), TraceKind::cancel, 0, id_, 0});
  sim_.deliver_cancel(*this);
}

void CancelScope::set_shield(bool shield) {
  if (shield_ == shield) return;
  shield_ = shield;
  // Dropping a shield exposes the scope's contents to an outer cancellation.
  if (!shield_ && !exited_ && parent_ != nullptr && sim_.is_cancelled(*host_)) sim_.deliver_cancel(*this);
}

void CancelScope::set_deadline(Nanoseconds deadline_ns) {
  deadline_ = deadline_ns;
  if (exited_ || cancel_called_) return;
  if (deadline_ns == kNoDeadline) {
    ++timer_generation_;
    sim_.scopes_with_deadline_.erase(id_);
    return;
  }
  if (deadline_ns <= sim_.now()) {
    cancel();
    return;
  }
  sim_.register_scope_deadline(*this);
}

bool CancelScope::exit(bool by_cancelled) {
  ASGISIM_ASSERT(!exited_);
  if (host_->scope_ != this) {
    throw UsageError(
        "cancel scopes must be left in the reverse order they were entered, by the task that "
        "entered them");
  }
  ASGISIM_ASSERT(first_task_ == host_ && host_->scope_next_ == nullptr);
  sim_.scope_remove_task(host_);
  sim_.scope_add_task(parent_, host_);
  if (parent_ != nullptr) {
    if (prev_sibling_)
      prev_sibling_->next_sibling_ = next_sibling_;
    else
      parent_->first_child_ = next_sibling_;
    if (next_sibling_) next_sibling_->prev_sibling_ = prev_sibling_;
  }
  ASGISIM_ASSERT(first_child_ == nullptr, "child scopes and task groups are left before their parent");
  ++timer_generation_;  // a pending deadline timer becomes stale
  sim_.scopes_with_deadline_.erase(id_);
  exited_ = true;
  if (by_cancelled && cancel_called_) {
    cancelled_caught_ = true;
    return true;
  }
  return false;
}

// ---- cancellation plumbing (Simulation) ---------------------------------------

void Simulation::deliver_cancel(CancelScope& scope) {
  for (Task* task = scope.first_task_; task != nullptr; task = task->scope_next_) {
    if (task->state_ == Task::State::blocked && task->cancellable_wait_) wake(*task, WakeReason::cancelled);
  }
  for (CancelScope* child = scope.first_child_; child != nullptr; child = child->next_sibling_) {
    if (!child->shield_) deliver_cancel(*child);
  }
}

void Simulation::register_scope_deadline(CancelScope& scope) {
  ++scope.timer_generation_;
  scopes_with_deadline_[scope.id_] = &scope;
  timers_.push(Timer{scope.deadline_, ++timer_sequence_, nullptr, scope.timer_generation_, scope.id_});
}

void Simulation::scope_add_task(CancelScope* scope, Task* task) {
  ASGISIM_ASSERT(task->scope_ == nullptr && task->scope_next_ == nullptr && task->scope_prev_ == nullptr);
  task->scope_ = scope;
  if (scope == nullptr) return;
  task->scope_next_ = scope->first_task_;
  if (scope->first_task_) scope->first_task_->scope_prev_ = task;
  scope->first_task_ = task;
}

void Simulation::scope_remove_task(Task* task) {
  CancelScope* scope = task->scope_;
  if (scope == nullptr) return;
  if (task->scope_prev_)
    task->scope_prev_->scope_next_ = task->scope_next_;
  else
    scope->first_task_ = task->scope_next_;
  if (task->scope_next_) task->scope_next_->scope_prev_ = task->scope_prev_;
  task->scope_next_ = task->scope_prev_ = nullptr;
  task->scope_ = nullptr;
}

void Simulation::adopt_into_group(TaskGroup& group, const TaskHandle& handle) {
  Task* task = handle.task_;
  ASGISIM_ASSERT(task != nullptr && task->group_ == nullptr && task->state_ == Task::State::ready);
  task->group_ = &group;
  scope_add_task(&group.scope_, task);
  ++group.live_children_;
  group.children_.push_back(task->id_);
}

}  // namespace asgisim::sim
