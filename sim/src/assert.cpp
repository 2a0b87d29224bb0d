// The failure path of ASGISIM_ASSERT: report where and in which run, then abort.
#include "asgisim/sim/assert.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim::detail {

void report_assertion_failure(const char* condition, const char* file, int line,
                              std::string_view message) noexcept {
  // Plain stdio, no allocation: the process may be in a bad state already.
  std::fprintf(stderr, "asgisim: assertion failed: %s\n  at %s:%d\n", condition, file, line);
  if (!message.empty()) {
    std::fprintf(stderr, "  %.*s\n", static_cast<int>(message.size()), message.data());
  }
  // Only plain reads of the running simulation: seed, clock, current task.
  if (Simulation* sim = Simulation::current_or_null(); sim != nullptr) {
    std::fprintf(stderr, "  in the simulation with seed %llu at virtual time %lld ns",
                 static_cast<unsigned long long>(sim->options().seed), static_cast<long long>(sim->now()));
    if (const Task* task = sim->current_task_or_null(); task != nullptr) {
      std::fprintf(stderr, ", in task #%llu '%s'", static_cast<unsigned long long>(task->id()),
                   task->name().c_str());
    }
    std::fputc('\n', stderr);
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace asgisim::sim::detail
