// Tests of the asgisim command line's sweeps and outputs, run as a user runs it
// (cli_test_support.hpp): --shard and --jobs, shrink, replay, trace, timeline
// and regressions, and JUnit XML.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "scenarios/cli_test_support.hpp"

namespace {

using namespace asgisim::cli_test_support;

// ---- --shard and --jobs -------------------------------------------------------

// The failing seeds of a sweep, read from the decision logs that
// --regressions kept (each records its seed in a "seed S" header line).
std::multiset<std::string> kept_seeds(const fs::path& store) {
  std::multiset<std::string> seeds;
  if (!fs::exists(store)) return seeds;
  for (const auto& entry : fs::recursive_directory_iterator(store)) {
    if (!entry.is_regular_file()) continue;
    for (const std::string& line : lines(read_file(entry.path()))) {
      if (line.rfind("seed ", 0) == 0) seeds.insert(line.substr(5));
    }
  }
  return seeds;
}

TEST_F(CliTest, ShardsAreDisjointAndTheirUnionIsTheFullSweep) {
  constexpr int kSeeds = 30;
  const auto sweep = [&](const std::string& shard, const fs::path& store) {
    std::vector<std::string> args = {"run",    kScenario,       "--config",     "buggy",  "--seeds", "30",
                                     "--json", "--regressions", store.string(), "--jobs", "1"};
    if (!shard.empty()) args.insert(args.end(), {"--shard", shard});
    const Result result = run(args);
    return std::make_pair(json_lines(result.out).at(0), kept_seeds(store));
  };
  const auto [full, full_failing] = sweep("", dir_ / "full");
  ASSERT_FALSE(full_failing.empty()) << full.dump();
  EXPECT_EQ(full.at("failures").get<std::size_t>(), full_failing.size());
  std::multiset<std::string> union_failing;
  int seeds_run = 0;
  int failures = 0;
  for (int k = 1; k <= 4; ++k) {
    const auto [part, failing] = sweep(std::to_string(k) + "/4", dir_ / ("shard" + std::to_string(k)));
    seeds_run += part.at("seeds_run").get<int>();
    failures += part.at("failures").get<int>();
    for (const std::string& seed : failing) {
      EXPECT_EQ(union_failing.count(seed), 0U) << "seed " << seed << " failed in two shards";
      union_failing.insert(seed);
    }
    if (part.contains("seed_index")) {
      EXPECT_EQ(part.at("seed_index").get<int>() % 4, k - 1) << part.dump();
    }
  }
  EXPECT_EQ(seeds_run, kSeeds);
  EXPECT_EQ(failures, full.at("failures").get<int>());
  EXPECT_EQ(union_failing, full_failing);
}

// The JSON lines without the wall-time fields, which legitimately differ.
std::vector<json> without_timing(std::vector<json> objects) {
  for (json& object : objects) {
    object.erase("seconds");
    object.erase("seeds_per_second");
  }
  return objects;
}

TEST_F(CliTest, TwoJobsGiveTheSameResultsAsOne) {
  const auto sweep = [&](const char* jobs) {
    const Result result = run({"run", kScenario, "--seeds", "60", "--json", "--jobs", jobs});
    return std::make_pair(result.exit_code, without_timing(json_lines(result.out)));
  };
  const auto one = sweep("1");
  const auto two = sweep("2");
  EXPECT_EQ(one.first, two.first);
  ASSERT_EQ(one.second.size(), 2U);
  EXPECT_EQ(one.second, two.second) << json(one.second).dump() << "\n" << json(two.second).dump();
}

// ---- shrink, replay, trace, timeline, regressions ------------------------------

TEST_F(CliTest, ShrinkThenReplayScheduleReproducesTheFailure) {
  const Result sweep = run({"run", kScenario, "--config", "buggy", "--seeds", "50", "--json"});
  const json first = json_lines(sweep.out).at(0);
  ASSERT_TRUE(first.contains("seed")) << first.dump();
  const std::string seed = first.at("seed").get<std::string>();
  const fs::path file = dir_ / "min.decisions";
  const Result shrunk = run({"shrink", kScenario, "--config", "buggy", "--seed", seed, "-o", file.string()});
  ASSERT_EQ(shrunk.exit_code, 0) << shrunk.out << shrunk.err;
  ASSERT_TRUE(fs::exists(file));
  // The last line is the replay command; it fails the same invariant.
  const Result replay = run_printed(lines(shrunk.out).back() + " --json");
  EXPECT_EQ(replay.exit_code, first.at("exit_code").get<int>()) << replay.out << replay.err;
  const std::vector<json> replayed = json_lines(replay.out);
  ASSERT_EQ(replayed.size(), 1U) << replay.out;
  EXPECT_EQ(replayed[0].at("invariant"), first.at("invariant"));
  // A damaged copy of the same file is bad input, not a run.
  std::string text = read_file(file);
  text.resize(text.size() - 4);  // cut the trailing "end\n"
  std::ofstream(dir_ / "cut.decisions") << text;
  const Result cut = run({"replay", kScenario, "--schedule", (dir_ / "cut.decisions").string()});
  EXPECT_EQ(cut.exit_code, 2) << cut.err;
}

TEST_F(CliTest, TraceWritesChromeTraceJson) {
  const fs::path file = dir_ / "run.json";
  const Result result = run({"trace", kScenario, "--config", "buggy", "--seed", "1", "-o", file.string()});
  ASSERT_TRUE(result.exit_code == 0 || result.exit_code == 1 || result.exit_code == 3 ||
              result.exit_code == 4)
      << result.err;
  const json trace = json::parse(read_file(file));
  const json& events = trace.is_array() ? trace : trace.at("traceEvents");
  ASSERT_TRUE(events.is_array());
  EXPECT_FALSE(events.empty());
  for (const json& event : events) EXPECT_TRUE(event.contains("ph")) << event.dump();
}

TEST_F(CliTest, TraceDirKeepsOneChromeTracePerFailingSeed) {
  const fs::path traces = dir_ / "traces";
  const Result result =
      run({"run", kScenario, "--config", "buggy", "--seeds", "3", "--json", "--trace-dir", traces.string()});
  const json object = json_lines(result.out).at(0);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(traces)) {
    ++files;
    EXPECT_TRUE(json::accept(read_file(entry.path()))) << entry.path();
    EXPECT_EQ(entry.path().filename().string().rfind(std::string(kScenario) + "-buggy-seed-", 0), 0U);
  }
  EXPECT_EQ(files, object.at("failures").get<std::size_t>());
  EXPECT_GT(files, 0U);
}

