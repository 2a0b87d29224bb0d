// The command line as users meet it (issue 16): every run's first line names
// the resolved behaviour of each layer, bad combinations exit 2, and the
// reproduce line names the program as it was invoked, so it runs as printed.
// Runs ASGISIM_CLI_PATH through the shell, as a user would.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

Result shell(const std::string& command) {
  Result result;
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string last_line(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

const std::string kCli = ASGISIM_CLI_PATH;

TEST(CliEmbed, FirstLineNamesEachLayersResolvedBehaviour) {
  const Result replay = shell(kCli + " replay background-cancelled --config buggy --seed 0");
  EXPECT_NE(first_line(replay.output).find("buggy stack: starlette 0.20.4 (BaseHTTPMiddleware cancel"),
            std::string::npos)
      << replay.output;
  const Result run = shell(kCli + " run threadpool-deadlock --seeds 2 --jobs 1 --stack fastapi==0.82.0");
  const std::string line = first_line(run.output);
  EXPECT_NE(line.find("buggy stack: starlette 0.19.1"), std::string::npos) << line;
  EXPECT_NE(line.find("fixed stack: starlette 0.19.1"), std::string::npos) << line;
  EXPECT_NE(line.find("fastapi 0.82.0 (yield exits own_limiter, after_response)"), std::string::npos) << line;
}

TEST(CliEmbed, AVersionPastTheModelWarnsWithTheBehaviourItGets) {
  const Result run =
      shell(kCli + " replay background-cancelled --seed 0 --stack starlette==1.10.0 --config fixed");
  EXPECT_NE(run.output.find("warning: --stack starlette==1.10.0 is newer than 1.3.1"), std::string::npos)
      << run.output;
}

TEST(CliEmbed, BadCombinationsExitTwoWithOneLine) {
  for (const char* args :
       {" run background-cancelled --pct-depth 4", " run background-cancelled --seeds 2 --shard 3/3",
        " run background-cancelled --stack starlette==0.20",
        " run background-cancelled "
        "--stack fastapi==0.1.0"}) {
    const Result result = shell(kCli + args);
    EXPECT_EQ(result.exit_code, 2) << args << "\n" << result.output;
    EXPECT_EQ(result.output.rfind("asgisim: error: ", 0), 0U) << args << "\n" << result.output;
  }
}

TEST(CliEmbed, TheReproduceLineRunsAsPrintedThroughTheShell) {
  const Result run = shell(kCli + " run background-cancelled --config buggy --seeds 5 --jobs 1");
  ASSERT_EQ(run.exit_code, 1) << run.output;
  const std::string line = last_line(run.output);
  ASSERT_EQ(line.rfind(kCli + " replay background-cancelled ", 0), 0U) << line;
  EXPECT_EQ(shell(line).exit_code, 1) << line;
}

}  // namespace

namespace {

// 64-bit seeds and trace hashes are strings in --json: jq and JavaScript read
// numbers as doubles, which round 18446744073709551000 to ...1616.
TEST(CliEmbed, JsonCarriesSeedsAndHashesExactlyAsStrings) {
  const Result run = shell(kCli +
                           " run background-cancelled --config buggy --seeds 3 --jobs 1 --json "
                           "--seed-base 18446744073709551000 2>/dev/null");
  EXPECT_NE(run.output.find("\"seed_base\":\"18446744073709551000\""), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\"seed\":\"18446744073709551000\""), std::string::npos) << run.output;
  const Result replay = shell(kCli + " replay background-cancelled --seed 0 --json 2>/dev/null");
  EXPECT_NE(replay.output.find("\"trace_hash\":\"0x"), std::string::npos) << replay.output;
}

}  // namespace

namespace {

// threadpool-deadlock's buggy sweep finds an invariant at seed 3 and a
// deadlock at seed 15: the exit code is the deadlock's, and so must be the
// seed the last line names (it named seed 3, which replays with exit 1).
TEST(CliEmbed, TheLastLineReproducesTheMostSevereClassAndWantPicksAnother) {
  const std::string sweep = kCli + " run threadpool-deadlock --config buggy --seeds 20 --jobs 1";
  const Result run = shell(sweep);
  ASSERT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("  reproduce deadlock (exit 3): "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("  reproduce invariant (exit 1): "), std::string::npos) << run.output;
  EXPECT_EQ(shell(last_line(run.output)).exit_code, 3) << last_line(run.output);

  const Result want = shell(sweep + " --want invariant");
  EXPECT_EQ(want.exit_code, 3) << want.output;  // the exit code is still the most severe class
  EXPECT_EQ(shell(last_line(want.output)).exit_code, 1) << last_line(want.output);
  EXPECT_EQ(shell(sweep + " --want nothing").exit_code, 2);
}

}  // namespace

namespace {

namespace fs = std::filesystem;

std::size_t files_in(const fs::path& dir) {
  std::size_t count = 0;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    count += entry.is_regular_file() ? 1 : 0;
  }
  return count;
}

class CliFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("asgisim-cli-embed-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// --trace-dir wrote one trace per failing seed (300 seeds: 2,119 files,
// 1.9 GB); now the first 10 per sweep unless --traces-max says otherwise.
TEST_F(CliFiles, TraceDirKeepsTheFirstFailingSeedsOnly) {
  const std::string sweep =
      kCli + " run background-cancelled --config buggy --seeds 20 --jobs 1 --trace-dir ";
  const Result capped = shell(sweep + (dir_ / "default").string() + " && true");
  ASSERT_NE(capped.output.find("20 failures"), std::string::npos) << capped.output;
  EXPECT_EQ(files_in(dir_ / "default"), 10U);
  (void)shell(sweep + (dir_ / "three").string() + " --traces-max 3");
  EXPECT_EQ(files_in(dir_ / "three"), 3U);
  EXPECT_EQ(shell(sweep + (dir_ / "zero").string() + " --traces-max 0").exit_code, 2);
}

// --regressions kept each failure twice (the seed's log and its replay's),
// and its failure count mixed new seeds and replayed logs.
TEST_F(CliFiles, RegressionsStoreEachFailureOnceAndCountApart) {
  const std::string sweep =
      kCli + " run background-cancelled --config buggy --seeds 4 --jobs 1 --json --regressions " +
      (dir_ / "store").string() + " 2>/dev/null";
  const Result first = shell(sweep);
  ASSERT_EQ(first.exit_code, 1) << first.output;
  const std::size_t kept = files_in(dir_ / "store");
  EXPECT_EQ(kept, 4U);
  const Result second = shell(sweep);
  EXPECT_EQ(files_in(dir_ / "store"), kept);  // replaying them stores nothing new
  EXPECT_NE(second.output.find("\"failures\":4,"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("\"regressions_failed\":4,"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("\"regressions_replayed\":4,"), std::string::npos) << second.output;
}

// A replayed schedule said "seed 0"; it says it is a schedule, and from which seed.
TEST_F(CliFiles, AReplayedScheduleSaysSoAndNamesItsSeed) {
  const fs::path file = dir_ / "min.decisions";
  ASSERT_EQ(shell(kCli + " shrink background-cancelled --seed 2 -o " + file.string()).exit_code, 0);
  const Result replay = shell(kCli + " replay background-cancelled --schedule " + file.string());
  EXPECT_EQ(replay.exit_code, 1) << replay.output;
  EXPECT_NE(replay.output.find("[buggy] a schedule (from seed 2): FAILED"), std::string::npos)
      << replay.output;
  EXPECT_EQ(replay.output.find("seed 0"), std::string::npos) << replay.output;
}

}  // namespace
