// Event, Lock, Semaphore, CapacityLimiter and Condition: anyio 3.6.2's
// event-loop primitives on the kernel's one waiting protocol (wait.hpp).
//
// A task inside acquire()/wait() is always linked in one of the primitive's
// queues until it returns, unless the primitive was destroyed (teardown), so
// its clean-up tests `waiter.linked` before touching the primitive.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/sim/capacity_limiter.hpp"
#include "asgisim/sim/condition.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/semaphore.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {

// ---- shared ------------------------------------------------------------------

namespace detail {

void primitive_invariant_failed(const char* expression, const char* file, int line) {
  std::fprintf(stderr, "asgisim: primitive invariant violated: %s (%s:%d)\n", expression, file, line);
  std::fflush(stderr);
  std::abort();
}

void finish_event_wait(Simulation& sim, WakeReason reason, bool trailing_checkpoint) {
  // Primitives never pass a deadline to block(): timeouts are cancel scopes.
  ASGISIM_PRIMITIVE_CHECK(reason != WakeReason::timed_out);
  if (reason == WakeReason::cancelled) throw Cancelled{};
  // Woken, but the scope was cancelled before the task resumed: asyncio
  // throws CancelledError into the `await` of the completed future.
  if (sim.is_cancelled(sim.current_task())) throw Cancelled{};
  if (trailing_checkpoint) sim.checkpoint();
}

void require_loop_if_in_task(std::string_view operation) {
  Simulation* sim = Simulation::current_or_null();
  if (sim != nullptr && sim->current_task_or_null() != nullptr) sim->require_domain(Domain::loop, operation);
}

void unlink_all(WaitQueue& queue) {
  while (queue.pop_front() != nullptr) {
  }
}

}  // namespace detail

namespace {

TaskId current_task_id() {
  Simulation* sim = Simulation::current_or_null();
  Task* task = sim != nullptr ? sim->current_task_or_null() : nullptr;
  return task != nullptr ? task->id() : kNoTask;
}

// Moves a served waiter to `handed` and makes its task ready.
void hand_to(Simulation& sim, Waiter& waiter, WaitQueue& handed) {
  waiter.handed = true;
  handed.push_back(waiter);
  sim.wake(*waiter.task);
}

}  // namespace

// ---- Event -------------------------------------------------------------------

Event::~Event() { detail::unlink_all(waiters_); }

void Event::set() {
  detail::require_loop_if_in_task("anyio.Event.set");
  if (set_) return;
  set_ = true;
  if (!waiters_.empty()) {
    // asyncio.Event.set() completes every waiter's future; each waiter leaves
    // the list itself when it resumes.
    Simulation& sim = Simulation::current();
    waiters_.for_each([&sim](Waiter& waiter) {
      waiter.handed = true;
      sim.wake(*waiter.task);
    });
  }
  check_invariants();
}

void Event::wait() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Event.wait");
  if (!set_) {
    Waiter waiter{.task = &sim.current_task()};
    waiters_.push_back(waiter);
    WaiterGuard guard(waiters_, waiter);
    check_invariants();
    detail::finish_event_wait(sim, sim.block(*this), /*trailing_checkpoint=*/false);
  }
  sim.checkpoint();
}

std::string Event::state() const {
  return fmt::format("{}, {} waiting", set_ ? "set" : "not set", waiters_.size());
}

void Event::check_invariants() const {
  // Waiters queue only while the flag is clear; set() serves them all.
  ASGISIM_PRIMITIVE_CHECK(waiters_.empty() || set_ == waiters_.front()->handed);
}

// ---- Lock --------------------------------------------------------------------

Lock::~Lock() {
  detail::unlink_all(waiters_);
  detail::unlink_all(handed_);
}

void Lock::acquire() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Lock.acquire");
  Task& me = sim.current_task();
  sim.checkpoint_if_cancelled();
  if (owner_ == me.id()) throw UsageError("Attempted to acquire an already held Lock");
  Waiter waiter{.task = &me};
  const bool free = owner_ == kNoTask;
  if (free) {
    owner_ = me.id();
    waiter.handed = true;
    handed_.push_back(waiter);
  } else {
    waiters_.push_back(waiter);
  }
  check_invariants();
  try {
    if (free) {
      sim.cancel_shielded_checkpoint();
    } else {
      detail::finish_event_wait(sim, sim.block(*this), /*trailing_checkpoint=*/true);
    }
  } catch (...) {
    if (!waiter.linked) throw;  // the lock is gone (teardown)
    if (!waiter.handed) {
      waiters_.remove(waiter);
      check_invariants();
    } else {
      // Handed the lock but leaving with an exception: pass it on.
      handed_.remove(waiter);
      if (owner_ == me.id()) hand_over(sim);
    }
    throw;
  }
  handed_.remove(waiter);
  ASGISIM_PRIMITIVE_CHECK(owner_ == me.id());
  check_invariants();
}

