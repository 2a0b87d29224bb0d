// The HTML report in a real browser: headless Chromium loads each kind of
// report from disk with no network, and the tests read the DOM its scripts
// built. Skipped when no Chromium is installed. The pages stay in the build
// tree (tests/report/pages/) for a look; a screenshot of each kind of report
// (run, deadlock, compare, sweep) goes to <build>/artifacts/screenshots/,
// which CI keeps as an artifact.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/html_report.hpp"
#include "report/browser.hpp"
#include "report/report_runs.hpp"

namespace asgisim::report::testing {
namespace {

class ReportInBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::optional<std::string> found = find_chromium();
    if (!found) GTEST_SKIP() << "no chromium on the PATH (Debian: apt-get install chromium)";
    chromium_ = *found;
    std::filesystem::create_directories(dir_);
  }

  std::filesystem::path write(const std::string& name, const std::string& page) const {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << page;
    return path;
  }

  // Takes a screenshot of `page` as <screenshots>/<name>.png and checks it
  // is a real PNG of a drawn window.
  void screenshot(const std::filesystem::path& page, const std::string& name) const {
    std::filesystem::create_directories(ASGISIM_SCREENSHOTS);
    const std::filesystem::path shot = std::filesystem::path(ASGISIM_SCREENSHOTS) / (name + ".png");
    std::filesystem::remove(shot);
    EXPECT_TRUE(load(chromium_, page, shot).ok) << "chromium failed on " << page;
    EXPECT_EQ(png_problem(shot), "");
  }

  Loaded open(const std::filesystem::path& page) const {
    Loaded loaded = load(chromium_, page);
    EXPECT_TRUE(loaded.ok) << "chromium failed on " << page;
    EXPECT_NE(loaded.dom.find("data-ready=\"yes\""), std::string::npos) << "the page's script did not finish";
    return loaded;
  }

  std::string chromium_;
  std::filesystem::path dir_ = std::filesystem::path(ASGISIM_REPORT_PAGES);
};

// Every task has its lane, the verdict names the invariant and the blamed
// layer, the violation is marked on the timeline, and a deadlock's cycle is
// drawn: for the first failure of every catalogue scenario.
TEST_F(ReportInBrowser, FirstFailureOfEveryCatalogueScenario) {
  scenarios::RunSettings settings{.strategy = sim::Strategy::random, .keep_trace = true, .keep_report = true};
  int deadlocks = 0;
  std::size_t scenarios_shown = 0;
  for (const scenarios::Scenario* scenario : scenarios::built_in_catalogue().all()) {
    const std::string name = scenario->info().name;
    scenarios::RunSettings quiet = settings;
    quiet.keep_trace = quiet.keep_report = false;
    const scenarios::SweepResult sweep = scenarios::sweep(*scenario, scenarios::ConfigKind::buggy, quiet,
                                                          {.seeds = 500, .stop_at_first_failure = true});
    if (!sweep.first_failure) continue;  // a bug that needs more seeds than a browser test affords
    ++scenarios_shown;
    SCOPED_TRACE(name);
    const std::optional<scenarios::RunOutcome> failing =
        scenarios::run_seed(*scenario, scenarios::ConfigKind::buggy, sweep.first_failure->seed, settings);
    ASSERT_TRUE(failing->failed());
    const auto page = write(name + ".html", scenarios::html_report({*failing}, settings));
    const Loaded loaded = open(page);
    const std::string& dom = loaded.dom;
    const std::size_t tasks = count(failing->report_trace, "\"name\":");
    EXPECT_GE(count(dom, "class=\"lane-label task\""), 2U);
    EXPECT_EQ(count(dom, "class=\"lane-label task\""), tasks) << "one lane per task";
    EXPECT_NE(dom.find(fmt::format("data-invariant=\"{}\"", failing->invariant)), std::string::npos);
    EXPECT_NE(dom.find("class=\"verdict failed\""), std::string::npos);
    EXPECT_NE(dom.find("class=\"violation-marker\""), std::string::npos);
    if (failing->failure == scenarios::FailureClass::deadlock) {
      ++deadlocks;
      EXPECT_NE(dom.find("data-layout=\"dagre\""), std::string::npos)
          << "the graph layout library was not bundled";
      EXPECT_GE(count(dom, "class=\"node"), 1U) << "the wait-for graph is not drawn";
      // A deadlock need not be a cycle (a task waiting on what nobody will
      // ever set); when the kernel's report names one, the page draws it.
      if (failing->report.find("cycle:") != std::string::npos) {
        EXPECT_TRUE(std::regex_search(dom, std::regex("data-cycle=\"[0-9]+(,[0-9]+)+\"")))
            << "no cycle found";
        EXPECT_GE(count(dom, "class=\"edge in-cycle\""), 2U) << "the cycle's edges are not drawn";
        EXPECT_GE(count(dom, "class=\"node in-cycle\""), 2U);
      }
    }
    if (name == "background-cancelled") screenshot(page, "run-view");
    // `--compare fixed` of this failure names where the runs part (the fix
    // changes what a client sees, or what the stack does with a request).
    const scenarios::RunOutcome fixed =
        scenarios::run_seed(*scenario, scenarios::ConfigKind::fixed, sweep.first_failure->seed, settings);
    const nlohmann::json compare =
        nlohmann::json::parse(compare_data(failing->report_trace, fixed.report_trace, "buggy", "fixed"));
    EXPECT_FALSE(compare["divergence"].is_null()) << "the compared runs do not part: " << compare["summary"];
  }
  EXPECT_GE(deadlocks, 1) << "the catalogue's deadlock scenarios did not deadlock";
  EXPECT_GE(scenarios_shown + 1, scenarios::built_in_catalogue().all().size()) << "too few scenarios failed";
  std::cout << fmt::format("[ measured ] first failures of {} scenarios shown\n", scenarios_shown);
}

