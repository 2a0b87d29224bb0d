// The scheduler: construction, task lifecycle, running and tearing down a run,
// choices and faults. Switching is in switching.hpp/.cpp, waiting in
// waiting.cpp, joining in task.cpp, cancellation plumbing in cancel.cpp.
#include "asgisim/sim/simulation.hpp"

#include <cxxabi.h>
#include <fmt/format.h>

#include <algorithm>

#include "asgisim/sim/assert.hpp"
#include "sanitizer.hpp"
#include "switching.hpp"

namespace asgisim::sim {

namespace {
// The simulation running on this OS thread (asyncio's running loop).
thread_local Simulation* tls_current = nullptr;

constexpr Label kPctPriorityLabel{"pct.priority", Stream::scheduler};
constexpr Label kPctChangeLabel{"pct.change_point", Stream::scheduler};
constexpr std::uint64_t kPctPriorityRange = std::uint64_t{1} << 32;
}  // namespace

std::string_view to_string(Strategy strategy) {
  switch (strategy) {
    case Strategy::fifo:
      return "fifo";
    case Strategy::random:
      return "random";
    case Strategy::pct:
      return "pct";
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
    case RunStatus::not_run:
      return "not_run";
    case RunStatus::completed:
      return "completed";
    case RunStatus::deadlock:
      return "deadlock";
    case RunStatus::liveness_steps:
      return "liveness_steps";
    case RunStatus::liveness_time:
      return "liveness_time";
    case RunStatus::task_error:
      return "task_error";
    case RunStatus::replay_divergence:
      return "replay_divergence";
    case RunStatus::abandoned:
      return "abandoned";
    case RunStatus::escaped:
      return "escaped";
  }
  return "?";
}

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
  // The layers' per-run state goes while the rest of the Simulation is whole.
  extensions_.clear();
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

Task* Simulation::allocate_task(std::string name, SpawnOptions options, bool poller) {
  // Draw first: a strict replay may diverge here and leave for the main
  // context, which must not find a half-made task in live_.
  const std::uint64_t pct_priority = options_.strategy == Strategy::pct
                                         ? options_.pct_depth + choose(kPctPriorityLabel, kPctPriorityRange)
                                         : 0;
  Task* task;
  if (!free_tasks_.empty()) {
    task = free_tasks_.back();
    free_tasks_.pop_back();
  } else {
    task = &tasks_.emplace_back();
  }
  ASGISIM_ASSERT(task->state_ == Task::State::free && task->handles_ == 0 && task->joiners_.empty());
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
  task->poller_ = poller;
  task->deferral_ = nullptr;
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
  trace_.record(
      {now_ns_, task->id_, TraceKind::spawn, static_cast<std::uint16_t>(options.domain), parent, 0});
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
  ASGISIM_ASSERT(current_ == task);
  (void)task;
}

boost::context::fiber Simulation::finish_task(Task* task, std::exception_ptr error) {
  ASGISIM_ASSERT(current_ == task && task->state_ != Task::State::done);
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
      stop_run(RunStatus::task_error, fmt::format("task #{} '{}' raised an exception nobody receives: {}",
                                                  task->id_, *task->name_, describe(error)));
    }
  }
  while (Waiter* waiter = task->joiners_.pop_front()) wake(*waiter->task);

  // Picked before the task is recycled: pick_next() may spawn (the loop's
  // shutdown), and a spawn must not reuse the stack this code runs on.
  Task* next = tearing_down_ ? &main_ : pick_next();
  if (task->handles_ == 0) recycle(task);
  previous_ = task;
  current_ = next;
  next->state_ = Task::State::running;
  trace_.record({now_ns_, next->id_, TraceKind::switch_to, 0, task->id_, steps_});
  detail::swap_exception_state(eh_globals_, task->eh_caught_, task->eh_uncaught_, next->eh_caught_,
                               next->eh_uncaught_);
  const bool to_main = next == &main_;
  // A finished fiber's fake stack is released by passing nullptr.
  detail::asan_start_switch(nullptr, to_main ? asan_main_bottom_ : next->stack_.bottom(),
                            to_main ? asan_main_size_ : next->stack_.size);
  return std::move(next->context_);
}

void Simulation::recycle(Task* task) {
  ASGISIM_ASSERT(task->state_ == Task::State::done && task->handles_ == 0);
  task->state_ = Task::State::free;
  task->error_ = nullptr;
  free_tasks_.push_back(task);
}

void Simulation::set_daemon(Task& task, bool daemon) {
  if (task.daemon_ == daemon) return;
  task.daemon_ = daemon;
  if (task.state_ != Task::State::done && task.state_ != Task::State::free) {
    if (daemon)
      --live_non_daemon_;
    else
      ++live_non_daemon_;
  }
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
      pct_change_points_.push_back(
          choose(kPctChangeLabel, std::max<std::uint64_t>(options_.pct_steps_estimate, 2)));
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
    std::sort(remaining.begin(), remaining.end(),
              [](const Task* a, const Task* b) { return a->id_ > b->id_; });
    for (Task* task : remaining) {
      if (task->state_ == Task::State::done || task->state_ == Task::State::free) continue;
      task->unwind_requested_ = true;
      switch_to(&main_, task);
    }
  }
}

void Simulation::stop_escaped(std::string report) { stop_run(RunStatus::escaped, std::move(report)); }

void Simulation::stop_run(RunStatus status, std::string report) {
  if (status_ != RunStatus::not_run) return;  // the first failure is the one reported
  status_ = status;
  failure_report_ = std::move(report);
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
  ASGISIM_ASSERT(value < n);
  if (options_.record_decisions) log_.record(Decision{where.name, where.stream, n, value, current_->id_});
  trace_.record(
      {now_ns_, current_->id_, TraceKind::decision, static_cast<std::uint16_t>(where.stream), n, value});
  if (trace_.keeps_records()) trace_.annotate(where.name);
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

}  // namespace asgisim::sim
