// The scheduler: task lifecycle, direct task-to-task switching, strategies,
// virtual time and timers, the waiting protocol, choices and faults.
#include "asgisim/sim/simulation.hpp"

#include <cxxabi.h>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>

#include "sanitizer.hpp"

namespace asgisim::sim {

namespace {
// The simulation running on this OS thread (asyncio's running loop).
thread_local Simulation* tls_current = nullptr;

constexpr Label kPickLabel{"sched.pick", Stream::scheduler};
constexpr Label kPctPriorityLabel{"pct.priority", Stream::scheduler};
constexpr Label kPctChangeLabel{"pct.change_point", Stream::scheduler};
constexpr std::uint64_t kPctPriorityRange = std::uint64_t{1} << 32;

// The Itanium C++ ABI's per-thread exception globals (libstdc++ and libc++
// share this layout on every target we build for). Fibers share the OS
// thread, so each task keeps its own copy across switches.
struct ExceptionGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

[[gnu::always_inline]] inline void swap_exception_state(void* globals_raw, void*& from_caught,
                                                      unsigned int& from_uncaught, void* to_caught,
                                                      unsigned int to_uncaught) {
  auto* globals = static_cast<ExceptionGlobals*>(globals_raw);
  from_caught = globals->caught_exceptions;
  from_uncaught = globals->uncaught_exceptions;
  globals->caught_exceptions = to_caught;
  globals->uncaught_exceptions = to_uncaught;
}
}  // namespace

std::string_view to_string(Strategy strategy) {
  switch (strategy) {
    case Strategy::fifo: return "fifo";
    case Strategy::random: return "random";
    case Strategy::pct: return "pct";
  }
  return "?";
}

bool parse_strategy(std::string_view text, Strategy& out) {
  for (Strategy s : {Strategy::fifo, Strategy::random, Strategy::pct}) {
    if (text == to_string(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

std::string_view to_string(RunStatus status) {
  switch (status) {
    case RunStatus::not_run: return "not_run";
    case RunStatus::completed: return "completed";
    case RunStatus::deadlock: return "deadlock";
    case RunStatus::liveness_steps: return "liveness_steps";
    case RunStatus::liveness_time: return "liveness_time";
    case RunStatus::task_error: return "task_error";
    case RunStatus::replay_divergence: return "replay_divergence";
  }
  return "?";
}

ObjectId Waitable::object_id(Simulation& sim) const {
  if (id_ == kNoObject) id_ = sim.next_object_id();
  return id_;
}

std::string Task::JoinTarget::state() const { return fmt::format("task #{} '{}'", task_.id_, *task_.name_); }

// ---- construction -------------------------------------------------------------

Simulation::Simulation(SimulationOptions options) : Simulation(options, nullptr, Runner::this_thread()) {}

Simulation::Simulation(SimulationOptions options, ChoiceSource& source)
    : Simulation(options, &source, Runner::this_thread()) {}

Simulation::Simulation(SimulationOptions options, ChoiceSource* source, Runner& runner)
    : options_(options),
      runner_(runner),
      owned_source_(source ? nullptr : std::make_unique<PrngChoiceSource>(options.seed)),
      source_(source ? source : owned_source_.get()),
      trace_(options.trace) {
  main_.id_ = kNoTask;
  main_.state_ = Task::State::running;
  names_.emplace_back("main");
  name_ids_.emplace("main", 0);
  task_name_ids_.push_back(0);
  main_.name_ = &names_.front();
}

Simulation::~Simulation() {
  // Tasks spawned but never run still own suspended fibers: unwind them
  // through the scheduler (annotated switches), not by destroying fibers.
  if (!live_.empty() && !running_) {
    Simulation* outer = tls_current;
    tls_current = this;
    eh_globals_ = abi::__cxa_get_globals();
    unwind_remaining();
    tls_current = outer;
  }
}

std::vector<std::string> Simulation::task_names() const {
  std::vector<std::string> names;
  names.reserve(task_name_ids_.size());
  for (std::uint32_t id : task_name_ids_) names.push_back(names_[id]);
  return names;
}

const std::string& Simulation::task_name(TaskId id) const {
  static const std::string unknown = "?";
  return id < task_name_ids_.size() ? names_[task_name_ids_[id]] : unknown;
}

Simulation& Simulation::current() {
  if (tls_current == nullptr) throw WrongSideError("no simulation is running on this thread");
  return *tls_current;
}

Simulation* Simulation::current_or_null() { return tls_current; }

Task& Simulation::current_task() {
  if (current_ == &main_) throw WrongSideError("this operation must be called from a simulated task");
  return *current_;
}

// ---- tasks ----------------------------------------------------------------------

Task* Simulation::allocate_task(std::string name, SpawnOptions options) {
  // Draw first: a strict replay may diverge here and leave for the main
  // context, which must not find a half-made task in live_.
  const std::uint64_t pct_priority =
      options_.strategy == Strategy::pct ? options_.pct_depth + choose(kPctPriorityLabel, kPctPriorityRange) : 0;
  Task* task;
  if (!free_tasks_.empty()) {
    task = free_tasks_.back();
    free_tasks_.pop_back();
  } else {
    task = &tasks_.emplace_back();
  }
  assert(task->state_ == Task::State::free && task->handles_ == 0 && task->joiners_.empty());
  task->id_ = static_cast<TaskId>(task_name_ids_.size());
  auto found = name_ids_.find(name);
  if (found == name_ids_.end()) {
    names_.push_back(name);
    found = name_ids_.emplace(std::move(name), static_cast<std::uint32_t>(names_.size() - 1)).first;
  }
  task_name_ids_.push_back(found->second);
  task->name_ = &names_[found->second];
  task->domain_ = options.domain;
  task->daemon_ = options.daemon;
  task->unwind_requested_ = false;
  task->cancellable_wait_ = false;
  task->error_retrieved_ = false;
  task->scope_ = nullptr;
  task->scope_next_ = task->scope_prev_ = nullptr;
  task->group_ = nullptr;
  task->waiting_on_ = nullptr;
  task->error_ = nullptr;
  task->asan_fake_stack_ = nullptr;
  task->eh_caught_ = nullptr;
  task->eh_uncaught_ = 0;
  task->live_index_ = live_.size();
  live_.push_back(task);
  if (!task->daemon_) ++live_non_daemon_;
  task->pct_priority_ = pct_priority;
  const TaskId parent = current_->id_;
  trace_.record({now_ns_, task->id_, TraceKind::spawn, static_cast<std::uint16_t>(options.domain), parent, 0});
  return task;
}

void Simulation::enter_task(Task* task, boost::context::fiber&& caller) {
  const void* bottom_old = nullptr;
  std::size_t size_old = 0;
  detail::asan_finish_switch(nullptr, &bottom_old, &size_old);
  if (previous_ == &main_) {
    asan_main_bottom_ = const_cast<void*>(bottom_old);
    asan_main_size_ = size_old;
  }
  previous_->context_ = std::move(caller);
  assert(current_ == task);
  (void)task;
}

boost::context::fiber Simulation::finish_task(Task* task, std::exception_ptr error) {
  assert(current_ == task && task->state_ != Task::State::done);
  if (task->stack_.canary != nullptr && *task->stack_.canary != kStackCanary) {
    report_stack_overflow(task->name_->c_str(), task->id_, "its stack canary was overwritten");
  }
  task->state_ = Task::State::done;
  task->waiting_on_ = nullptr;
  trace_.record({now_ns_, task->id_, TraceKind::finish, static_cast<std::uint16_t>(error ? 1 : 0), 0, 0});
  Task* last = live_.back();
  live_[task->live_index_] = last;
  last->live_index_ = task->live_index_;
  live_.pop_back();
  if (!task->daemon_) --live_non_daemon_;
  scope_remove_task(task);
  if (task->group_ != nullptr) {
    TaskGroup* group = task->group_;
    task->group_ = nullptr;
    group->child_finished(task, tearing_down_ ? nullptr : error);
  } else if (error) {
    if (task->handles_ > 0) {
      task->error_ = error;
    } else if (!tearing_down_) {
      failure_error_ = error;
      stop_run(RunStatus::task_error,
               fmt::format("task #{} '{}' raised an exception nobody receives: {}", task->id_, *task->name_,
                           describe(error)));
    }
  }
  while (Waiter* waiter = task->joiners_.pop_front()) wake(*waiter->task);
  if (task->handles_ == 0) recycle(task);

  Task* next = tearing_down_ ? &main_ : pick_next();
  previous_ = task;
  current_ = next;
  next->state_ = Task::State::running;
  trace_.record({now_ns_, next->id_, TraceKind::switch_to, 0, task->id_, steps_});
  swap_exception_state(eh_globals_, task->eh_caught_, task->eh_uncaught_, next->eh_caught_, next->eh_uncaught_);
  const bool to_main = next == &main_;
  // A finished fiber's fake stack is released by passing nullptr.
  detail::asan_start_switch(nullptr, to_main ? asan_main_bottom_ : next->stack_.bottom(),
                            to_main ? asan_main_size_ : next->stack_.size);
  return std::move(next->context_);
}

void Simulation::recycle(Task* task) {
  assert(task->state_ == Task::State::done && task->handles_ == 0);
  task->state_ = Task::State::free;
  task->error_ = nullptr;
  free_tasks_.push_back(task);
}

void Simulation::set_daemon(Task& task, bool daemon) {
  if (task.daemon_ == daemon) return;
  task.daemon_ = daemon;
  if (task.state_ != Task::State::done && task.state_ != Task::State::free) {
    if (daemon) --live_non_daemon_; else ++live_non_daemon_;
  }
}

// ---- switching ------------------------------------------------------------------

[[gnu::always_inline]] inline void Simulation::switch_to(Task* from, Task* to) {
  assert(from == current_ && from != to);
  if (from->stack_.canary != nullptr && *from->stack_.canary != kStackCanary) {
    report_stack_overflow(from->name_->c_str(), from->id_, "its stack canary was overwritten");
  }
  trace_.record({now_ns_, to->id_, TraceKind::switch_to, 0, from->id_, steps_});
  previous_ = from;
  current_ = to;
  to->state_ = Task::State::running;
  swap_exception_state(eh_globals_, from->eh_caught_, from->eh_uncaught_, to->eh_caught_, to->eh_uncaught_);
  const bool to_main = to == &main_;
  detail::asan_start_switch(&from->asan_fake_stack_, to_main ? asan_main_bottom_ : to->stack_.bottom(),
                            to_main ? asan_main_size_ : to->stack_.size);
  boost::context::fiber caller = std::move(to->context_).resume();
  after_switch(from, std::move(caller));
}

[[gnu::always_inline]] inline void Simulation::after_switch(Task* self, boost::context::fiber&& caller) {
  const void* bottom_old = nullptr;
  std::size_t size_old = 0;
  detail::asan_finish_switch(self->asan_fake_stack_, &bottom_old, &size_old);
  if (previous_ == &main_) {
    asan_main_bottom_ = const_cast<void*>(bottom_old);
    asan_main_size_ = size_old;
  }
  previous_->context_ = std::move(caller);
  assert(current_ == self);
  if (self->unwind_requested_ && self != &main_) throw TaskUnwound{};
}

[[gnu::always_inline]] inline void Simulation::dispatch(Task* self) {
  Task* next;
  // The common case, kept inline: fifo with a loop task ready, nothing failed.
  if (options_.strategy == Strategy::fifo && status_ == RunStatus::not_run && live_non_daemon_ != 0 &&
      thread_ready_.empty() && !loop_ready_.empty() && steps_ < options_.steps_max) {
    ++steps_;
    next = loop_ready_.pop_front();
  } else {
    next = pick_next();
  }
  if (next == self) {
    self->state_ = Task::State::running;
    trace_.record({now_ns_, self->id_, TraceKind::switch_to, 0, self->id_, steps_});
    return;
  }
  switch_to(self, next);
}

void Simulation::fail_now() {
  if (current_ == &main_ || tearing_down_) return;
  switch_to(current_, &main_);
}

Task* Simulation::pick_next() {
  for (;;) {
    if (status_ != RunStatus::not_run) return &main_;
    if (live_non_daemon_ == 0) {
      status_ = RunStatus::completed;
      return &main_;
    }
    if (!loop_ready_.empty() || !thread_ready_.empty()) {
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

Task* Simulation::pick_from_ready() {
  const std::size_t threads = thread_ready_.size();
  const std::size_t total = threads + loop_ready_.size();
  assert(total > 0);
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
        if (t->pct_priority_ > b->pct_priority_ || (t->pct_priority_ == b->pct_priority_ && t->id_ < b->id_)) {
          best = i;
        }
      }
      return best < threads ? thread_ready_.erase(best) : loop_ready_.erase(best - threads);
    }
  }
  return loop_ready_.pop_front();
}

// ---- running ----------------------------------------------------------------------

RunResult Simulation::run() {
  if (ran_ || running_) throw UsageError("Simulation::run() may be called only once");
  ran_ = true;
  if (tls_current != nullptr) throw UsageError("a simulation is already running on this thread");
  tls_current = this;
  running_ = true;
  eh_globals_ = abi::__cxa_get_globals();
  // The seed is not part of the trace: a strict replay of a run must hash the same.
  trace_.record({0, kNoTask, TraceKind::run_start, static_cast<std::uint16_t>(options_.strategy), 0, 0});
  if (options_.strategy == Strategy::pct) {
    for (std::uint32_t i = 1; i < options_.pct_depth; ++i) {
      pct_change_points_.push_back(choose(kPctChangeLabel, std::max<std::uint64_t>(options_.pct_steps_estimate, 2)));
    }
    std::sort(pct_change_points_.begin(), pct_change_points_.end());
  }
  Task* first = pick_next();
  if (first != &main_) switch_to(&main_, first);

  RunResult result;
  result.status = status_;
  result.report = failure_report_;
  result.error = failure_error_;
  result.steps = steps_;
  result.end_time_ns = now_ns_;
  if (status_ != RunStatus::completed) collect_blocked(result);
  trace_.record({now_ns_, kNoTask, TraceKind::run_end, static_cast<std::uint16_t>(status_), 0, steps_});
  result.trace_hash = trace_.hash();

  unwind_remaining();
  tls_current = nullptr;
  running_ = false;
  return result;
}

void Simulation::unwind_remaining() {
  tearing_down_ = true;
  // Unwind in spawn order; each task throws TaskUnwound from where it is
  // suspended (or skips its body if it never started) and comes back here.
  // A destructor running during the unwind may spawn (e.g. a callback handed
  // to the loop); such tasks never run their body and are unwound next round.
  while (!live_.empty()) {
    std::vector<Task*> remaining = live_;
    std::sort(remaining.begin(), remaining.end(), [](const Task* a, const Task* b) { return a->id_ > b->id_; });
    for (Task* task : remaining) {
      if (task->state_ == Task::State::done || task->state_ == Task::State::free) continue;
      task->unwind_requested_ = true;
      switch_to(&main_, task);
    }
  }
}

void Simulation::stop_run(RunStatus status, std::string report) {
  if (status_ != RunStatus::not_run) return;  // the first failure is the one reported
  status_ = status;
  failure_report_ = std::move(report);
}

// ---- time, checkpoints, waiting -------------------------------------------------

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
    if (self.domain_ == Domain::loop) checkpoint(); else thread_switch_point();
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
  if (deadline_ns != kNoDeadline) {
    timers_.push(Timer{std::max(deadline_ns, now_ns_), ++timer_sequence_, self, self->wait_generation_, 0});
  }
  dispatch(self);
  self->waiting_on_ = nullptr;
  return self->wake_reason_;
}

bool Simulation::wake(Task& task, WakeReason reason) {
  if (task.state_ != Task::State::blocked) return false;
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
    throw WrongSideError(fmt::format("{} must be called from a simulated task, not outside the run", operation));
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

// ---- choices, faults, notes ----------------------------------------------------

std::uint64_t Simulation::choose(Label where, std::uint64_t n) {
  if (n <= 1) return 0;
  std::uint64_t value = source_->choose(where, n);
  if (!source_->divergence().empty()) {
    stop_run(RunStatus::replay_divergence, source_->divergence());
    fail_now();
    return 0;
  }
  assert(value < n);
  if (options_.record_decisions) log_.record(Decision{where.name, where.stream, n, value});
  trace_.record({now_ns_, current_->id_, TraceKind::decision, static_cast<std::uint16_t>(where.stream), n, value});
  return value;
}

bool Simulation::buggify(Label site, double probability) {
  if (!options_.buggify_enabled || probability <= 0.0) return false;
  auto it = buggify_sites_.find(site.name);
  if (it == buggify_sites_.end()) {
    it = buggify_sites_.emplace(std::string(site.name), choose(site, 2) == 1).first;
  }
  if (!it->second) return false;
  if (probability >= 1.0) return true;
  constexpr std::uint64_t kRange = std::uint64_t{1} << 32;
  const auto threshold = static_cast<std::uint64_t>(probability * static_cast<double>(kRange));
  return choose(site, kRange) < threshold;
}

void Simulation::note(std::string_view what, std::uint64_t value) {
  trace_.record({now_ns_, current_->id_, TraceKind::note, 0, trace_.intern(what), value});
}

// ---- joining --------------------------------------------------------------------

TaskHandle::TaskHandle(Simulation* sim, Task* task) : sim_(sim), task_(task), id_(task->id_) { ++task_->handles_; }

TaskHandle::TaskHandle(const TaskHandle& other) : sim_(other.sim_), task_(other.task_), id_(other.id_) {
  if (task_) ++task_->handles_;
}

TaskHandle& TaskHandle::operator=(TaskHandle other) {
  std::swap(sim_, other.sim_);
  std::swap(task_, other.task_);
  std::swap(id_, other.id_);
  return *this;
}

TaskHandle::~TaskHandle() {
  if (task_) sim_->release_handle(*task_);
}

bool TaskHandle::done() const { return task_ == nullptr || task_->state_ == Task::State::done; }

void TaskHandle::join() {
  if (task_ == nullptr) throw UsageError("join() on an empty TaskHandle");
  sim_->join(*task_);
}

void Simulation::release_handle(Task& task) {
  assert(task.handles_ > 0);
  if (--task.handles_ > 0) return;
  if (task.state_ != Task::State::done) return;
  if (task.error_ && !task.error_retrieved_ && !tearing_down_ && status_ == RunStatus::not_run) {
    failure_error_ = task.error_;
    stop_run(RunStatus::task_error, fmt::format("task #{} '{}' raised an exception that was never joined: {}",
                                                task.id_, *task.name_, describe(task.error_)));
  }
  recycle(&task);
}

void Simulation::join(Task& task) {
  if (task.state_ != Task::State::done) {
    Waiter waiter{.task = &current_task()};
    task.joiners_.push_back(waiter);
    WaiterGuard guard(task.joiners_, waiter);
    while (task.state_ != Task::State::done) {
      if (block(task.join_target_) == WakeReason::cancelled) throw Cancelled{};
    }
  }
  if (task.error_) {
    task.error_retrieved_ = true;
    std::rethrow_exception(task.error_);
  }
}

// ---- cancellation plumbing ------------------------------------------------------

bool Simulation::is_cancelled(const Task& task) const {
  for (const CancelScope* scope = task.scope_; scope != nullptr; scope = scope->parent_) {
    if (scope->cancel_called_) return true;
    if (scope->shield_) return false;
  }
  return false;
}

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
  assert(task->scope_ == nullptr && task->scope_next_ == nullptr && task->scope_prev_ == nullptr);
  task->scope_ = scope;
  if (scope == nullptr) return;
  task->scope_next_ = scope->first_task_;
  if (scope->first_task_) scope->first_task_->scope_prev_ = task;
  scope->first_task_ = task;
}

void Simulation::scope_remove_task(Task* task) {
  CancelScope* scope = task->scope_;
  if (scope == nullptr) return;
  if (task->scope_prev_) task->scope_prev_->scope_next_ = task->scope_next_; else scope->first_task_ = task->scope_next_;
  if (task->scope_next_) task->scope_next_->scope_prev_ = task->scope_prev_;
  task->scope_next_ = task->scope_prev_ = nullptr;
  task->scope_ = nullptr;
}

void Simulation::adopt_into_group(TaskGroup& group, const TaskHandle& handle) {
  Task* task = handle.task_;
  assert(task != nullptr && task->group_ == nullptr && task->state_ == Task::State::ready);
  task->group_ = &group;
  scope_add_task(&group.scope_, task);
  ++group.live_children_;
  group.children_.push_back(task->id_);
}

}  // namespace asgisim::sim