// A deadlock of two tasks taking two locks in opposite orders: the wait-for
// graph is drawn by the bundled layout library, the cycle marked.
TEST_F(ReportInBrowser, DeadlockCycleIsDrawn) {
  const MadeRun run = deadlock_run();
  const auto page = write("deadlock.html", html_page({run_data(run.info, run.trace)}, "deadlock"));
  const Loaded loaded = open(page);
  const std::string& dom = loaded.dom;
  EXPECT_NE(dom.find("data-layout=\"dagre\""), std::string::npos)
      << "the graph layout library was not bundled";
  EXPECT_NE(dom.find("data-cycle=\"1,2\""), std::string::npos) << "the cycle was not found";
  EXPECT_EQ(count(dom, "class=\"edge in-cycle\""), 2U) << "the cycle's edges are not drawn";
  EXPECT_EQ(count(dom, "class=\"node in-cycle\""), 2U);
  EXPECT_NE(dom.find("waits on anyio.Lock 'cache'"), std::string::npos);
  screenshot(page, "deadlock-view");
}

// The sweep view of `asgisim run --html`: a row per scenario and
// configuration, the first failing seed linked to its run, which is drawn.
TEST_F(ReportInBrowser, SweepViewLinksTheFirstFailure) {
  const auto page = dir_ / "sweep.html";
  const std::string command =
      fmt::format("'{}' run background-cancelled --seeds 20 --html '{}' >/dev/null 2>&1", ASGISIM_CLI_PATH,
                  page.string());
  ASSERT_EQ(WEXITSTATUS(std::system(command.c_str())), 1) << command;
  const Loaded loaded = open(page);
  const std::string& dom = loaded.dom;
  EXPECT_EQ(count(dom, "data-scenario=\"background-cancelled\""), 2U) << "one row per configuration";
  EXPECT_NE(dom.find("href=\"#run-0\""), std::string::npos) << "no link to the first failure's run";
  EXPECT_NE(dom.find("id=\"run-0\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"violation-marker\""), std::string::npos);
  screenshot(page, "sweep-view");
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The compare view's `anchors` markers of matched client events, each at
// one x on the page (within a pixel) in both runs.
void expect_aligned(const std::string& dom, std::size_t anchors) {
  std::map<int, std::array<double, 2>> marks;  // [pair] -> x on the page in run 0 and run 1
  const std::regex mark(
      R"re(class="client-mark" data-pair="([0-9]+)" data-run="([01])" data-page-x="([-0-9.]+)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), mark); it != std::sregex_iterator(); ++it) {
    marks[std::stoi((*it)[1])][static_cast<std::size_t>(std::stoi((*it)[2]))] = std::stod((*it)[3]);
  }
  EXPECT_EQ(marks.size(), anchors) << "a marker per anchor";
  for (const auto& [pair, x] : marks) {
    EXPECT_NEAR(x[0], x[1], 1.0) << "client event " << pair << " is not aligned";
    EXPECT_GT(x[0], 0.0);
  }
}

