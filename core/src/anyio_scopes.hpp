// anyio 3's cancel scopes as the model's task groups see them (asyncio
// backend; see anyio_task_done.hpp for the groups themselves): which kernel
// scope belongs to which group, anyio's walk up a task's scopes
// (_parent_cancelled, checkpoint_if_cancelled), and the retries of a
// cancelled scope's delivery (_deliver_cancellation, queued with call_soon).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string_view>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/detail/runtime_hooks.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::core::detail {

class AnyioTaskGroup;

// The kernel scopes that stand for anyio's delivery reach: each child of an
// AnyioTaskGroup runs in a shielded scope of its own (see above), and the
// host runs the body in the group's scope. Only lookups are made, never a
// walk in key order, so a map keyed by address is deterministic; it keeps
// 100k live connections from costing O(n^2). One registry per run, attached
// to the running Simulation (nothing outlives the run).
struct AnyioScopeOwner {
  AnyioTaskGroup* group = nullptr;
  bool child = false;  // a child's shielded scope (else the host's body scope)
};
struct AnyioScopeRegistry {
  std::map<const sim::CancelScope*, AnyioScopeOwner> owners;
};
inline std::map<const sim::CancelScope*, AnyioScopeOwner>& anyio_scopes() {
  return sim::Simulation::current().extension<AnyioScopeRegistry>().owners;
}

inline bool is_anyio_child_scope(const sim::CancelScope* scope) {
  const auto& scopes = anyio_scopes();
  auto it = scopes.find(scope);
  return it != scopes.end() && it->second.child;
}

// anyio's CancelScope._deliver_cancellation retry of one cancelled group: a
// daemon task that runs once per pass of the loop (call_soon) while the
// group's scope holds tasks, and cancels the hosts that wait in the
// __aexit__ of a group nested in it. When nothing but such retries is ready,
// or nothing but retries has run for many passes (a random strategy may keep
// picking them), it parks, so that virtual time can advance and a deadlock is
// still seen as one (asyncio would spin while the wall clock runs); a host
// that starts to wait wakes it again.
struct CancelDelivery final : sim::Waitable {
  CancelDelivery() : sim::Waitable("anyio CancelScope._deliver_cancellation") {}
  std::string_view kind() const override { return "anyio cancel delivery"; }

  bool active = true;  // the scope still holds tasks
  sim::Task* parked = nullptr;
  sim::WaitQueue hosts;  // hosts waiting in a nested __aexit__

  void unpark() {
    if (parked != nullptr) sim::Simulation::current().wake(*parked);
  }

  static constexpr int kIdlePassesBeforeParking = 64;

  static void start(const std::shared_ptr<CancelDelivery>& self) {
    sim::Simulation::current().runtime_hooks().spawn_poller(
        "anyio CancelScope._deliver_cancellation", [self] { run(self); }, sim::SpawnOptions{.daemon = true});
  }

 private:
  static void run(const std::shared_ptr<CancelDelivery>& self) {
    sim::Simulation& simulation = sim::Simulation::current();
    const sim::detail::RuntimeHooks hooks = simulation.runtime_hooks();
    std::uint64_t busy_picks = hooks.busy_picks();
    int idle_passes = 0;  // passes in which only pollers ran (a strategy may keep picking them)
    while (self->active) {
      while (sim::Waiter* host = self->hosts.pop_front()) {
        host->handed = true;
        simulation.wake(*host->task, sim::WakeReason::cancelled);
      }
      idle_passes = hooks.busy_picks() == busy_picks ? idle_passes + 1 : 0;
      busy_picks = hooks.busy_picks();
      if (hooks.busy_others_ready_count() > 0 && idle_passes < kIdlePassesBeforeParking) {
        simulation.cancel_shielded_checkpoint();  // call_soon(self._deliver_cancellation)
        continue;
      }
      self->parked = &simulation.current_task();
      simulation.block(*self, sim::kNoDeadline, /*cancellable=*/false);
      self->parked = nullptr;
    }
  }
};

// anyio 3's walk up a task's cancel scopes (CancelScope._parent_cancelled,
// checkpoint_if_cancelled): is any scope cancelled, up to a real shield?
// Unlike delivery, the walk goes on from a child task to the scope of the
// group that spawned it (anyio links them by _parent_scope), so it passes the
// shields of the child scopes; the kernel's own rule stops there.
inline bool anyio_cancel_called_in_chain() {
  for (const sim::CancelScope* scope = sim::Simulation::current().runtime_hooks().current_scope();
       scope != nullptr; scope = sim::detail::RuntimeHooks::parent(*scope)) {
    if (scope->cancel_called()) return true;
    if (scope->shield() && !is_anyio_child_scope(scope)) return false;
  }
  return false;
}

// anyio 3's checkpoint_if_cancelled: sleep(0) again and again while a scope
// of the chain is cancelled, until the cancellation reaches the task (the
// kernel's checkpoint raises then). Only another task can bring it; alone,
// the task goes on rather than spin with the virtual clock stopped.
// asyncio spins with its wall clock running; the virtual clock stands still
// while anything is ready, so two such spinners would keep each other (and
// the timers that could end their wait) from ever moving on. A spinner
// therefore gives up after this many loop passes and goes on (or waits),
// far more passes than any cancellation needs to arrive.
inline constexpr int kAnyioMaxSpinPasses = 64;

inline void anyio_checkpoint_if_cancelled() {
  sim::Simulation& simulation = sim::Simulation::current();
  for (int pass = 0; pass < kAnyioMaxSpinPasses && anyio_cancel_called_in_chain() &&
                     simulation.runtime_hooks().others_ready();
       ++pass) {
    simulation.checkpoint();
  }
}

}  // namespace asgisim::core::detail
