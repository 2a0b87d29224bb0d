// anyio.Semaphore: a counter with FIFO hand-off to waiters, optionally
// bounded.
#include "asgisim/sim/semaphore.hpp"

#include <fmt/format.h>

#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "primitive_support.hpp"

namespace asgisim::sim {

Semaphore::Semaphore(std::uint64_t initial_value, std::optional<std::uint64_t> max_value, std::string name)
    : Waitable(std::move(name)), value_(initial_value), max_value_(max_value) {
  if (max_value_ && *max_value_ < initial_value) {
    throw std::invalid_argument("max_value must be equal to or higher than initial_value");
  }
  check_invariants();
}

Semaphore::~Semaphore() {
  detail::unlink_all(waiters_);
  detail::unlink_all(handed_);
}

void Semaphore::acquire() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Semaphore.acquire");
  sim.checkpoint_if_cancelled();
  const bool available = value_ > 0;
  if (available) --value_;
  detail::acquire_with_hand_off(
      sim, *this, waiters_, handed_, available, [this] { check_invariants(); },
      [this] { release(); });  // anyio calls the public release(); it may raise instead
}

void Semaphore::acquire_nowait() {
  detail::require_loop_if_in_task("anyio.Semaphore.acquire_nowait");
  if (value_ == 0) throw WouldBlock();
  --value_;
  check_invariants();
}

void Semaphore::release() {
  detail::require_loop_if_in_task("anyio.Semaphore.release");
  if (max_value_ && value_ == *max_value_) throw std::invalid_argument("semaphore released too many times");
  if (Waiter* next = waiters_.pop_front()) {
    detail::hand_to(Simulation::current(), *next, handed_);
  } else {
    ++value_;
  }
  check_invariants();
}

void Semaphore::append_state(std::string& out) const {
  if (max_value_) {
    fmt::format_to(std::back_inserter(out), "value {}/{}, {} waiting", value_, *max_value_, waiters_.size());
    return;
  }
  fmt::format_to(std::back_inserter(out), "value {}, {} waiting", value_, waiters_.size());
}

void Semaphore::check_invariants() const {
  // release() serves a waiter before it raises the value.
  ASGISIM_ASSERT(value_ == 0 || waiters_.empty());
  ASGISIM_ASSERT(!max_value_ || value_ <= *max_value_);
}

}  // namespace asgisim::sim
