// `async with anyio.create_task_group() as group:` for the model's own task
// groups (Starlette's StreamingResponse, BaseHTTPMiddleware and its
// receive_or_disconnect): anyio 3's group (anyio_task_done.hpp) or anyio 4's
// (anyio4_task_group.hpp), by the run's anyio major.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>

#include "anyio4_task_group.hpp"
#include "anyio_task_done.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"

namespace asgisim::core::detail {

// Whether Starlette collapses a group raised with one error into that error
// (create_collapsing_task_group, 1.3.0, #2830: the group's own, one level).
// anyio 3's group is not a BaseExceptionGroup, so only anyio 4's collapses.
enum class Collapse : std::uint8_t { none, single };

// `async with anyio.create_task_group() as group: body(group)`, `body`
// taking AnyioTaskGroup& under anyio 3 and Anyio4TaskGroup& under anyio 4
// (SimulationOptions::task_group_errors).
template <class Body>
void anyio_task_group(Body&& body, Collapse collapse = Collapse::none) {
  if (sim::Simulation::current().options().task_group_errors == sim::TaskGroupErrors::anyio4) {
    // Outlives the kernel group's wait for the children, which use it.
    std::optional<Anyio4TaskGroup> group;
    try {
      sim::task_group([&](sim::TaskGroup& kernel_group) {
        group.emplace(kernel_group);
        group->run(body);
      });
    } catch (const sim::ExceptionGroup& raised) {
      if (collapse == Collapse::none || raised.exceptions().size() != 1) throw;
      std::rethrow_exception(raised.exceptions().front());
    }
    return;
  }
  // A CancelledError that __aexit__ lets through (an enclosing scope is
  // cancelled, by anyio's rule) goes past the kernel's group, whose own scope
  // would swallow it: its rule stops at the shields of the child scopes.
  bool cancelled = false;
  sim::task_group([&](sim::TaskGroup& kernel_group) {
    AnyioTaskGroup group(kernel_group);
    try {
      group.run(body);
    } catch (const sim::Cancelled&) {
      cancelled = true;
    }
  });
  if (cancelled) throw sim::Cancelled{};
}

}  // namespace asgisim::core::detail
