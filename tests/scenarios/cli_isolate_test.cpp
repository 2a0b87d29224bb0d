// --isolate (issue 20): each seed in a worker process, so that a run that
// crashes (a segfault or a failed assertion in a user's C++ scenario) is
// reported with its seed and reproduce line and the sweep goes on. The
// crashing scenarios are registered only in this test's own command line,
// crashing_cli (ASGISIM_CRASHING_CLI_PATH); results and files of the
// catalogue's sweeps are compared with the in-process default (ASGISIM_CLI_PATH).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/cli_process.hpp"

namespace {

namespace fs = std::filesystem;
using asgisim::testing_cli::Child;
using asgisim::testing_cli::cpu_ticks;
using asgisim::testing_cli::descendants_of;
using asgisim::testing_cli::Exit;
using asgisim::testing_cli::proc_stat;
using asgisim::testing_cli::read_text;
using asgisim::testing_cli::text_lines;
using nlohmann::json;

constexpr auto kTimeout = std::chrono::seconds(120);
const std::string kCrashingCli = ASGISIM_CRASHING_CLI_PATH;

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer reports a segfault itself and exits 1: the worker's death
// is then "exited with status 1", not a signal.
constexpr bool kSignalsAreAsans = true;
#else
constexpr bool kSignalsAreAsans = false;
#endif

// How many processes have `parent` as their parent (from /proc/*/stat).
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

class CliIsolateTest : public asgisim::testing_cli::TempDirTest {
 protected:
  CliIsolateTest() : TempDirTest("asgisim_cli_isolate_") {}

  struct Finished {
    Exit exit;
    std::string out;
    std::string err;
  };
  Finished run(const std::string& binary, std::vector<std::string> args, const std::string& name) {
    const fs::path dir = dir_ / name;
    fs::create_directories(dir);
    Child child(binary, std::move(args), dir);
    const Exit exit = child.wait(kTimeout);
    return {exit, child.out(), child.err()};
  }
};

TEST_F(CliIsolateTest, EachCrashIsReportedWithItsSeedAndTheSweepGoesOn) {
  const fs::path junit = dir_ / "out.xml";
  const Finished isolated = run(kCrashingCli,
                                {"run", "crash-sometimes", "--config", "buggy", "--seeds", "40", "--jobs",
                                 "2", "--isolate", "--json", "--junit", junit.string()},
                                "isolated");
  ASSERT_TRUE(isolated.exit.exited) << isolated.err;
  EXPECT_EQ(isolated.exit.code, 1) << isolated.err;  // the failures found: a task's exception nobody received
  const json line = json::parse(text_lines(isolated.out).at(0));
  EXPECT_EQ(line.at("seeds_run"), 40);
  EXPECT_EQ(line.at("end"), "completed");
  EXPECT_GT(line.at("failures").get<int>(), 0);
  const json& crashed = line.at("crashed");
  ASSERT_GE(crashed.size(), 2U) << line.dump();
  EXPECT_EQ(line.at("crashes").get<std::size_t>(), crashed.size());
  std::set<std::string> how;
  const std::string xml = read_text(junit);
  for (const json& entry : crashed) {
    const std::string seed = entry.at("seed");
    how.insert(entry.at("how").get<std::string>());
    const std::string reproduce = entry.at("reproduce");
    EXPECT_EQ(reproduce,
              kCrashingCli + " replay crash-sometimes --config buggy --strategy random --seed " + seed);
    EXPECT_NE(isolated.err.find("asgisim: seed " + seed + " of crash-sometimes (buggy) " +
                                entry.at("how").get<std::string>() + " in its worker process"),
              std::string::npos)
        << isolated.err;
    EXPECT_NE(xml.find("seed " + seed + " " + entry.at("how").get<std::string>()), std::string::npos) << xml;
  }
  if (!kSignalsAreAsans) {
    EXPECT_EQ(how, (std::set<std::string>{"crashed with SIGSEGV", "crashed with SIGABRT"}));
  }
  // The reproduce line crashes the same way.
  std::vector<std::string> replay = words(crashed.at(0).at("reproduce"));
  replay.erase(replay.begin());
  const Finished again = run(kCrashingCli, replay, "replay");
  if (!kSignalsAreAsans) {
    EXPECT_FALSE(again.exit.exited) << again.err;
    EXPECT_EQ("crashed with " + std::string(again.exit.code == SIGSEGV ? "SIGSEGV" : "SIGABRT"),
              crashed.at(0).at("how"));
  }
  // Without --isolate (the default, unchanged) the first crash ends the sweep,
  // naming the lowest crashing seed.
  const Finished in_process =
      run(kCrashingCli, {"run", "crash-sometimes", "--config", "buggy", "--seeds", "40", "--jobs", "1"},
          "default");
  EXPECT_FALSE(in_process.exit.exited && in_process.exit.code != 1) << in_process.err;
  if (!kSignalsAreAsans) {
    EXPECT_FALSE(in_process.exit.exited) << in_process.err;
    EXPECT_NE(
        in_process.err.find(" while running seed " + crashed.at(0).at("seed").get<std::string>() + " of "),
        std::string::npos)
        << in_process.err;
  }
}

TEST_F(CliIsolateTest, ResultsAndKeptFilesAreTheSameAsInProcess) {
  std::vector<json> lines;
  for (const bool isolate : {false, true}) {
    const std::string name = isolate ? "isolated" : "in-process";
    std::vector<std::string> args = {"run",
                                     "background-cancelled",
                                     "--config",
                                     "both",
                                     "--seeds",
                                     "30",
                                     "--jobs",
                                     "2",
                                     "--json",
                                     "--regressions",
                                     (dir_ / name / "store").string()};
    if (isolate) args.push_back("--isolate");
    const Finished finished = run(ASGISIM_CLI_PATH, args, name);
    ASSERT_TRUE(finished.exit.exited) << finished.err;
    EXPECT_EQ(finished.exit.code, 1) << finished.err;
    for (const std::string& text : text_lines(finished.out)) {
      json line = json::parse(text);
      line.erase("seconds");
      line.erase("seeds_per_second");
      lines.push_back(line);
    }
  }
  ASSERT_EQ(lines.size(), 4U);
  EXPECT_EQ(lines[0], lines[2]);
  EXPECT_EQ(lines[1], lines[3]);
  // The decision logs kept are byte for byte the same (each decoded from its worker).
  const fs::path a = dir_ / "in-process" / "store";
  const fs::path b = dir_ / "isolated" / "store";
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    EXPECT_EQ(read_text(entry.path()), read_text(b / fs::relative(entry.path(), a))) << entry.path();
  }
  EXPECT_EQ(files, 30U);  // every buggy seed fails; the fixed ones pass
}

