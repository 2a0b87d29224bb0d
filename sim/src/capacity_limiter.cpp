// anyio.CapacityLimiter: tokens lent to tasks or named borrowers, with the
// asyncio backend's wait queue and its quirks (stale entries, lost hand-offs).
#include "asgisim/sim/capacity_limiter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "primitive_support.hpp"

namespace asgisim::sim {

namespace {
const Borrower& borrower_of(const Waiter& node) { return *static_cast<const Borrower*>(node.slot); }
}  // namespace

CapacityLimiter::CapacityLimiter(std::uint64_t total_tokens, std::string name, LimiterWakeOrder order)
    : Waitable(std::move(name)), total_tokens_(total_tokens), order_(order) {
  if (total_tokens < 1) throw std::invalid_argument("total_tokens must be >= 1");
  check_invariants();
}

CapacityLimiter::~CapacityLimiter() {
  for (Waiter* node = queue_head_; node != nullptr;) {
    Waiter* next = node->next;
    node->prev = node->next = nullptr;
    node->linked = false;
    node = next;
  }
  queue_head_ = queue_tail_ = nullptr;
  detail::unlink_all(woken_);
}

void CapacityLimiter::queue_push_back(Waiter& node) {
  node.prev = queue_tail_;
  node.next = nullptr;
  if (queue_tail_ != nullptr)
    queue_tail_->next = &node;
  else
    queue_head_ = &node;
  queue_tail_ = &node;
  node.linked = true;
  ++queue_size_;
}

void CapacityLimiter::queue_remove(Waiter& node) {
  ASGISIM_ASSERT(node.linked && queue_size_ > 0);
  if (node.prev != nullptr)
    node.prev->next = node.next;
  else
    queue_head_ = node.next;
  if (node.next != nullptr)
    node.next->prev = node.prev;
  else
    queue_tail_ = node.prev;
  node.prev = node.next = nullptr;
  node.linked = false;
  --queue_size_;
}

void CapacityLimiter::queue_replace(Waiter& old_node, Waiter& new_node) {
  ASGISIM_ASSERT(old_node.linked && !new_node.linked);
  new_node.prev = old_node.prev;
  new_node.next = old_node.next;
  if (new_node.prev != nullptr)
    new_node.prev->next = &new_node;
  else
    queue_head_ = &new_node;
  if (new_node.next != nullptr)
    new_node.next->prev = &new_node;
  else
    queue_tail_ = &new_node;
  new_node.linked = true;
  old_node.prev = old_node.next = nullptr;
  old_node.linked = false;
}

void CapacityLimiter::queue_pop_key(const Borrower& borrower) {
  auto it = queue_index_.find(borrower);
  if (it == queue_index_.end()) return;
  Waiter* node = it->second;
  queue_remove(*node);
  queue_index_.erase(it);
  if (node->task == nullptr) stale_.erase(borrower);
}

std::int64_t CapacityLimiter::available_tokens() const {
  if (total_tokens_ == kInfiniteTokens) return std::numeric_limits<std::int64_t>::max();
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(total_tokens_, kMax)) -
         static_cast<std::int64_t>(borrowers_.size());
}

void CapacityLimiter::set_total_tokens(std::uint64_t total_tokens) {
  detail::require_loop_if_in_task("anyio.CapacityLimiter.total_tokens");
  if (total_tokens < 1) throw std::invalid_argument("total_tokens must be >= 1");
  std::uint64_t old_total = total_tokens_;
  total_tokens_ = total_tokens;
  // anyio: for each queued event, stop once the count is covered, set the
  // ones not set yet. The entries stay queued (the stale nodes below).
  std::vector<Waiter*> to_wake;
  for (Waiter* node = queue_head_; node != nullptr && total_tokens > old_total; node = node->next) {
    if (node->task == nullptr) continue;  // already set
    to_wake.push_back(node);
    ++old_total;
  }
  for (Waiter* node : to_wake) {
    const Borrower borrower = borrower_of(*node);
    auto [it, inserted] = stale_.try_emplace(borrower);
    ASGISIM_ASSERT(inserted);
    Waiter& stale = it->second;
    stale.slot = const_cast<Borrower*>(&it->first);
    queue_replace(*node, stale);
    queue_index_[borrower] = &stale;
    detail::hand_to(Simulation::current(), *node, woken_);
  }
  check_invariants();
}

bool CapacityLimiter::try_lend(Borrower borrower) {
  if (borrowers_.count(borrower) != 0) {
    throw UsageError("this borrower is already holding one of this CapacityLimiter's tokens");
  }
  if (queue_size_ != 0 || borrowers_.size() >= total_tokens_) return false;
  borrowers_.insert(borrower);
  // The immediate path never lends beyond the total.
  ASGISIM_ASSERT(borrowers_.size() <= total_tokens_);
  check_invariants();
  return true;
}

void CapacityLimiter::add_borrower(Borrower borrower) {
  borrowers_.insert(borrower);  // a set, as in anyio: a borrower added twice counts once
  if (borrowers_.size() > total_tokens_) {
    ++over_lent_count_;
    Simulation::current().note("anyio.CapacityLimiter lent more tokens than it has", borrowers_.size());
  }
  check_invariants();
}

