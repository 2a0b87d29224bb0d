// Tests of the asgisim command line, run as a user runs it: the built binary
// (ASGISIM_CLI_PATH) in a child process, judged by its exit code, stdout and
// stderr. The scenario used is background-cancelled: its buggy configuration
// fails within a few seeds and its fixed one passes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/cli_test_support.hpp"

namespace {

using namespace asgisim::cli_test_support;

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
