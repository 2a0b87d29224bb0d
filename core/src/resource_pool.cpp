// SQLAlchemy-style QueuePool on the kernel's thread-side waiting protocol.
// See resource_pool.hpp for the semantics.
#include "asgisim/core/resource_pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

namespace {

sim::TaskId current_task_id(sim::Simulation* sim) {
  sim::Task* task = sim == nullptr ? nullptr : sim->current_task_or_null();
  return task == nullptr ? sim::kNoTask : task->id();
}

// SQLAlchemy prints the timeout in seconds with two decimals; integer
// arithmetic keeps floating point out of the model.
std::string timeout_message(const QueuePoolOptions& options) {
  const sim::Nanoseconds centiseconds = options.timeout_ns / (10 * sim::kMillisecond);
  return fmt::format("QueuePool limit of size {} overflow {} reached, connection timed out, timeout {}.{:02}",
                     options.pool_size, options.max_overflow, centiseconds / 100, centiseconds % 100);
}

}  // namespace

QueuePool::QueuePool(QueuePoolOptions options) : Waitable(options.name), options_(std::move(options)) {
  if (options_.max_overflow < -1) throw sim::UsageError("QueuePool: max_overflow must be -1 or more");
  if (options_.timeout_ns < 0 && options_.timeout_ns != sim::kWaitForever) {
    throw sim::UsageError("QueuePool: timeout must be non-negative or kWaitForever");
  }
  check_invariants();
}

QueuePool::~QueuePool() {
  // A waiter still linked would resume into a destroyed pool.
  ASGISIM_ASSERT(waiters_.empty());
}

bool QueuePool::may_open() const {
  if (options_.max_overflow < 0) return true;
  return open_ < options_.pool_size + static_cast<std::uint64_t>(options_.max_overflow);
}

ConnectionId QueuePool::take(sim::TaskId taker) {
  ASGISIM_ASSERT(!idle_.empty() || may_open());
  ConnectionId connection = 0;
  if (!idle_.empty()) {
    connection = idle_.front();
    idle_.pop_front();
  } else {
    connection = ++next_id_;
    ++open_;
  }
  in_use_[connection] = holder_resolver_ ? holder_resolver_(taker) : taker;
  ++checkouts_;
  checked_out_peak_ = std::max<std::uint64_t>(checked_out_peak_, in_use_.size());
  check_invariants();
  return connection;
}

ConnectionId QueuePool::checkout() {
  sim::Simulation* sim = sim::Simulation::current_or_null();
  // A wait takes its scheduling point before it looks at the state.
  sim::detail::thread_sync_point(sim);
  check_invariants();
  if (!idle_.empty() || may_open()) return take(current_task_id(sim));
  if (options_.timeout_ns == 0) {
    ++timeouts_;
    throw PoolTimeout(timeout_message(options_));
  }
  sim::Simulation& thread_sim = sim::detail::thread_side("QueuePool.checkout");
  ConnectionId handed = 0;
  sim::Waiter waiter{.task = &thread_sim.current_task(), .slot = &handed};
  {
    sim::WaiterGuard guard(waiters_, waiter);
    waiters_.push_back(waiter);
    sim::detail::block_thread(thread_sim, *this, options_.timeout_ns);
  }
  ASGISIM_ASSERT(!waiter.linked);
  // A checkin that raced with the timeout still handed its connection over.
  if (waiter.handed) {
    ASGISIM_ASSERT(handed != 0 && in_use_.count(handed) == 1);
    return handed;
  }
  ++timeouts_;
  check_invariants();
  throw PoolTimeout(timeout_message(options_));
}

void QueuePool::checkin(ConnectionId connection) {
  sim::Simulation* sim = sim::Simulation::current_or_null();
  check_invariants();
  auto it = in_use_.find(connection);
  if (it == in_use_.end()) {
    throw sim::UsageError(
        fmt::format("QueuePool.checkin(): connection {} of {} is not checked out", connection, name()));
  }
  in_use_.erase(it);
  if (sim::Waiter* next = waiters_.pop_front()) {
    // Waiters exist only while the pool is exhausted: the connection goes to the waiter.
    ASGISIM_ASSERT(sim != nullptr && idle_.empty() && !may_open() && !next->handed);
    *static_cast<ConnectionId*>(next->slot) = connection;
    next->handed = true;
    const sim::TaskId taker = next->task->id();
    in_use_[connection] = holder_resolver_ ? holder_resolver_(taker) : taker;
    ++checkouts_;
    sim->wake(*next->task, sim::WakeReason::notified);
  } else if (idle_.size() < options_.pool_size) {
    idle_.push_back(connection);
  } else {
    // An overflow connection returned to a full pool is closed.
    --open_;
    ++closed_;
  }
  check_invariants();
  sim::detail::thread_sync_point(sim);
}

void QueuePool::set_holder(ConnectionId connection, sim::TaskId holder) {
  auto it = in_use_.find(connection);
  if (it == in_use_.end()) {
    throw sim::UsageError(
        fmt::format("QueuePool.set_holder(): connection {} is not checked out", connection));
  }
  it->second = holder;
}

QueuePoolStats QueuePool::stats() const {
  return QueuePoolStats{.checked_out = in_use_.size(),
                        .checked_out_peak = checked_out_peak_,
                        .open = open_,
                        .idle = idle_.size(),
                        .waiting = waiters_.size(),
                        .checkouts = checkouts_,
                        .timeouts = timeouts_,
                        .opened = next_id_,
                        .closed = closed_};
}

void QueuePool::append_state(std::string& out) const {
  fmt::format_to(std::back_inserter(out), "{}/", in_use_.size());
  if (options_.max_overflow < 0) {
    out.append("unlimited");
  } else {
    fmt::format_to(std::back_inserter(out), "{}+{}", options_.pool_size, options_.max_overflow);
  }
  fmt::format_to(std::back_inserter(out), " connections checked out, {} idle, {} waiting", idle_.size(),
                 waiters_.size());
}

void QueuePool::holders(std::vector<sim::TaskId>& out) const {
  for (const auto& [connection, holder] : in_use_) {
    if (holder != sim::kNoTask && std::find(out.begin(), out.end(), holder) == out.end())
      out.push_back(holder);
  }
}

void QueuePool::check_invariants() const {
  ASGISIM_ASSERT(open_ == idle_.size() + in_use_.size());
  ASGISIM_ASSERT(idle_.size() <= options_.pool_size);
  ASGISIM_ASSERT(options_.max_overflow < 0 ||
                 open_ <= options_.pool_size + static_cast<std::uint64_t>(options_.max_overflow));
  // Nobody waits while a connection is idle or another may be opened.
  ASGISIM_ASSERT(waiters_.empty() || (idle_.empty() && !may_open()));
  ASGISIM_ASSERT(checked_out_peak_ >= in_use_.size());
}

}  // namespace asgisim::core