void CapacityLimiter::acquire() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.CapacityLimiter.acquire");
  acquire_on_behalf_of(Borrower::of_task(sim.current_task().id()));
}

void CapacityLimiter::acquire_nowait() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.CapacityLimiter.acquire_nowait");
  acquire_on_behalf_of_nowait(Borrower::of_task(sim.current_task().id()));
}

void CapacityLimiter::acquire_on_behalf_of_nowait(Borrower borrower) {
  detail::require_loop_if_in_task("anyio.CapacityLimiter.acquire_on_behalf_of_nowait");
  if (!try_lend(borrower)) throw WouldBlock();
}

void CapacityLimiter::acquire_on_behalf_of(Borrower borrower) {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.CapacityLimiter.acquire_on_behalf_of");
  sim.checkpoint_if_cancelled();
  Waiter node{.task = &sim.current_task(), .slot = &borrower};
  if (try_lend(borrower)) {
    // anyio releases on the way out here (for the current task, a slip that
    // only matters on teardown); give back the token this call took.
    detail::checkpoint_after_taking(
        sim, node, woken_, [this] { check_invariants(); },
        [this, borrower] {
          if (borrowers_.count(borrower) != 0) release_on_behalf_of(borrower);
        });
    return;
  }
  // _wait_queue[borrower] = event: a stale entry of the same borrower is
  // overwritten in place, keeping its position.
  auto it = queue_index_.find(borrower);
  if (it == queue_index_.end()) {
    queue_push_back(node);
    queue_index_.emplace(borrower, &node);
  } else {
    Waiter* old_node = it->second;
    if (old_node->task != nullptr) {
      throw UsageError("this borrower is already waiting for one of this CapacityLimiter's tokens");
    }
    queue_replace(*old_node, node);
    it->second = &node;
    stale_.erase(borrower);
  }
  check_invariants();
  try {
    detail::finish_event_wait(sim, sim.block(*this), /*trailing_checkpoint=*/false);
  } catch (...) {
    if (node.linked) {  // else the limiter is gone (teardown)
      if (node.handed) woken_.remove(node);
      // _wait_queue.pop(borrower, None): our entry, or the stale entry that
      // replaced it; nothing if release() popped it (its token is then lost).
      queue_pop_key(borrower);
      check_invariants();
    }
    throw;
  }
  ASGISIM_ASSERT(node.handed);
  woken_.remove(node);
  add_borrower(borrower);
}

void CapacityLimiter::release() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.CapacityLimiter.release");
  release_on_behalf_of(Borrower::of_task(sim.current_task().id()));
}

void CapacityLimiter::release_on_behalf_of(Borrower borrower) {
  detail::require_loop_if_in_task("anyio.CapacityLimiter.release_on_behalf_of");
  auto it = borrowers_.find(borrower);
  if (it == borrowers_.end()) {
    throw UsageError("this borrower isn't holding any of this CapacityLimiter's tokens");
  }
  borrowers_.erase(it);
  if (queue_size_ != 0 && borrowers_.size() < total_tokens_) {
    Waiter* node = order_ == LimiterWakeOrder::newest_first ? queue_tail_ : queue_head_;
    const Borrower key = borrower_of(*node);
    queue_remove(*node);
    queue_index_.erase(key);
    if (node->task == nullptr) {
      stale_.erase(key);  // its event was set already: this release wakes nobody
    } else {
      detail::hand_to(Simulation::current(), *node, woken_);
    }
  }
  check_invariants();
}

CapacityLimiterStatistics CapacityLimiter::statistics() const {
  return CapacityLimiterStatistics{
      .borrowed_tokens = borrowers_.size(),
      .total_tokens = total_tokens_,
      .borrowers = std::vector<Borrower>(borrowers_.begin(), borrowers_.end()),
      .tasks_waiting = queue_size_,
  };
}

void CapacityLimiter::append_state(std::string& out) const {
  fmt::format_to(std::back_inserter(out), "{}/", borrowers_.size());
  if (total_tokens_ == kInfiniteTokens) {
    out.append("inf");
  } else {
    fmt::format_to(std::back_inserter(out), "{}", total_tokens_);
  }
  fmt::format_to(std::back_inserter(out), " tokens borrowed, {} waiting", queue_size_);
  if (!stale_.empty())
    fmt::format_to(std::back_inserter(out), " ({} stale entries left by the total_tokens setter)",
                   stale_.size());
}

void CapacityLimiter::holders(std::vector<TaskId>& out) const {
  for (const Borrower& borrower : borrowers_) {
    if (borrower.kind == Borrower::Kind::task) out.push_back(static_cast<TaskId>(borrower.id));
  }
}

void CapacityLimiter::check_invariants() const {
  ASGISIM_ASSERT(total_tokens_ >= 1);
  ASGISIM_ASSERT(queue_index_.size() == queue_size_);
  ASGISIM_ASSERT(stale_.size() <= queue_size_);
  ASGISIM_ASSERT((queue_head_ == nullptr) == (queue_size_ == 0));
  ASGISIM_ASSERT((queue_tail_ == nullptr) == (queue_size_ == 0));
  // Nobody queues while a token is free and the queue is empty; a queue with
  // a free token can only come from a lost hand-off or the setter.
}

}  // namespace asgisim::sim
