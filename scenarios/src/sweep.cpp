// Seed sweeps: shards of seed indices, run on `jobs` OS threads, reported as
// if they had run one after another (the lowest failing index wins, progress
// comes in seed order), so --jobs never changes a result. The seeds are
// streamed: workers run at most a window of positions ahead of the one the
// calling thread reports next, so memory does not grow with the seed count.
// A sweep stops taking seeds at a deadline (--duration) or when told to
// (a signal); what ran is always a prefix of the shard's seeds.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/assert.hpp"

namespace asgisim::scenarios {
namespace {

using Clock = std::chrono::steady_clock;  // nondeterminism-ok: --duration and reporting, outside runs
constexpr auto kPollInterval = std::chrono::milliseconds(50);

thread_local bool tls_running = false;
thread_local std::uint64_t tls_seed = 0;

// One position's result, waiting for the calling thread to report it.
struct Slot {
  enum class State : std::uint8_t { empty, done, abandoned, error };
  State state = State::empty;
  FailureClass failure = FailureClass::none;
  std::optional<RunOutcome> outcome{};  // failing runs only
};

// How many positions (seed indices of the shard) [0, seeds) holds.
std::uint64_t position_count(const SweepOptions& options) {
  ASGISIM_ASSERT(options.shard.count >= 1 && options.shard.index >= 1 &&
                 options.shard.index <= options.shard.count);
  const std::uint64_t first = options.shard.index - 1;
  return options.seeds > first ? (options.seeds - first - 1) / options.shard.count + 1 : 0;
}

class SweepRun {
 public:
  SweepRun(const Scenario& scenario, ConfigKind config, const RunSettings& settings,
           const SweepOptions& options)
      : scenario_(scenario),
        config_(config),
        settings_(settings),
        options_(options),
        count_(position_count(options)) {
    settings_.abandon = options.abandon;
    const std::uint64_t jobs = std::max<std::uint64_t>(1, std::min<std::uint64_t>(options.jobs, count_));
    jobs_ = static_cast<std::uint32_t>(jobs);
    slots_.resize(std::max<std::size_t>(4, 4 * jobs_));
  }

  SweepResult run() {
    const auto wall_start = Clock::now();
    result_.scenario = scenario_.info().name;
    result_.config = config_;
    std::vector<std::thread> threads;
    if (jobs_ > 1) {
      active_ = jobs_;
      for (std::uint32_t j = 0; j < jobs_; ++j) threads.emplace_back([this] { worker(); });
    }
    try {
      report_in_order();  // the callbacks may throw too
    } catch (...) {
      keep_error(std::current_exception());
    }
    {
      std::lock_guard lock(mutex_);
      halted_ = true;
      changed_.notify_all();
    }
    for (std::thread& thread : threads) thread.join();
    for (Slot& slot : slots_) result_.runs_abandoned += slot.state == Slot::State::abandoned ? 1 : 0;
    if (error_) std::rethrow_exception(error_);
    result_.end = end_reason();
    result_.seconds = std::chrono::duration<double>(Clock::now() - wall_start).count();
    return std::move(result_);
  }

 private:
  std::uint64_t seed_of(std::uint64_t position) const {
    ASGISIM_ASSERT(position < count_, "position {} of a shard of {}", position, count_);
    return options_.seed_base + (options_.shard.index - 1) + position * options_.shard.count;
  }
  bool told_to_stop() const {
    return (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) ||
           (options_.abandon != nullptr && options_.abandon->load(std::memory_order_relaxed));
  }
  bool past_deadline() const { return options_.deadline && Clock::now() >= *options_.deadline; }
  // Whether `position` may start; called with mutex_ held (jobs > 1).
  bool may_start(std::uint64_t position) const {
    return position < count_ && !halted_ && !told_to_stop() && !past_deadline();
  }

  Slot run_position(std::uint64_t position) {
    Slot slot;
    const std::uint64_t seed = seed_of(position);
    tls_seed = seed;
    tls_running = true;
    try {
      RunOutcome outcome = run_seed(scenario_, config_, seed, settings_);
      slot.state = Slot::State::done;
      slot.failure = outcome.failure;
      if (outcome.failed()) slot.outcome = std::move(outcome);
    } catch (const RunAbandoned&) {
      slot.state = Slot::State::abandoned;
    } catch (const UsageError&) {
      slot.state = Slot::State::error;
      keep_error(std::current_exception());
    } catch (const std::exception& error) {
      slot.state = Slot::State::error;
      keep_error(std::make_exception_ptr(
          SeedError(seed, fmt::format("seed {} of {} ({}) threw: {}", seed, scenario_.info().name,
                                      to_string(config_), error.what()))));
    }
    tls_running = false;
    return slot;
  }

