// A simulated database connection pool in the style of SQLAlchemy's QueuePool
// (SQLAlchemy 1.3/1.4 `sqlalchemy.pool.impl.QueuePool`), for endpoints and
// dependencies to block on. It is the resource of the thread-pool starvation
// and deadlock scenarios (FastAPI #3205): worker threads that hold limiter
// tokens while they wait here for a connection that only another token can
// give back.
//
//   QueuePool pool({.pool_size = 5, .max_overflow = 0});
//   ConnectionId db = pool.checkout();   // on a simulated thread; may raise PoolTimeout
//   ...
//   pool.checkin(db);
//
// Semantics (QueuePool._do_get / _do_return_conn): up to pool_size idle
// connections are kept; a checkout takes an idle one, else opens a new one
// while fewer than pool_size + max_overflow are open (max_overflow -1: no
// limit), else waits up to `timeout_ns` for a checkin and then raises
// PoolTimeout ("QueuePool limit of size 5 overflow 10 reached, connection
// timed out, timeout 30.00"). A checkin hands the connection to the longest
// waiter (the kernel's fairness rule for thread primitives; SQLAlchemy's
// Condition promises no order), else keeps it idle, else closes it (an
// overflow connection returned to a full pool).
//
// Sides: a checkout that has to wait is for simulated threads only (from a
// loop task it raises WrongSideError: a sync driver would freeze the loop);
// one that need not wait, and every checkin, work from any side. Threads
// cannot be cancelled: only a checkin or the timeout ends a wait.
//
// Deadlock reports: the pool is a Waitable; holders() names, per connection
// checked out, the task that holds it. By default that is the task that
// checked it out; set_holder_resolver() lets the thread-pool model name the
// loop task a worker thread is running for (the request), so that the
// wait-for graph closes its cycle through the limiter.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/sim/threading.hpp"
#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::core {

// Numbered in the order the pool opened them, from 1.
using ConnectionId = std::uint64_t;

// sqlalchemy.exc.TimeoutError from a QueuePool checkout.
class PoolTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct QueuePoolOptions {
  // Connections kept open when idle (create_engine's pool_size, default 5).
  std::uint64_t pool_size = 5;
  // Connections that may be open beyond pool_size; -1 for no limit (default 10).
  std::int64_t max_overflow = 10;
  // How long a checkout waits for a connection (pool_timeout, default 30 s);
  // sim::kWaitForever waits forever, 0 raises at once.
  sim::Nanoseconds timeout_ns = 30 * sim::kSecond;
  // Name in traces and deadlock reports.
  std::string name = "QueuePool";
};

struct QueuePoolStats {
  std::uint64_t checked_out = 0;       // connections in use now
  std::uint64_t checked_out_peak = 0;  // most in use at once
  std::uint64_t open = 0;              // connections open now (idle + in use)
  std::uint64_t idle = 0;              // open and not in use
  std::uint64_t waiting = 0;           // checkouts waiting now
  std::uint64_t checkouts = 0;         // successful checkouts so far
  std::uint64_t timeouts = 0;          // checkouts that raised PoolTimeout
  std::uint64_t opened = 0;            // connections ever opened
  std::uint64_t closed = 0;            // overflow connections closed on checkin
};

class QueuePool final : public sim::Waitable {
 public:
  explicit QueuePool(QueuePoolOptions options = {});
  ~QueuePool() override;

  // Takes a connection, waiting (thread side only) up to the pool's timeout.
  // Raises PoolTimeout when the wait expires.
  ConnectionId checkout();
  // Gives a connection back; UsageError if it is not checked out.
  void checkin(ConnectionId connection);

  // Maps the task that checks a connection out to the task the deadlock
  // report should name as its holder (e.g. a worker thread to its caller).
  void set_holder_resolver(std::function<sim::TaskId(sim::TaskId)> resolver) {
    holder_resolver_ = std::move(resolver);
  }
  // Names `holder` as the holder of a checked-out connection from now on.
  void set_holder(ConnectionId connection, sim::TaskId holder);

  const QueuePoolOptions& options() const { return options_; }
  QueuePoolStats stats() const;
  // Connections open beyond pool_size now (SQLAlchemy's overflow() + pool_size, floored at 0).
  std::uint64_t overflow() const { return open_ > options_.pool_size ? open_ - options_.pool_size : 0; }

  std::string_view kind() const override { return "sqlalchemy.QueuePool"; }
  void append_state(std::string& out) const override;
  void holders(std::vector<sim::TaskId>& out) const override;

 private:
  bool may_open() const;
  ConnectionId take(sim::TaskId taker);
  void check_invariants() const;

  QueuePoolOptions options_;
  std::function<sim::TaskId(sim::TaskId)> holder_resolver_;
  std::deque<ConnectionId> idle_;               // FIFO, like SQLAlchemy's default queue
  std::map<ConnectionId, sim::TaskId> in_use_;  // connection -> holder
  sim::WaitQueue waiters_;
  std::uint64_t open_ = 0;
  std::uint64_t next_id_ = 0;
  std::uint64_t checked_out_peak_ = 0;
  std::uint64_t checkouts_ = 0;
  std::uint64_t timeouts_ = 0;
  std::uint64_t closed_ = 0;
};

}  // namespace asgisim::core