void Lock::acquire_nowait() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Lock.acquire_nowait");
  const TaskId me = sim.current_task().id();
  if (owner_ == me) throw UsageError("Attempted to acquire an already held Lock");
  if (owner_ != kNoTask) throw WouldBlock();
  owner_ = me;
  check_invariants();
}

void Lock::release() {
  detail::require_loop_if_in_task("anyio.Lock.release");
  if (owner_ == kNoTask || owner_ != current_task_id()) {
    throw UsageError("The current task is not holding this lock");
  }
  hand_over(Simulation::current());
}

void Lock::hand_over(Simulation& sim) {
  if (Waiter* next = waiters_.pop_front()) {
    owner_ = next->task->id();
    hand_to(sim, *next, handed_);
  } else {
    owner_ = kNoTask;
  }
  check_invariants();
}

std::string Lock::state() const {
  if (owner_ == kNoTask) return fmt::format("unlocked, {} waiting", waiters_.size());
  return fmt::format("locked, {} waiting", waiters_.size());
}

void Lock::holders(std::vector<TaskId>& out) const {
  if (owner_ != kNoTask) out.push_back(owner_);
}

void Lock::check_invariants() const {
  // release() hands the lock straight to the first waiter: a free lock has no queue.
  ASGISIM_PRIMITIVE_CHECK(owner_ != kNoTask || (waiters_.empty() && handed_.empty()));
  // Only the owner can be on its way out of acquire() with the lock.
  ASGISIM_PRIMITIVE_CHECK(handed_.size() <= 1);
  ASGISIM_PRIMITIVE_CHECK(handed_.empty() || handed_.front()->task->id() == owner_);
}

// ---- Semaphore ---------------------------------------------------------------

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
  Waiter waiter{.task = &sim.current_task()};
  const bool available = value_ > 0;
  if (available) {
    --value_;
    waiter.handed = true;
    handed_.push_back(waiter);
  } else {
    waiters_.push_back(waiter);
  }
  check_invariants();
  try {
    if (available) {
      sim.cancel_shielded_checkpoint();
    } else {
      detail::finish_event_wait(sim, sim.block(*this), /*trailing_checkpoint=*/true);
    }
  } catch (...) {
    if (!waiter.linked) throw;  // the semaphore is gone (teardown)
    if (!waiter.handed) {
      waiters_.remove(waiter);
      check_invariants();
    } else {
      handed_.remove(waiter);
      release();  // anyio calls the public release(); it may raise instead
    }
    throw;
  }
  handed_.remove(waiter);
  check_invariants();
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
    hand_to(Simulation::current(), *next, handed_);
  } else {
    ++value_;
  }
  check_invariants();
}

std::string Semaphore::state() const {
  if (max_value_) return fmt::format("value {}/{}, {} waiting", value_, *max_value_, waiters_.size());
  return fmt::format("value {}, {} waiting", value_, waiters_.size());
}

void Semaphore::check_invariants() const {
  // release() serves a waiter before it raises the value.
  ASGISIM_PRIMITIVE_CHECK(value_ == 0 || waiters_.empty());
  ASGISIM_PRIMITIVE_CHECK(!max_value_ || value_ <= *max_value_);
}

// ---- CapacityLimiter -----------------------------------------------------------

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
  ASGISIM_PRIMITIVE_CHECK(node.linked && queue_size_ > 0);
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
  ASGISIM_PRIMITIVE_CHECK(old_node.linked && !new_node.linked);
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
    ASGISIM_PRIMITIVE_CHECK(inserted);
    Waiter& stale = it->second;
    stale.slot = const_cast<Borrower*>(&it->first);
    queue_replace(*node, stale);
    queue_index_[borrower] = &stale;
    hand_to(Simulation::current(), *node, woken_);
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
  ASGISIM_PRIMITIVE_CHECK(borrowers_.size() <= total_tokens_);
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
    node.handed = true;
    woken_.push_back(node);
    try {
      sim.cancel_shielded_checkpoint();
    } catch (...) {
      // anyio releases here (for the current task, a slip that only matters
      // on teardown); give back the token this call took.
      if (node.linked) {
        woken_.remove(node);
        if (borrowers_.count(borrower) != 0) release_on_behalf_of(borrower);
      }
      throw;
    }
    woken_.remove(node);
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
  ASGISIM_PRIMITIVE_CHECK(node.handed);
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
      hand_to(Simulation::current(), *node, woken_);
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

