// Seed sweeps: shards of seed indices, run on `jobs` OS threads, reported as
// if they had run one after another (the lowest failing index wins, progress
// comes in seed order), so --jobs never changes a result.
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

namespace asgisim::scenarios {
namespace {

// The seed indices of one shard, in order.
std::vector<std::uint64_t> shard_indices(const SweepOptions& options) {
  std::vector<std::uint64_t> indices;
  for (std::uint64_t i = options.shard.index - 1; i < options.seeds; i += options.shard.count)
    indices.push_back(i);
  return indices;
}

// What the workers share. Only the lowest failing outcome is kept whole: a
// buggy configuration may fail every seed of a long sweep.
struct SweepState {
  std::mutex mutex;
  std::condition_variable finished;
  std::vector<FailureClass> results;  // by position in the shard
  std::vector<bool> done;
  std::optional<RunOutcome> first_failure;
  std::optional<std::size_t> first_failure_position;
  std::exception_ptr error;  // a UsageError or a bug: rethrown on the calling thread
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> stop_after{SIZE_MAX};  // no position beyond it is started
};

void run_position(SweepState& state, std::size_t position, std::uint64_t seed, const Scenario& scenario,
                  ConfigKind config, const RunSettings& settings, bool stop_at_first_failure) {
  RunOutcome outcome = run_seed(scenario, config, seed, settings);
  std::lock_guard lock(state.mutex);
  state.results[position] = outcome.failure;
  state.done[position] = true;
  if (outcome.failed() && (!state.first_failure_position || position < *state.first_failure_position)) {
    state.first_failure_position = position;
    state.first_failure = std::move(outcome);
    if (stop_at_first_failure) state.stop_after = std::min<std::size_t>(state.stop_after, position);
  }
  state.finished.notify_all();
}

void worker(SweepState& state, const std::vector<std::uint64_t>& indices, const Scenario& scenario,
            ConfigKind config, const RunSettings& settings, const SweepOptions& options) {
  for (;;) {
    const std::size_t position = state.next.fetch_add(1);
    if (position >= indices.size() || position > state.stop_after.load()) return;
    try {
      run_position(state, position, options.seed_base + indices[position], scenario, config, settings,
                   options.stop_at_first_failure);
    } catch (...) {
      std::lock_guard lock(state.mutex);
      if (!state.error) state.error = std::current_exception();
      state.stop_after = 0;
      state.done[position] = true;
      state.finished.notify_all();
      return;
    }
  }
}

}  // namespace

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
  const auto wall_start = std::chrono::steady_clock::now();  // nondeterminism-ok: seeds/s reporting only
  const std::vector<std::uint64_t> indices = shard_indices(options);
  SweepState state;
  state.results.assign(indices.size(), FailureClass::none);
  state.done.assign(indices.size(), false);

  const std::uint32_t jobs =
      std::max<std::uint32_t>(1, std::min<std::uint64_t>(options.jobs, indices.size()));
  std::vector<std::thread> threads;
  if (jobs > 1) {
    for (std::uint32_t j = 0; j < jobs; ++j) {
      threads.emplace_back([&] { worker(state, indices, scenario, config, settings, options); });
    }
  }
  SweepResult result;
  result.scenario = scenario.info().name;
  result.config = config;
  // Progress and the counts, in seed order, from this thread.
  for (std::size_t position = 0; position < indices.size(); ++position) {
    if (jobs == 1) {
      run_position(state, position, options.seed_base + indices[position], scenario, config, settings,
                   options.stop_at_first_failure);
    }
    std::unique_lock lock(state.mutex);
    state.finished.wait(lock, [&] { return state.done[position] || position > state.stop_after.load(); });
    if (state.error || !state.done[position]) break;
    ++result.seeds_run;
    if (state.results[position] != FailureClass::none) {
      ++result.failures;
      result.worst = most_severe(result.worst, state.results[position]);
      result.first_seed_by_class.try_emplace(state.results[position], options.seed_base + indices[position]);
    }
    lock.unlock();
    if (options.progress) options.progress(result.seeds_run, result.failures);
    if (options.stop_at_first_failure && result.failures > 0) break;
  }
  state.stop_after = 0;
  for (std::thread& thread : threads) thread.join();
  if (state.error) std::rethrow_exception(state.error);
  if (state.first_failure) {
    result.first_failure = std::move(state.first_failure);
    result.first_failure_index = indices[*state.first_failure_position];
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start)
                       .count();  // nondeterminism-ok: reporting only
  return result;
}

}  // namespace asgisim::scenarios
