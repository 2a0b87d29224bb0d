// anyio.CapacityLimiter for event-loop tasks: tokens lent to tasks or named
// borrowers, as anyio 3.6.2's asyncio backend does it, quirks included.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/sim/event.hpp"
#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

// math.inf as a token count.
inline constexpr std::uint64_t kInfiniteTokens = std::numeric_limits<std::uint64_t>::max();
// anyio's default thread limiter (to_thread.current_default_thread_limiter()).
inline constexpr std::uint64_t kAnyioDefaultThreadTokens = 40;

// Who holds a token: a task (acquire()) or an object named by the caller
// (acquire_on_behalf_of(); anyio's to_thread.run_sync borrows for a fresh
// `object()` per call). Ordered, so borrower sets iterate deterministically.
struct Borrower {
  enum class Kind : std::uint8_t { task, object };
  Kind kind = Kind::task;
  std::uint64_t id = 0;

  static Borrower of_task(TaskId task) { return Borrower{Kind::task, task}; }
  static Borrower of_object(std::uint64_t object) { return Borrower{Kind::object, object}; }
  friend auto operator<=>(const Borrower&, const Borrower&) = default;
};

// Which waiter release() wakes.
enum class LimiterWakeOrder : std::uint8_t {
  // anyio <= 3.6 on asyncio: release() pops the *newest* waiter (OrderedDict.
  // popitem() without last=False; anyio issue #538, fixed in 3.7).
  newest_first,
  // anyio >= 3.7 and the trio backend: the oldest waiter.
  oldest_first,
};

struct CapacityLimiterStatistics {
  std::uint64_t borrowed_tokens = 0;
  std::uint64_t total_tokens = 0;   // kInfiniteTokens for math.inf
  std::vector<Borrower> borrowers;  // sorted
  std::size_t tasks_waiting = 0;    // entries in the wait queue, stale ones included
};

// anyio.CapacityLimiter, asyncio backend of anyio 3.6.2. Faithful to these
// behaviours of that release, which a model of the thread pool must show:
// - release() wakes the newest waiter (see LimiterWakeOrder).
// - A woken waiter adds itself to the borrowers only when it resumes; a task
//   that calls acquire*() in between finds the queue empty and a token free,
//   takes it, and the limiter ends up lending more tokens than it has.
// - set_total_tokens() wakes waiters without removing their queue entries;
//   such a stale entry makes acquire_nowait() raise WouldBlock although
//   tokens are free, and a later release() that pops it wakes nobody.
// Both over-lending and stale entries are counted (over_lent_count(),
// statistics().tasks_waiting) so checkers can see them.
//
// acquire() raises Cancelled at once if the task's scope is already
// cancelled; otherwise a free token is taken and the task passes a
// cancel-shielded checkpoint. There is no trailing checkpoint after a wake:
// this backend waits on asyncio.Event directly.
//
// Cancelled while waiting in acquire*(): the borrower's queue entry is
// removed and Cancelled is raised; no token is taken. If release() had
// already popped the entry and woken the task (cancelled before it resumed),
// the token it meant to pass on is simply lost for now: nobody else is woken
// and waiters stay queued until the next release() (anyio 3.6.2's behaviour).
class CapacityLimiter final : public Waitable {
 public:
  // Raises std::invalid_argument (Python's ValueError) if total_tokens < 1.
  explicit CapacityLimiter(std::uint64_t total_tokens, std::string name = {},
                           LimiterWakeOrder order = LimiterWakeOrder::newest_first);
  ~CapacityLimiter() override;

  std::uint64_t total_tokens() const { return total_tokens_; }
  // anyio's total_tokens setter: raises std::invalid_argument if < 1; when
  // raised by n, sets the events of the first n waiters that are not woken
  // yet (queue order), leaving their entries queued.
  void set_total_tokens(std::uint64_t total_tokens);
  std::uint64_t borrowed_tokens() const { return borrowers_.size(); }
  // total - borrowed; negative when over-lent; INT64_MAX when infinite.
  std::int64_t available_tokens() const;

  // For the current task. Loop side only.
  void acquire();
  void acquire_nowait();
  void release();
  // For any borrower. acquire*: raises UsageError if `borrower` already holds
  // a token (anyio: RuntimeError), or (a deliberate difference from anyio,
  // which would orphan the first waiter) if it is already waiting; *_nowait
  // raises WouldBlock if anyone is queued or no token is free.
  void acquire_on_behalf_of(Borrower borrower);
  void acquire_on_behalf_of_nowait(Borrower borrower);
  // Raises UsageError if `borrower` holds no token (anyio: RuntimeError).
  void release_on_behalf_of(Borrower borrower);

  bool holds_token(Borrower borrower) const { return borrowers_.count(borrower) != 0; }
  CapacityLimiterStatistics statistics() const;
  // How many times a borrower was added while that left more borrowers than tokens.
  std::uint64_t over_lent_count() const { return over_lent_count_; }

  std::string_view kind() const override { return "anyio.CapacityLimiter"; }
  void append_state(std::string& out) const override;
  // Borrowers that are tasks.
  void holders(std::vector<TaskId>& out) const override;

 private:
  // The wait queue is anyio's OrderedDict {borrower: event}, kept as an
  // intrusive list of Waiter nodes (slot -> the node's Borrower). A live node
  // is on a waiting task's stack; a stale node (an entry whose event
  // set_total_tokens() set) has no task and is owned by stale_. Tasks that
  // were woken but have not resumed are linked in woken_, so that their
  // clean-up knows the limiter still exists.
  void queue_push_back(Waiter& node);
  void queue_remove(Waiter& node);
  void queue_replace(Waiter& old_node, Waiter& new_node);
  // Removes the entry of `borrower`, if any (OrderedDict.pop(borrower, None)).
  void queue_pop_key(const Borrower& borrower);
  // Lends a token if acquire_nowait would; raises UsageError for a holder.
  bool try_lend(Borrower borrower);
  void add_borrower(Borrower borrower);
  void check_invariants() const;

  std::uint64_t total_tokens_;
  LimiterWakeOrder order_;
  std::set<Borrower> borrowers_;
  Waiter* queue_head_ = nullptr;
  Waiter* queue_tail_ = nullptr;
  std::size_t queue_size_ = 0;
  std::map<Borrower, Waiter*> queue_index_;
  std::map<Borrower, Waiter> stale_;
  WaitQueue woken_;
  std::uint64_t over_lent_count_ = 0;
};

// `async with limiter:` as a scope, for the current task or a named borrower.
class LimiterGuard {
 public:
  explicit LimiterGuard(CapacityLimiter& limiter) : limiter_(limiter), on_behalf_(false) {
    limiter_.acquire();
  }
  LimiterGuard(CapacityLimiter& limiter, Borrower borrower)
      : limiter_(limiter), borrower_(borrower), on_behalf_(true) {
    limiter_.acquire_on_behalf_of(borrower_);
  }
  ~LimiterGuard() {
    if (on_behalf_)
      limiter_.release_on_behalf_of(borrower_);
    else
      limiter_.release();
  }
  LimiterGuard(const LimiterGuard&) = delete;
  LimiterGuard& operator=(const LimiterGuard&) = delete;

 private:
  CapacityLimiter& limiter_;
  Borrower borrower_;
  bool on_behalf_;
};

// Runs `fn` while the current task holds a token of `limiter`.
template <class Fn>
decltype(auto) with_limiter(CapacityLimiter& limiter, Fn&& fn) {
  LimiterGuard guard(limiter);
  return std::forward<Fn>(fn)();
}

}  // namespace asgisim::sim
