// The out-of-line half of switching: leaving for the main context at once,
// and picking the next task to run (fifo, random, pct).
#include <fmt/format.h>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/simulation.hpp"
#include "switching.hpp"

namespace asgisim::sim {

namespace {
constexpr Label kPickLabel{"sched.pick", Stream::scheduler};
}  // namespace

void Simulation::fail_now() {
  if (current_ == &main_ || tearing_down_) return;
  switch_to(current_, &main_);
}

Task* Simulation::pick_next() {
  for (;;) {
    if (status_ != RunStatus::not_run) return &main_;
    if (live_non_daemon_ == 0) {
      if (!loop_shutdown_.empty()) {
        start_loop_shutdown();
        continue;
      }
      status_ = RunStatus::completed;
      return &main_;
    }
    if (!loop_ready_.empty() || !thread_ready_.empty()) {
      constexpr std::uint64_t kAbandonPollMask = 1023;  // one relaxed load per 1024 steps
      if ((steps_ & kAbandonPollMask) == 0 && options_.abandon != nullptr &&
          options_.abandon->load(std::memory_order_relaxed)) {
        stop_run(RunStatus::abandoned, "abandoned from outside the run");
        return &main_;
      }
      if (++steps_ > options_.steps_max) {
        stop_run(RunStatus::liveness_steps,
                 fmt::format("liveness: the step budget of {} steps ran out at virtual time {} ns",
                             options_.steps_max, now_ns_));
        return &main_;
      }
      return pick_from_ready();
    }
    if (!fire_due_timers()) {
      stop_run(RunStatus::deadlock, describe_blocked());
      return &main_;
    }
  }
}

void Simulation::start_loop_shutdown() {
  std::vector<std::function<void()>> hooks;
  hooks.swap(loop_shutdown_);
  for (std::function<void()>& hook : hooks)
    spawn_task("loop.shutdown", std::move(hook), {}, /*poller=*/false);
}

Task* Simulation::pick_from_ready() {
  Task* next = choose_from_ready();
  if (next->poller_)
    --ready_pollers_;
  else
    ++busy_picks_;
  return next;
}

Task* Simulation::choose_from_ready() {
  const std::size_t threads = thread_ready_.size();
  const std::size_t total = threads + loop_ready_.size();
  ASGISIM_ASSERT(total > 0);
  Task* yielded = yielded_;
  yielded_ = nullptr;
  switch (options_.strategy) {
    case Strategy::fifo:
      // A simulated thread that became runnable runs before the loop's next step.
      return threads > 0 ? thread_ready_.pop_front() : loop_ready_.pop_front();
    case Strategy::random: {
      const std::uint64_t i = choose(kPickLabel, total);
      return i < threads ? thread_ready_.take(i) : loop_ready_.take(i - threads);
    }
    case Strategy::pct: {
      // At a change point the task that ran last drops below every initial
      // priority (d-1 change points get priorities d-1 .. 1).
      while (pct_next_change_ < pct_change_points_.size() && pct_change_points_[pct_next_change_] <= steps_) {
        if (current_ != &main_) {
          current_->pct_priority_ = options_.pct_depth - 1 - pct_next_change_;
        }
        ++pct_next_change_;
      }
      // A task that yields lets every other ready task go first, so a task
      // polling with checkpoints cannot starve the others.
      std::size_t best = total;
      for (std::size_t i = 0; i < total; ++i) {
        Task* t = i < threads ? thread_ready_.at(i) : loop_ready_.at(i - threads);
        if (t == yielded && total > 1) continue;
        if (best == total) {
          best = i;
          continue;
        }
        Task* b = best < threads ? thread_ready_.at(best) : loop_ready_.at(best - threads);
        if (t->pct_priority_ > b->pct_priority_ ||
            (t->pct_priority_ == b->pct_priority_ && t->id_ < b->id_)) {
          best = i;
        }
      }
      return best < threads ? thread_ready_.erase(best) : loop_ready_.erase(best - threads);
    }
  }
  return loop_ready_.pop_front();
}

}  // namespace asgisim::sim
