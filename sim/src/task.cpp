// Tasks (task.hpp): TaskHandle, the join() that waits for a task to end,
// and the rule that an exception nobody joins fails the run.
#include "asgisim/sim/task.hpp"

#include <fmt/format.h>

#include <exception>
#include <iterator>
#include <utility>

#include "asgisim/sim/simulation.hpp"

#include "asgisim/sim/assert.hpp"

namespace asgisim::sim {

void Task::JoinTarget::append_state(std::string& out) const {
  fmt::format_to(std::back_inserter(out), "task #{} '{}'", task_.id_, *task_.name_);
}

TaskHandle::TaskHandle(Simulation* sim, Task* task) : sim_(sim), task_(task), id_(task->id_) {
  ++task_->handles_;
}

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
  ASGISIM_ASSERT(task.handles_ > 0);
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

}  // namespace asgisim::sim