std::string CapacityLimiter::state() const {
  const std::string total =
      total_tokens_ == kInfiniteTokens ? std::string("inf") : fmt::format("{}", total_tokens_);
  std::string text = fmt::format("{}/{} tokens borrowed, {} waiting", borrowers_.size(), total, queue_size_);
  if (!stale_.empty())
    text += fmt::format(" ({} stale entries left by the total_tokens setter)", stale_.size());
  return text;
}

void CapacityLimiter::holders(std::vector<TaskId>& out) const {
  for (const Borrower& borrower : borrowers_) {
    if (borrower.kind == Borrower::Kind::task) out.push_back(static_cast<TaskId>(borrower.id));
  }
}

void CapacityLimiter::check_invariants() const {
  ASGISIM_PRIMITIVE_CHECK(total_tokens_ >= 1);
  ASGISIM_PRIMITIVE_CHECK(queue_index_.size() == queue_size_);
  ASGISIM_PRIMITIVE_CHECK(stale_.size() <= queue_size_);
  ASGISIM_PRIMITIVE_CHECK((queue_head_ == nullptr) == (queue_size_ == 0));
  ASGISIM_PRIMITIVE_CHECK((queue_tail_ == nullptr) == (queue_size_ == 0));
  // Nobody queues while a token is free and the queue is empty; a queue with
  // a free token can only come from a lost hand-off or the setter.
}

// ---- Condition -------------------------------------------------------------------

Condition::Condition(Lock* lock, std::string name)
    : Waitable(std::move(name)), lock_(lock != nullptr ? lock : &own_lock_) {}

Condition::~Condition() {
  detail::unlink_all(waiters_);
  detail::unlink_all(woken_);
}

void Condition::acquire() {
  lock_->acquire();
  owner_ = current_task_id();
}

void Condition::acquire_nowait() {
  lock_->acquire_nowait();
  owner_ = current_task_id();
}

void Condition::release() { lock_->release(); }

void Condition::check_acquired(std::string_view operation) const {
  detail::require_loop_if_in_task(operation);
  if (owner_ == kNoTask || owner_ != current_task_id()) {
    throw UsageError("The current task is not holding the underlying lock");
  }
}

void Condition::wake_one() {
  Waiter* waiter = waiters_.pop_front();
  ASGISIM_PRIMITIVE_CHECK(waiter != nullptr);
  hand_to(Simulation::current(), *waiter, woken_);
}

void Condition::notify(std::size_t n) {
  check_acquired("anyio.Condition.notify");
  for (std::size_t i = 0; i < n && !waiters_.empty(); ++i) wake_one();
}

void Condition::notify_all() {
  check_acquired("anyio.Condition.notify_all");
  while (!waiters_.empty()) wake_one();
}

void Condition::reacquire_shielded() {
  shielded([this] { acquire(); });
}

void Condition::wait() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Condition.wait");
  sim.checkpoint();
  Waiter waiter{.task = &sim.current_task()};
  if (lock_->owner() != waiter.task->id()) throw UsageError("The current task is not holding this lock");
  waiters_.push_back(waiter);
  release();
  auto leave_queue = [&] {
    if (waiter.linked) (waiter.handed ? woken_ : waiters_).remove(waiter);
  };
  // Never block inside a catch handler: the C++ runtime's caught-exception
  // stack is per OS thread, not per fiber. Keep the exception, leave the
  // handler, re-acquire, rethrow.
  std::exception_ptr cancelled;
  try {
    detail::finish_event_wait(sim, sim.block(*this), /*trailing_checkpoint=*/true);
  } catch (const Cancelled&) {
    cancelled = std::current_exception();
  } catch (...) {
    leave_queue();  // TaskUnwound: teardown, do not wait for the lock again
    throw;
  }
  leave_queue();
  reacquire_shielded();
  if (cancelled) std::rethrow_exception(cancelled);
}

std::string Condition::state() const {
  return fmt::format("{} waiting; lock {}", waiters_.size(), lock_->state());
}

}  // namespace asgisim::sim
