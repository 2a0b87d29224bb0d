// Explaining a stopped run: the wait-for graph of blocked tasks (who waits on
// which primitive, held by whom) and the first cycle in it, as plain text.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {

bool Simulation::is_live(TaskId id) const {
  return std::any_of(live_.begin(), live_.end(), [id](const Task* t) { return t->id_ == id; });
}

void Simulation::append_waitable(std::string& out, const Waitable& on) const {
  auto* self = const_cast<Simulation*>(this);  // object ids are assigned lazily
  const ObjectId object = on.object_id(*self);
  out.append(on.kind());
  if (!on.name().empty()) out.append(" '").append(on.name()).append(1, '\'');
  out.append(" #");
  append_decimal(out, object);
  const std::string state = on.state();
  if (!state.empty()) out.append(" (").append(state).append(1, ')');
}

std::string Simulation::describe_waitable(const Waitable& on) const {
  std::string out;
  append_waitable(out, on);
  return out;
}

void Simulation::collect_blocked(RunResult& result) const {
  std::vector<const Task*> tasks(live_.begin(), live_.end());
  std::sort(tasks.begin(), tasks.end(), [](const Task* a, const Task* b) { return a->id_ < b->id_; });
  auto* self = const_cast<Simulation*>(this);  // object ids are assigned lazily
  for (const Task* task : tasks) {
    if (task->state_ != Task::State::blocked || task->waiting_on_ == nullptr) continue;
    BlockedTask entry;
    entry.task = task->id_;
    entry.task_name = *task->name_;
    entry.daemon = task->daemon_;
    entry.thread = task->domain_ == Domain::thread;
    const Waitable& on = *task->waiting_on_;
    entry.object = on.object_id(*self);
    entry.waits_on = describe_waitable(on);
    on.holders(entry.held_by);
    result.blocked.push_back(std::move(entry));
  }
}

std::string Simulation::describe_blocked() const {
  RunResult scratch;
  collect_blocked(scratch);
  std::size_t non_daemon = 0;
  for (const auto& b : scratch.blocked) non_daemon += b.daemon ? 0 : 1;
  std::string out = fmt::format(
      "deadlock: {} task(s) blocked, nothing ready and no timer pending (virtual time {} ns, step {})\n",
      non_daemon, now_ns_, steps_);
  auto task_label = [this](TaskId id) { return fmt::format("#{} '{}'", id, task_name(id)); };
  std::map<TaskId, std::vector<TaskId>> edges;
  for (const auto& b : scratch.blocked) {
    out += fmt::format("  task {}{}{} waits on {}", task_label(b.task), b.thread ? " [thread]" : "",
                       b.daemon ? " [daemon]" : "", b.waits_on);
    if (!b.held_by.empty()) {
      out += " held by";
      for (std::size_t i = 0; i < b.held_by.size(); ++i) {
        out += fmt::format("{} {}", i ? "," : "", task_label(b.held_by[i]));
      }
    }
    out += '\n';
    edges[b.task] = b.held_by;
  }
  // First cycle in the wait-for graph, by depth-first search in id order.
  std::map<TaskId, int> color;  // 0 new, 1 on path, 2 done
  std::vector<TaskId> path;
  std::vector<TaskId> cycle;
  auto dfs = [&](auto&& self_ref, TaskId node) -> bool {
    color[node] = 1;
    path.push_back(node);
    for (TaskId next : edges[node]) {
      if (color[next] == 1) {
        auto start = std::find(path.begin(), path.end(), next);
        cycle.assign(start, path.end());
        return true;
      }
      if (color[next] == 0 && edges.count(next) && self_ref(self_ref, next)) return true;
    }
    path.pop_back();
    color[node] = 2;
    return false;
  };
  for (const auto& [node, unused] : edges) {
    if (color[node] == 0 && dfs(dfs, node)) break;
  }
  if (!cycle.empty()) {
    out += "  cycle:";
    for (TaskId id : cycle) out += fmt::format(" {} ->", task_label(id));
    out += fmt::format(" {}\n", task_label(cycle.front()));
  }
  return out;
}

}  // namespace asgisim::sim
