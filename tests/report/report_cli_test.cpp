// The command line's HTML reports: `replay --html` (with --compare), `trace
// --html` and `run --html` write one self-contained page each.
#include <string>

#include "scenarios/cli_test_support.hpp"

namespace asgisim::cli_test_support {
namespace {

// The runs' JSON a page carries.
json page_data(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"runs\">";
  const std::size_t start = page.find(open);
  EXPECT_NE(start, std::string::npos) << "no data element";
  if (start == std::string::npos) return {};
  const std::size_t end = page.find("</script>", start);
  return json::parse(page.substr(start + open.size(), end - start - open.size()));
}

TEST_F(CliTest, ReplayHtmlWritesTheRunAndComparesWithTheFix) {
  const fs::path file = dir_ / "run.html";
  const Result result =
      run({"replay", kScenario, "--seed", "0", "--html", file.string(), "--compare", "fixed"});
  EXPECT_EQ(result.exit_code, 1) << result.err;  // the buggy run's verdict
  const json data = page_data(read_file(file));
  ASSERT_EQ(data["runs"].size(), 2U);
  EXPECT_EQ(data["runs"][0]["metadata"]["config"], "buggy");
  EXPECT_EQ(data["runs"][0]["failure"]["invariant"], "background-complete");
  EXPECT_EQ(data["runs"][1]["metadata"]["config"], "fixed");
  EXPECT_EQ(data["runs"][1]["failure"]["class"], "");
  EXPECT_GE(data["runs"][0]["trace"]["tasks"].size(), 3U);
  EXPECT_TRUE(data["sweep"].is_null());
  // Aligned on the client's events: client-1's 8 events (two requests) are
  // matched; it sees the same in both runs, so they part inside the stack.
  EXPECT_EQ(data["compare"]["pairs"].size(), 4U * 8U);
  EXPECT_EQ(data["compare"]["divergence"]["kind"], "stack");
}

TEST_F(CliTest, CompareNeedsHtml) {
  const Result result = run({"replay", kScenario, "--seed", "0", "--compare", "fixed"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--html"), std::string::npos) << result.err;
}

TEST_F(CliTest, TraceWritesHtmlWithOrWithoutJson) {
  const fs::path file = dir_ / "run.html";
  const Result result = run({"trace", kScenario, "--seed", "0", "--html", file.string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(page_data(read_file(file))["runs"].size(), 1U);
  EXPECT_EQ(run({"trace", kScenario, "--seed", "0"}).exit_code, 2) << "neither -o nor --html";
}

TEST_F(CliTest, RunHtmlWritesTheSweepView) {
  const fs::path file = dir_ / "sweep.html";
  const Result result = run({"run", kScenario, "--seeds", "20", "--html", file.string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const json data = page_data(read_file(file));
  ASSERT_EQ(data["sweep"].size(), 2U);  // buggy and fixed
  const json& buggy = data["sweep"][0];
  EXPECT_EQ(buggy["config"], "buggy");
  EXPECT_EQ(buggy["seeds"], 20);
  EXPECT_GE(buggy["failures"].get<int>(), 1);
  EXPECT_EQ(buggy["failures_by"]["invariant background-complete"], buggy["failures"]);
  ASSERT_EQ(buggy["first_failures"].size(), 1U);
  EXPECT_EQ(buggy["first_failures"][0]["run"], 0);
  EXPECT_EQ(data["sweep"][1]["failures"], 0);
  ASSERT_EQ(data["runs"].size(), 1U);
  EXPECT_EQ(data["runs"][0]["metadata"]["seed"],
            std::to_string(buggy["first_failures"][0]["seed"].get<int>()));
}

}  // namespace
}  // namespace asgisim::cli_test_support
