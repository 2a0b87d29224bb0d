// Sweeps (sweep.cpp): threads and shards give the same results as one job,
// errors in a run are rethrown, and a fixed configuration passes every seed.
#include "asgisim/scenarios/engine.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "scenarios/toy_scenarios.hpp"

namespace asgisim::scenarios {
namespace {

RunSettings random_settings() { return RunSettings{.strategy = sim::Strategy::random}; }

void expect_same(const SweepResult& a, const SweepResult& b) {
  EXPECT_EQ(a.seeds_run, b.seeds_run);
  EXPECT_EQ(a.failures, b.failures);
  EXPECT_EQ(a.worst, b.worst);
  EXPECT_EQ(a.first_failure_index, b.first_failure_index);
  ASSERT_EQ(a.first_failure.has_value(), b.first_failure.has_value());
  if (a.first_failure) {
    EXPECT_EQ(a.first_failure->seed, b.first_failure->seed);
    EXPECT_EQ(a.first_failure->trace_hash, b.first_failure->trace_hash);
  }
}

TEST(Sweep, TwoJobsGiveTheSameResultAsOne) {
  toys::Coin scenario;
  for (const bool stop : {false, true}) {
    std::vector<std::uint64_t> progress_one, progress_two;
    SweepOptions options{.seeds = 64, .seed_base = 100, .jobs = 1, .stop_at_first_failure = stop};
    options.progress = [&](std::uint64_t done, std::uint64_t) { progress_one.push_back(done); };
    const SweepResult one = sweep(scenario, ConfigKind::buggy, random_settings(), options);
    options.jobs = 2;
    options.progress = [&](std::uint64_t done, std::uint64_t) { progress_two.push_back(done); };
    const SweepResult two = sweep(scenario, ConfigKind::buggy, random_settings(), options);
    expect_same(one, two);
    EXPECT_EQ(progress_one, progress_two);
    for (std::size_t i = 0; i < progress_two.size(); ++i) EXPECT_EQ(progress_two[i], i + 1);
    if (!stop) {
      EXPECT_EQ(one.seeds_run, 64u);
      EXPECT_GT(one.failures, 0u);
      EXPECT_EQ(one.worst, FailureClass::invariant);
    } else {
      EXPECT_EQ(one.failures, 1u);
      EXPECT_EQ(one.seeds_run, *one.first_failure_index + 1);
    }
    ASSERT_TRUE(one.first_failure.has_value());
    EXPECT_EQ(one.first_failure->seed, 100 + *one.first_failure_index);
  }
}

TEST(Sweep, ShardsAreDisjointAndCoverTheSweep) {
  toys::Coin scenario;
  const SweepOptions full_options{.seeds = 50, .seed_base = 7, .jobs = 2};
  const SweepResult full = sweep(scenario, ConfigKind::buggy, random_settings(), full_options);
  std::uint64_t seeds = 0, failures = 0;
  std::optional<std::uint64_t> first;
  for (std::uint32_t k = 1; k <= 3; ++k) {
    SweepOptions options = full_options;
    options.shard = {.index = k, .count = 3};
    const SweepResult part = sweep(scenario, ConfigKind::buggy, random_settings(), options);
    seeds += part.seeds_run;
    failures += part.failures;
    if (part.first_failure_index) {
      EXPECT_EQ(*part.first_failure_index % 3, k - 1);  // the shard's own indices only
      first = first ? std::min(*first, *part.first_failure_index) : *part.first_failure_index;
    }
  }
  EXPECT_EQ(seeds, full.seeds_run);
  EXPECT_EQ(failures, full.failures);
  EXPECT_EQ(first, full.first_failure_index);
}

TEST(Sweep, AnErrorInAnyRunIsRethrownAfterTheThreadsStop) {
  toys::BackgroundBehindBaseHttp scenario;
  RunSettings settings = random_settings();
  settings.stack_override = {.starlette = "0.13.0"};
  for (const std::uint32_t jobs : {1u, 2u}) {
    EXPECT_THROW(sweep(scenario, ConfigKind::fixed, settings, SweepOptions{.seeds = 8, .jobs = jobs}),
                 UsageError);
  }
  EXPECT_THROW(
      sweep(scenario, ConfigKind::fixed, random_settings(), SweepOptions{.shard = {.index = 3, .count = 2}}),
      UsageError);
}

TEST(Sweep, ParseShard) {
  EXPECT_EQ(parse_shard("3/8").index, 3u);
  EXPECT_EQ(parse_shard("3/8").count, 8u);
  EXPECT_EQ(parse_shard("1/1").count, 1u);
  for (const char* bad : {"3/2", "0/4", "4", "a/b", "1/0", "1/2/3", "/2", "2/"}) {
    EXPECT_THROW(parse_shard(bad), UsageError) << bad;
  }
  try {
    parse_shard("3/2");
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("--shard 3/2"), std::string::npos);
  }
}

TEST(Sweep, FixedConfigurationPassesEverySeed) {
  toys::BackgroundBehindBaseHttp scenario;
  const SweepResult result =
      sweep(scenario, ConfigKind::fixed, random_settings(), SweepOptions{.seeds = 40, .jobs = 2});
  EXPECT_EQ(result.failures, 0u) << (result.first_failure ? describe(*result.first_failure) : "");
  EXPECT_EQ(result.seeds_run, 40u);
}

}  // namespace
}  // namespace asgisim::scenarios