  void keep_error(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(error);
    halted_ = true;
  }

  void worker() {
    std::unique_lock lock(mutex_);
    for (;;) {
      while (may_start(next_) && next_ >= reported_ + slots_.size()) changed_.wait_for(lock, kPollInterval);
      if (!may_start(next_)) break;
      const std::uint64_t position = next_++;
      lock.unlock();
      Slot slot = run_position(position);
      lock.lock();
      slots_[position % slots_.size()] = std::move(slot);
      changed_.notify_all();
    }
    --active_;
    changed_.notify_all();
  }

  // Takes position's result: runs it here (jobs == 1) or waits for a worker.
  // Empty when it never started.
  Slot take(std::uint64_t position) {
    if (jobs_ == 1) {
      if (!may_start(position)) return {};
      return run_position(position);
    }
    std::unique_lock lock(mutex_);
    Slot& slot = slots_[position % slots_.size()];
    changed_.wait(lock, [&] { return slot.state != Slot::State::empty || active_ == 0; });
    Slot taken = std::move(slot);
    slot = Slot{};
    reported_ = position + 1;
    changed_.notify_all();
    return taken;
  }

  void report_in_order() {
    for (std::uint64_t position = 0; position < count_; ++position) {
      Slot slot = take(position);
      if (slot.state == Slot::State::abandoned) ++result_.runs_abandoned;
      if (slot.state != Slot::State::done) break;
      ++result_.seeds_run;
      if (slot.failure != FailureClass::none) {
        ++result_.failures;
        result_.worst = most_severe(result_.worst, slot.failure);
        result_.first_seed_by_class.try_emplace(slot.failure, seed_of(position));
        if (options_.on_failure) options_.on_failure(*slot.outcome);
        if (!result_.first_failure) {
          result_.first_failure = std::move(slot.outcome);
          result_.first_failure_index = seed_of(position) - options_.seed_base;
        }
      }
      if (options_.progress) options_.progress(result_.seeds_run, result_.failures);
      if (options_.stop_at_first_failure && result_.failures > 0) break;
    }
  }

  SweepEnd end_reason() const {
    const bool fail_fast_stop = options_.stop_at_first_failure && result_.failures > 0;
    if (result_.seeds_run == count_ || fail_fast_stop) return SweepEnd::completed;
    if (told_to_stop()) return SweepEnd::interrupted;
    return options_.deadline ? SweepEnd::deadline : SweepEnd::completed;
  }

  const Scenario& scenario_;
  ConfigKind config_;
  RunSettings settings_;
  const SweepOptions& options_;
  std::uint64_t count_ = 0;
  std::uint32_t jobs_ = 1;
  SweepResult result_{};
  // Shared with the workers, under mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Slot> slots_;     // position p waits in slots_[p % size] until reported
  std::uint64_t next_ = 0;      // the next position a worker starts
  std::uint64_t reported_ = 0;  // positions below it are reported
  std::uint32_t active_ = 0;    // workers still running
  bool halted_ = false;         // no position starts any more
  std::exception_ptr error_{};  // rethrown on the calling thread
};

}  // namespace

bool running_seed(std::uint64_t& seed) noexcept {
  if (!tls_running) return false;
  seed = tls_seed;
  return true;
}

Shard parse_shard(std::string_view text) {
  const auto fail = [&] {
    return UsageError(fmt::format("--shard {}: expected K/N with 1 <= K <= N (e.g. 3/8)", text));
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) throw fail();
  Shard shard;
  const auto parse = [&](std::string_view part, std::uint32_t& out) {
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    if (error != std::errc() || end != part.data() + part.size() || part.empty()) throw fail();
  };
  parse(text.substr(0, slash), shard.index);
  parse(text.substr(slash + 1), shard.count);
  if (shard.count == 0 || shard.index == 0 || shard.index > shard.count) throw fail();
  return shard;
}

SweepResult sweep(const Scenario& scenario, ConfigKind config, const RunSettings& settings,
                  const SweepOptions& options) {
  if (options.shard.count == 0 || options.shard.index == 0 || options.shard.index > options.shard.count) {
    throw UsageError(
        fmt::format("--shard {}/{}: expected 1 <= K <= N", options.shard.index, options.shard.count));
  }
  return SweepRun(scenario, config, settings, options).run();
}

}  // namespace asgisim::scenarios