// `replay --compare fixed`: the same seed under the buggy and the fixed
// configuration, one above the other on one axis aligned on the client's
// events: every matched client event that anchors the axis is at the same x
// (within a pixel) in both runs, and the place where the runs part is marked
// in both. background-cancelled's client sees the same in both runs (they
// part inside the stack, where the task group is cancelled); body-read-twice's
// buggy client never gets its response (they part at the client);
// completion-delayed's runs do the same work in another order, and its client
// waits 970 ms longer in the buggy run (checked on the virtual-time axis too).
TEST_F(ReportInBrowser, CompareAlignsTheRunsOnTheClientsEvents) {
  scenarios::RunSettings settings{.strategy = sim::Strategy::random, .keep_trace = true, .keep_report = true};
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"background-cancelled", "stack", "cancelling the task group"},
      {"body-read-twice", "client", "in the buggy run, client-1 never receives the response start"},
      {"completion-delayed", "stack", "\"background_started BackgroundTask\" comes in another order"}};
  for (const auto& [name, kind, parting] : cases) {
    SCOPED_TRACE(name);
    const scenarios::Scenario& scenario = *scenarios::built_in_catalogue().find(name);
    const scenarios::RunOutcome buggy =
        scenarios::run_seed(scenario, scenarios::ConfigKind::buggy, 0, settings);
    const scenarios::RunOutcome fixed =
        scenarios::run_seed(scenario, scenarios::ConfigKind::fixed, 0, settings);
    ASSERT_TRUE(buggy.failed());
    ASSERT_FALSE(fixed.failed());
    const auto page = write("compare-" + name + ".html", scenarios::html_report({buggy, fixed}, settings));
    const std::string dom = open(page).dom;
    const std::size_t tasks = count(buggy.report_trace, "\"name\":") + count(fixed.report_trace, "\"name\":");
    EXPECT_EQ(count(dom, "class=\"lane-label task\""), tasks) << "one lane per task of each run";
    EXPECT_NE(dom.find(fmt::format("data-invariant=\"{}\"", buggy.invariant)), std::string::npos);
    const nlohmann::json compare =
        nlohmann::json::parse(compare_data(buggy.report_trace, fixed.report_trace, "buggy", "fixed"));
    std::size_t anchors = 0;
    for (std::size_t k = 2; k < compare["pairs"].size(); k += 4) anchors += compare["pairs"][k] == 1 ? 1 : 0;
    EXPECT_GE(anchors, 1U);
    expect_aligned(dom, anchors);
    EXPECT_EQ(count(dom, fmt::format("class=\"divergence-marker\" data-run=\"0\" data-kind=\"{}\"", kind)),
              1U);
    EXPECT_EQ(count(dom, fmt::format("class=\"divergence-marker\" data-run=\"1\" data-kind=\"{}\"", kind)),
              1U);
    EXPECT_NE(dom.find("class=\"divergence " + kind + "\""), std::string::npos);
    EXPECT_NE(dom.find(parting), std::string::npos) << "the parting is not described";
    if (name == "background-cancelled") screenshot(page, "compare-view");
    if (name != "completion-delayed") continue;
    // On the virtual-time axis too (the page with a click on *Axis* once
    // loaded): completion-delayed's buggy client gets the end of its first
    // response 970 ms later than the fixed one, so only the warp aligns them.
    std::string clicked = read_file(page);
    clicked.insert(clicked.rfind("</body>"),
                   "<script>for (const b of document.querySelectorAll('.toolbar button'))"
                   " if (b.textContent.startsWith('Axis')) b.click();</script>");
    const std::string by_time = open(write("compare-" + name + "-by-time.html", clicked)).dom;
    EXPECT_NE(by_time.find("Axis: linear virtual time, aligned"), std::string::npos);
    expect_aligned(by_time, anchors);
  }
}

// A run whose app sends markup in a header, a body, a layer and task name,
// and an exception: the page shows it as text and runs none of it.
TEST_F(ReportInBrowser, TextFromTheRunIsShownNeverRun) {
  const MadeRun run = injection_run();
  const auto page =
      write("injection.html", html_page({run_data(run.info, run.trace)}, "injection " + kInjection));
  const Loaded loaded = open(page);
  const std::string& dom = loaded.dom;
  EXPECT_EQ(dom.find("PWNED</title>"), std::string::npos) << "an injected script ran";
  EXPECT_EQ(dom.find("data-pwned"), std::string::npos) << "injected markup ran";
  EXPECT_NE(dom.find("&lt;/script&gt;&lt;/style&gt;&lt;script&gt;document.title='PWNED'"), std::string::npos)
      << "the markup is not shown as text";
  EXPECT_GE(count(dom, "class=\"lane-label task\""), 2U);
  EXPECT_EQ(count(dom, "class=\"lane-label layer"), 2U) << "the message's layers have no lanes";
}

// A report of a run of about 100,000 steps loads and renders in a few
// seconds; the time is printed for the record.
TEST_F(ReportInBrowser, LongRunLoadsFast) {
  const MadeRun run = long_run(20, 5'000);
  const auto page = write("long-run.html", html_page({run_data(run.info, run.trace)}, "long run"));
  const Loaded loaded = open(page);
  std::smatch render;
  ASSERT_TRUE(std::regex_search(loaded.dom, render, std::regex("data-render-ms=\"([0-9.]+)\"")));
  const double render_ms = std::stod(render[1]);
  std::cout << fmt::format(
      "[ measured ] {} steps, {:.1f} MB page: browser process {:.2f} s, page script {:.0f} ms\n",
      run.info.metadata.at("steps"), static_cast<double>(std::filesystem::file_size(page)) / 1e6,
      loaded.seconds, render_ms);
  EXPECT_EQ(count(loaded.dom, "class=\"lane-label task\""), 20U);
  EXPECT_LT(render_ms, 5'000.0) << "the page takes too long to render";
  EXPECT_LT(loaded.seconds, 30.0);
}

}  // namespace
}  // namespace asgisim::report::testing
