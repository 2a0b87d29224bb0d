// Tests of the asgisim command line, run as a user runs it: the built binary
// (ASGISIM_CLI_PATH) in a child process, judged by its exit code, stdout and
// stderr. The scenario used is background-cancelled: its buggy configuration
// fails within a few seeds and its fixed one passes.
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
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kScenario = "background-cancelled";

struct Result {
  int exit_code = -1;
  std::string out{};
  std::string err{};
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("asgisim_cli_test_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs asgisim with `args`; stdout and stderr are captured through files.
  Result run(std::vector<std::string> args) const {
    const fs::path out = dir_ / "stdout.txt";
    const fs::path err = dir_ / "stderr.txt";
    args.insert(args.begin(), ASGISIM_CLI_PATH);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(spawned, 0) << "cannot start " << ASGISIM_CLI_PATH;
    Result result;
    int status = 0;
    if (spawned == 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
      result.exit_code = WEXITSTATUS(status);
    result.out = read_file(out);
    result.err = read_file(err);
    return result;
  }

  // Runs a printed command line ("PATH/asgisim replay ...") with this binary;
  // the line names the program as it was invoked.
  Result run_printed(const std::string& command) const {
    std::vector<std::string> words = split_words(command);
    EXPECT_FALSE(words.empty());
    EXPECT_EQ(words.front(), ASGISIM_CLI_PATH) << command;
    words.erase(words.begin());
    return run(words);
  }

  static std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    for (const std::string& line : lines(text)) out.push_back(json::parse(line));
    return out;
  }

  fs::path dir_;
};

// ---- exit codes and the reproduce line -------------------------------------

TEST_F(CliTest, FixedConfigurationPassesWithExitZero) {
  const Result result = run({"run", kScenario, "--config", "fixed", "--seeds", "30", "--jobs", "1"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("passed"), std::string::npos) << result.out;
}

TEST_F(CliTest, BuggyConfigurationFailsAndItsLastLineReproducesIt) {
  const Result result = run({"run", kScenario, "--config", "buggy", "--seeds", "50", "--jobs", "1"});
  ASSERT_TRUE(result.exit_code == 1 || result.exit_code == 3 || result.exit_code == 4)
      << result.out << result.err;
  // First line on stderr: the seeds, strategy and options of the run.
  const std::string first = lines(result.err).at(0);
  EXPECT_NE(first.find("seeds 0..49"), std::string::npos) << first;
  EXPECT_NE(first.find("strategy random"), std::string::npos) << first;
  // Last line: the exact command; running it fails the same way.
  const std::string last = lines(result.out).back();
  ASSERT_EQ(last.rfind(std::string(ASGISIM_CLI_PATH) + " replay " + kScenario, 0), 0U) << result.out;
  const Result replay = run_printed(last);
  EXPECT_EQ(replay.exit_code, result.exit_code) << replay.out << replay.err;
  // A failure report names the invariant and the layer.
  EXPECT_NE(replay.out.find("FAILED"), std::string::npos) << replay.out;
}

TEST_F(CliTest, ADeadlockExitsThreeAndShowsTheWaitForGraph) {
  // body-read-twice's buggy stack (#847) hangs: the endpoint waits for a body
  // that dispatch already consumed.
  const Result result = run({"run", "body-read-twice", "--config", "buggy", "--seeds", "5", "--fail-fast"});
  EXPECT_EQ(result.exit_code, 3) << result.out;
  EXPECT_NE(result.out.find("invariant: no-deadlock"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("waits on"), std::string::npos) << "the wait-for graph\n" << result.out;
  EXPECT_EQ(run_printed(lines(result.out).back()).exit_code, 3);
}

TEST_F(CliTest, AnExhaustedTimeBudgetExitsFourAndTheReproduceLineKeepsIt) {
  const Result result = run({"run", kScenario, "--config", "fixed", "--seed", "1", "--max-time", "0.000001"});
  EXPECT_EQ(result.exit_code, 4) << result.out;
  const std::string last = lines(result.out).back();
  EXPECT_NE(last.find("--max-time 0.000001"), std::string::npos) << last;
  EXPECT_EQ(run_printed(last).exit_code, 4);
}

TEST_F(CliTest, ExitCodeIsTheMostSevereClassOfAllSweeps) {
  const Result result = run({"run", "all", "--config", "buggy", "--seeds", "10", "--json", "--jobs", "2"});
  int worst_exit = 0;
  const auto severity = [](int code) {  // 5 over 3 over 4 over 1 over 0
    switch (code) {
      case 5:
        return 4;
      case 3:
        return 3;
      case 4:
        return 2;
      case 1:
        return 1;
      default:
        return 0;
    }
  };
  for (const json& line : json_lines(result.out)) {
    const int code = line.at("exit_code").get<int>();
    if (severity(code) > severity(worst_exit)) worst_exit = code;
  }
  EXPECT_NE(worst_exit, 0) << "some buggy configuration should fail within 10 seeds\n" << result.out;
  EXPECT_EQ(result.exit_code, worst_exit) << result.out << result.err;
}

TEST_F(CliTest, CatalogueExitsZeroOnlyWhenEveryBuggyFailedAndEveryFixedPassed) {
  const Result result = run({"catalogue", "--fixed-seeds", "3", "--json"});
  const std::vector<json> objects = json_lines(result.out);
  const Result list = run({"list"});
  ASSERT_EQ(objects.size(), 2 * lines(list.out).size()) << result.out;
  bool as_expected = true;
  for (const json& object : objects) {
    const bool failed = object.at("failures").get<int>() > 0;
    if (object.at("config") == "buggy") {
      EXPECT_EQ(object.at("expected"), "fail");
      EXPECT_LE(object.at("seeds_run").get<int>(), 100);
      if (failed) {
        EXPECT_EQ(object.at("seeds_run"), object.at("seed_index").get<int>() + 1) << object.dump();
      }
      as_expected &= failed;
    } else {
      EXPECT_EQ(object.at("expected"), "pass");
      EXPECT_EQ(object.at("seeds_run"), 3);
      as_expected &= !failed;
    }
  }
  EXPECT_EQ(result.exit_code, as_expected ? 0 : 1) << result.err;
  EXPECT_NE(result.err.find("scenario "), std::string::npos) << "the table goes to stderr with --json";
}

// ---- bad input: exit 2 and one clear message --------------------------------

struct BadInput {
  std::vector<std::string> args;
  std::string message;  // must appear in the error line
};

TEST_F(CliTest, BadInputExitsTwoWithOneMessageNamingTheProblem) {
  const fs::path not_a_directory = dir_ / "plain-file";
  std::ofstream(not_a_directory) << "x";
  const fs::path corrupted = dir_ / "corrupted.decisions";
  std::ofstream(corrupted)
      << "asgisim-decisions 1\ntool-version 0.1.0\ndecisions 2\nsched.pick scheduler 2 7\n";
  const std::vector<BadInput> cases = {
      {{"run", "no-such-scenario"}, "unknown scenario 'no-such-scenario'"},
      {{"run", "backgroud-cancelled"}, "did you mean 'background-cancelled'"},
      {{"run", kScenario, "--seed", "abc"}, "malformed --seed 'abc'"},
      {{"run", kScenario, "--seed", "18446744073709551616"}, "malformed --seed"},
      {{"run", kScenario, "--seed-base", "12x"}, "malformed --seed-base '12x'"},
      {{"run", kScenario, "--shard", "3/2"}, "3/2"},
      {{"run", kScenario, "--shard", "x"}, "--shard"},
      {{"run", kScenario, "--seeds", "0"}, "bad --seeds '0'"},
      {{"run", kScenario, "--seeds", "10", "--seed", "3"}, "--seed"},
      {{"run", kScenario, "--jobs", "0"}, "bad --jobs '0'"},
      {{"run", kScenario, "--pct-depth", "0"}, "bad --pct-depth '0'"},
      {{"run", kScenario, "--max-time", "soon"}, "bad --max-time 'soon'"},
      {{"run", kScenario, "--strategy", "lifo"}, "bad --strategy 'lifo'"},
      {{"run", kScenario, "--config", "broken"}, "bad --config 'broken'"},
      {{"run", kScenario, "--stack", "django==4.2"}, "django"},
      {{"run", kScenario, "--junit", (not_a_directory / "report.xml").string()}, "cannot write --junit"},
      {{"run", kScenario, "--trace-dir", (not_a_directory / "traces").string()}, "--trace-dir"},
      {{"run", kScenario, "--no-such-option"}, "--no-such-option"},
      {{"replay", kScenario}, "--seed S or --schedule FILE"},
      {{"replay", kScenario, "--schedule", corrupted.string()}, "bad --schedule file"},
      {{"replay", kScenario, "--schedule", (dir_ / "missing.decisions").string()}, "missing.decisions"},
      {{"replay", kScenario, "--seed", "1", "--config", "both"}, "one configuration"},
      {{"shrink", kScenario, "--seed", "1", "-o", (not_a_directory / "x").string()}, "cannot write -o"},
      {{"trace", kScenario, "--seed", "1", "-o", (not_a_directory / "x.json").string()}, "cannot write -o"},
      {{"trace", kScenario, "-o", (dir_ / "x.json").string()}, "--seed"},
      {{"catalogue", "--fixed-seeds", "0"}, "bad --fixed-seeds '0'"},
      {{}, "subcommand"},
  };
  for (const BadInput& bad : cases) {
    std::string shown;
    for (const std::string& arg : bad.args) shown += arg + " ";
    const Result result = run(bad.args);
    EXPECT_EQ(result.exit_code, 2) << shown << "\n" << result.err;
    const std::vector<std::string> err_lines = lines(result.err);
    ASSERT_EQ(err_lines.size(), 1U) << shown << "\n" << result.err;
    EXPECT_NE(err_lines[0].find("error"), std::string::npos) << shown << "\n" << result.err;
    EXPECT_NE(err_lines[0].find(bad.message), std::string::npos) << shown << "\n" << result.err;
    EXPECT_TRUE(result.out.empty()) << shown << "\n" << result.out;
  }
}

TEST_F(CliTest, ShrinkOfAPassingSeedIsBadInput) {
  const Result result =
      run({"shrink", kScenario, "--config", "fixed", "--seed", "1", "-o", (dir_ / "min.decisions").string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("does not fail"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "min.decisions"));
}

// ---- --json -----------------------------------------------------------------

TEST_F(CliTest, JsonHasOneObjectPerScenarioAndConfigurationWithTheFirstFailure) {
  const Result result = run({"run", kScenario, "--seeds", "40", "--json", "--jobs", "1"});
  const std::vector<json> objects = json_lines(result.out);
  ASSERT_EQ(objects.size(), 2U) << result.out;
  for (const json& object : objects) {
    for (const char* field : {"scenario", "config", "seeds_run", "failures", "seeds_per_second"}) {
      EXPECT_TRUE(object.contains(field)) << field << " in " << object.dump();
    }
    EXPECT_EQ(object.at("scenario"), kScenario);
    EXPECT_EQ(object.at("seeds_run"), 40);
  }
  const json& buggy = objects[0];
  EXPECT_EQ(buggy.at("config"), "buggy");
  ASSERT_GT(buggy.at("failures").get<int>(), 0) << buggy.dump();
  for (const char* field : {"seed", "seed_index", "invariant", "reproduce"}) {
    EXPECT_TRUE(buggy.contains(field)) << field << " in " << buggy.dump();
  }
  EXPECT_EQ(buggy.at("seed"), std::to_string(buggy.at("seed_index").get<std::uint64_t>()));  // seed base 0
  const json& fixed = objects[1];
  EXPECT_EQ(fixed.at("config"), "fixed");
  EXPECT_EQ(fixed.at("failures"), 0) << fixed.dump();
  EXPECT_FALSE(fixed.contains("reproduce"));
  // The reproduce command replays the first failing seed to the same invariant.
  const Result replay = run_printed(buggy.at("reproduce").get<std::string>() + " --json");
  const std::vector<json> replayed = json_lines(replay.out);
  ASSERT_EQ(replayed.size(), 1U) << replay.out;
  EXPECT_EQ(replayed[0].at("invariant"), buggy.at("invariant"));
}

TEST_F(CliTest, SeedBaseOffsetsTheSeedsAndRandomIsPrinted) {
  const Result based =
      run({"run", kScenario, "--config", "buggy", "--seeds", "40", "--seed-base", "1000", "--json"});
  const json object = json_lines(based.out).at(0);
  ASSERT_TRUE(object.contains("seed")) << object.dump();
  EXPECT_EQ(object.at("seed"), std::to_string(1000 + object.at("seed_index").get<std::uint64_t>()));
  EXPECT_EQ(object.at("seed_base"), "1000");
  const Result random = run({"run", kScenario, "--config", "fixed", "--seeds", "2", "--seed-base", "random"});
  EXPECT_NE(lines(random.err).at(0).find("picked at random (pass --seed-base "), std::string::npos)
      << random.err;
}

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

// ---- list and help ----------------------------------------------------------------

TEST_F(CliTest, ListShowsOneLinePerScenarioAndHelpExplainsEveryCommand) {
  const Result list = run({"list"});
  EXPECT_EQ(list.exit_code, 0);
  bool listed = false;
  for (const std::string& line : lines(list.out)) listed |= line.rfind(std::string(kScenario) + " ", 0) == 0;
  EXPECT_TRUE(listed) << list.out;
  const Result invariants = run({"list", "--invariants"});
  EXPECT_NE(invariants.out.find("background-complete"), std::string::npos) << invariants.out;
  const Result help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"list", "catalogue", "run", "replay", "shrink", "trace", "Exit codes"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
  }
  const Result run_help = run({"run", "--help"});
  for (const char* option :
       {"--config", "--seeds", "--seed", "--seed-base", "--strategy", "--pct-depth", "--jobs", "--shard",
        "--max-time", "--stack", "--regressions", "--junit", "--trace-dir", "--json"}) {
    EXPECT_NE(run_help.out.find(option), std::string::npos) << option;
  }
  const Result replay_help = run({"replay", "--help"});
  for (const char* option : {"--schedule", "--trace", "--timeline"}) {
    EXPECT_NE(replay_help.out.find(option), std::string::npos) << option;
  }
}

}  // namespace