// crashing_cli's spin-forever with --isolate and two jobs in `dir`, once
// both workers (forked by the pool's fork server) are running a seed: they
// burn CPU (the server, and a worker waiting for a seed, use none). Returns
// the processes below the command at that moment.
std::vector<pid_t> start_spinning_workers(const fs::path& dir, std::optional<Child>& child) {
  fs::create_directories(dir);
  child.emplace(kCrashingCli,
                std::vector<std::string>{"run", "spin-forever", "--config", "buggy", "--seeds", "10",
                                         "--jobs", "2", "--isolate", "--json"},
                dir);
  std::vector<pid_t> below;
  const bool spinning = child->wait_until(
      [&] {
        below = descendants_of(child->pid());
        return std::count_if(below.begin(), below.end(), [](pid_t pid) { return cpu_ticks(pid) >= 10; }) == 2;
      },
      kTimeout);
  EXPECT_TRUE(spinning) << child->err();
  return spinning ? below : std::vector<pid_t>{};
}

TEST_F(CliIsolateTest, ASignalAbandonsTheWorkersInFlightAfterTheGracePeriod) {
  std::optional<Child> started;
  ASSERT_FALSE(start_spinning_workers(dir_ / "spin", started).empty());
  Child& child = *started;
  const auto signalled = std::chrono::steady_clock::now();
  child.signal(SIGTERM);
  const Exit exit = child.wait(kTimeout);
  const auto waited = std::chrono::steady_clock::now() - signalled;
  ASSERT_TRUE(exit.exited) << child.err();
  EXPECT_EQ(exit.code, 143) << child.err();
  EXPECT_GE(waited, std::chrono::milliseconds(1900));  // the runs in flight had their 2 s
  const json line = json::parse(text_lines(child.out()).at(0));
  EXPECT_EQ(line.at("end"), "interrupted");
  EXPECT_EQ(line.at("seeds_run"), 0);
  EXPECT_EQ(line.at("runs_abandoned"), 2);
}

TEST_F(CliIsolateTest, AKilledCommandTakesItsWorkersWithIt) {
  // SIGKILL leaves the command no time to kill anything: its fork server and
  // workers must go by themselves, even a worker in a run that never ends.
  std::optional<Child> started;
  const std::vector<pid_t> below = start_spinning_workers(dir_ / "killed", started);
  ASSERT_FALSE(below.empty());
  Child& child = *started;
  child.signal(SIGKILL);
  child.wait(kTimeout);
  const auto alive = [](pid_t pid) {
    const std::vector<std::string> fields = proc_stat("/proc/" + std::to_string(pid) + "/stat");
    return !fields.empty() && fields[0] != "Z";
  };
  EXPECT_TRUE(child.wait_until([&] { return std::none_of(below.begin(), below.end(), alive); }, kTimeout))
      << below.size() << " processes of the killed command still alive";
}

}  // namespace