TEST_F(CliTest, ReplayPrintsATimelineAndWritesATrace) {
  const fs::path file = dir_ / "replay.json";
  const Result result =
      run({"replay", kScenario, "--config", "fixed", "--seed", "2", "--timeline", "--trace", file.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_GT(lines(result.out).size(), 3U) << result.out;
  EXPECT_TRUE(json::accept(read_file(file)));
}

TEST_F(CliTest, RegressionsAreKeptAndReplayedFirst) {
  const fs::path store = dir_ / "regressions";
  const Result first = run(
      {"run", kScenario, "--config", "buggy", "--seeds", "20", "--json", "--regressions", store.string()});
  const json found = json_lines(first.out).at(0);
  ASSERT_GT(found.at("failures").get<int>(), 0);
  std::size_t kept = 0;
  for (const auto& entry : fs::recursive_directory_iterator(store)) kept += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(kept, found.at("failures").get<std::size_t>());
  // The next run replays every kept log first, even with seeds that pass.
  const Result second = run(
      {"run", kScenario, "--config", "buggy", "--seed", "999999", "--json", "--regressions", store.string()});
  const json again = json_lines(second.out).at(0);
  EXPECT_EQ(again.at("regressions_replayed").get<std::size_t>(), kept);
  EXPECT_EQ(again.at("regressions_failed").get<std::size_t>(), kept);
  EXPECT_NE(second.exit_code, 0);
}

// ---- JUnit XML -------------------------------------------------------------------

// A small well-formedness check: balanced tags, quoted attributes, only the
// predefined entities, no stray '<' or '&' in text.
bool well_formed_xml(const std::string& xml, std::string& problem) {
  std::vector<std::string> open;
  std::size_t i = 0;
  if (xml.rfind("<?xml ", 0) == 0) i = xml.find("?>") + 2;
  bool root_seen = false;
  while (i < xml.size()) {
    if (xml[i] == '&') {
      const std::size_t semicolon = xml.find(';', i);
      const std::string entity = xml.substr(i, semicolon == std::string::npos ? 0 : semicolon - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
          entity != "&apos;") {
        problem = "bad entity at " + std::to_string(i);
        return false;
      }
      i = semicolon + 1;
      continue;
    }
    if (xml[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(xml[i]))) {
        problem = "text outside the root";
        return false;
      }
      ++i;
      continue;
    }
    const std::size_t end = xml.find('>', i);
    if (end == std::string::npos) {
      problem = "unterminated tag";
      return false;
    }
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.starts_with("/")) {
      if (open.empty() || open.back() != tag.substr(1)) {
        problem = "mismatched </" + tag.substr(1) + ">";
        return false;
      }
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.ends_with("/");
    if (self_closing) tag.pop_back();
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0 || tag.find('<') != std::string::npos) {
      problem = "bad attributes in <" + tag + ">";
      return false;
    }
    if (open.empty() && root_seen) {
      problem = "two roots";
      return false;
    }
    root_seen = true;
    if (!self_closing) open.push_back(tag.substr(0, tag.find(' ')));
  }
  if (!open.empty()) problem = "unclosed <" + open.back() + ">";
  return open.empty() && root_seen;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

TEST_F(CliTest, JunitReportIsWellFormedAndCountsFailures) {
  const fs::path file = dir_ / "junit.xml";
  const Result result = run({"run", kScenario, "--seeds", "30", "--junit", file.string()});
  ASSERT_NE(result.exit_code, 2) << result.err;
  const std::string xml = read_file(file);
  std::string problem;
  EXPECT_TRUE(well_formed_xml(xml, problem)) << problem << "\n" << xml;
  EXPECT_NE(xml.find("<testsuites name=\"asgisim\" tests=\"2\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_EQ(occurrences(xml, "<testcase "), 2U) << xml;
  EXPECT_EQ(occurrences(xml, "<failure "), 1U) << xml;
  EXPECT_NE(xml.find(std::string(ASGISIM_CLI_PATH) + " replay " + kScenario), std::string::npos) << xml;
}

}  // namespace
