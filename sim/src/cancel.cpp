// Cancel scopes: linking into the task's scope chain, cancellation delivery,
// deadlines, and the rules for swallowing Cancelled on exit (anyio/trio).
#include "asgisim/sim/cancel.hpp"

#include <cassert>

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

CancelScope::~CancelScope() { assert(exited_ && "a cancel scope must be left through exit()"); }

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
  assert(!exited_);
  if (host_->scope_ != this) {
    throw UsageError("cancel scopes must be left in the reverse order they were entered, by the task that "
                     "entered them");
  }
  assert(first_task_ == host_ && host_->scope_next_ == nullptr);
  sim_.scope_remove_task(host_);
  sim_.scope_add_task(parent_, host_);
  if (parent_ != nullptr) {
    if (prev_sibling_) prev_sibling_->next_sibling_ = next_sibling_; else parent_->first_child_ = next_sibling_;
    if (next_sibling_) next_sibling_->prev_sibling_ = prev_sibling_;
  }
  assert(first_child_ == nullptr && "child scopes and task groups are left before their parent");
  ++timer_generation_;  // a pending deadline timer becomes stale
  sim_.scopes_with_deadline_.erase(id_);
  exited_ = true;
  if (by_cancelled && cancel_called_) {
    cancelled_caught_ = true;
    return true;
  }
  return false;
}

}  // namespace asgisim::sim
