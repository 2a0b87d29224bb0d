// The waiting protocol: checkpoints, sleeping, blocking on a Waitable and
// waking, virtual time advancing to the next timer, and the side checks.
#include <fmt/format.h>

#include <algorithm>

#include "asgisim/sim/detail/runtime_hooks.hpp"
#include "asgisim/sim/simulation.hpp"
#include "switching.hpp"

namespace asgisim::sim {

ObjectId Waitable::object_id(Simulation& sim) const {
  if (id_ == kNoObject) id_ = sim.next_object_id();
  return id_;
}

bool Simulation::is_cancelled(const Task& task) const {
  for (const CancelScope* scope = task.scope_; scope != nullptr; scope = scope->parent_) {
    if (scope->cancel_called_) return true;
    if (scope->shield_) return false;
  }
  return false;
}

const CancelScope* Simulation::current_scope() { return current_task().scope_; }

void Simulation::checkpoint() {
  Task* self = &current_task();
  if (tearing_down_) return;
  make_ready(self);
  yielded_ = self;
  dispatch(self);
  if (self->scope_ != nullptr && is_cancelled(*self)) throw Cancelled{};
}

void Simulation::checkpoint_if_cancelled() {
  Task* self = &current_task();
  if (tearing_down_) return;
  if (self->scope_ != nullptr && is_cancelled(*self)) throw Cancelled{};
}

void Simulation::cancel_shielded_checkpoint() {
  Task* self = &current_task();
  if (tearing_down_) return;
  make_ready(self);
  yielded_ = self;
  dispatch(self);
}

void Simulation::thread_switch_point() {
  Task* self = &current_task();
  if (options_.strategy == Strategy::fifo || tearing_down_) return;
  make_ready(self);
  yielded_ = self;
  dispatch(self);
}

void Simulation::sleep(Nanoseconds delay_ns) {
  sleep_until(delay_ns >= kNoDeadline - now_ns_ ? kNoDeadline : now_ns_ + std::max<Nanoseconds>(delay_ns, 0));
}

void Simulation::sleep_until(Nanoseconds deadline_ns) {
  Task& self = current_task();
  if (deadline_ns <= now_ns_) {
    if (self.domain_ == Domain::loop)
      checkpoint();
    else
      thread_switch_point();
    return;
  }
  const bool cancellable = self.domain_ == Domain::loop;
  if (block(sleep_target_, deadline_ns, cancellable) == WakeReason::cancelled) throw Cancelled{};
}

WakeReason Simulation::block(const Waitable& on, Nanoseconds deadline_ns, bool cancellable) {
  Task* self = &current_task();
  if (tearing_down_) return WakeReason::cancelled;
  if (cancellable && self->scope_ != nullptr && is_cancelled(*self)) return WakeReason::cancelled;
  self->state_ = Task::State::blocked;
  self->waiting_on_ = &on;
  self->cancellable_wait_ = cancellable;
  self->wake_reason_ = WakeReason::notified;
  ++self->wait_generation_;
  trace_.record({now_ns_, self->id_, TraceKind::block, 0, on.object_id(*this), 0});
  trace_.annotate_with([&](std::string& out) { append_waitable(out, on); });
  if (deadline_ns != kNoDeadline) {
    timers_.push(Timer{std::max(deadline_ns, now_ns_), ++timer_sequence_, self, self->wait_generation_, 0});
  }
  dispatch(self);
  self->waiting_on_ = nullptr;
  return self->wake_reason_;
}

bool Simulation::wake(Task& task, WakeReason reason) {
  if (task.state_ != Task::State::blocked) return false;
  if (task.deferral_ != nullptr && reason == WakeReason::notified) {
    task.deferral_->deferred(task);  // stays blocked until RuntimeHooks::wake_deferred()
    return true;
  }
  task.wake_reason_ = reason;
  trace_.record({now_ns_, task.id_, TraceKind::wake, static_cast<std::uint16_t>(reason),
                 task.waiting_on_ ? task.waiting_on_->object_id(*this) : 0, 0});
  make_ready(&task);
  return true;
}

bool Simulation::fire_due_timers() {
  // Drop timers whose wait already ended or whose scope is gone.
  auto live = [this](const Timer& t) {
    if (t.scope_id != 0) {
      auto it = scopes_with_deadline_.find(t.scope_id);
      return it != scopes_with_deadline_.end() && it->second->timer_generation_ == t.generation;
    }
    return t.task->state_ == Task::State::blocked && t.task->wait_generation_ == t.generation;
  };
  while (!timers_.empty() && !live(timers_.top())) timers_.pop();
  if (timers_.empty()) return false;
  const Nanoseconds when = timers_.top().deadline_ns;
  if (when > options_.time_max_ns) {
    stop_run(RunStatus::liveness_time,
             fmt::format("liveness: the virtual-time budget of {} ns ran out (next timer at {} ns)",
                         options_.time_max_ns, when));
    return true;
  }
  now_ns_ = std::max(now_ns_, when);
  trace_.record({now_ns_, kNoTask, TraceKind::timer_fire, 0, 0, static_cast<std::uint64_t>(now_ns_)});
  while (!timers_.empty() && timers_.top().deadline_ns <= now_ns_) {
    const Timer timer = timers_.top();
    timers_.pop();
    if (!live(timer)) continue;
    if (timer.scope_id != 0) {
      scopes_with_deadline_.at(timer.scope_id)->cancel();
    } else {
      wake(*timer.task, WakeReason::timed_out);
    }
  }
  return true;
}

void Simulation::require_domain(Domain domain, std::string_view operation) {
  if (current_ == &main_) {
    throw WrongSideError(
        fmt::format("{} must be called from a simulated task, not outside the run", operation));
  }
  if (current_->domain_ == domain) return;
  if (domain == Domain::loop) {
    throw WrongSideError(fmt::format(
        "{} is an event-loop primitive and was called from simulated thread #{} '{}'; hand work to the loop "
        "with call_soon_threadsafe",
        operation, current_->id_, *current_->name_));
  }
  throw WrongSideError(fmt::format(
      "{} would block the event loop (called from loop task #{} '{}'); call it from a simulated thread",
      operation, current_->id_, *current_->name_));
}

}  // namespace asgisim::sim
