// The report's data and page, without a browser: the trace as the page's
// JSON, the layers of the ASGI messages, and the escaping of a run's text.
#include "asgisim/report/report.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "report/report_runs.hpp"

namespace asgisim::report::testing {
namespace {

using nlohmann::json;

TEST(EscapeForScript, NoMarkupCharacterSurvives) {
  const std::string escaped = escape_for_script(R"({"a":"</script><!-- & -->"})");
  EXPECT_EQ(escaped, R"({"a":"\u003c/script\u003e\u003c!-- \u0026 --\u003e"})");
  EXPECT_EQ(json::parse(escaped)["a"], "</script><!-- & -->");
}

TEST(TraceData, TasksMessagesAndBlocksOfARun) {
  const MadeRun run = injection_run();
  const json trace = json::parse(run.trace);
  ASSERT_EQ(trace["tasks"].size(), 2U);  // the client and the app (the main context runs no code)
  EXPECT_EQ(trace["tasks"][1]["name"], kInjection);
  EXPECT_TRUE(trace["tasks"][1]["raised"]);
  EXPECT_EQ(trace["layers"], json::array({"server", kInjection}));
  // Two messages, both sent by the app: from its layer (1) up to the server (0).
  const json& messages = trace["messages"];
  ASSERT_EQ(messages.size(), 14U);
  EXPECT_EQ(messages[2], 1);
  EXPECT_EQ(messages[3], 0);
  const json& strings = trace["strings"];
  EXPECT_EQ(strings[messages[4].get<int>()], "http.response.start");
  const std::string start_content = strings[messages[5].get<int>()];
  EXPECT_NE(start_content.find("x-evil: " + kInjection), std::string::npos) << start_content;
  EXPECT_NE(std::string(strings[messages[12].get<int>()]).find("body (" + std::to_string(kInjection.size())),
            std::string::npos);
  // The client sleeps: one blocked interval, on the sleep, never woken (the
  // app's exception ended the run first).
  const json& blocks = trace["blocks"];
  ASSERT_EQ(blocks.size(), 5U);
  EXPECT_NE(std::string(strings[blocks[3].get<int>()]).find("sleep"), std::string::npos);
  EXPECT_EQ(blocks[4], 3);
}

TEST(HtmlPage, TheRunsTextNeverEndsTheDataElement) {
  const MadeRun run = injection_run();
  const std::string page = html_page({run_data(run.info, run.trace)}, kInjection);
  const std::size_t data = page.find("<script type=\"application/json\" id=\"runs\">");
  ASSERT_NE(data, std::string::npos);
  const std::size_t end = page.find("</script>", data);
  const std::string inside = page.substr(data, end - data);
  EXPECT_EQ(inside.find('<', 1), std::string::npos) << "markup inside the data element";
  EXPECT_EQ(page.find("<script>document.title"), std::string::npos) << "the injected script is in the page";
  EXPECT_NE(page.find("<title>&lt;/script&gt;"), std::string::npos) << "the page title is not escaped";
  const json runs = json::parse(inside.substr(inside.find('>') + 1))["runs"];
  EXPECT_EQ(runs[0]["title"], "injection " + kInjection);
  EXPECT_EQ(runs[0]["failure"]["layer"], kInjection);
  EXPECT_EQ(runs[0]["trace"]["tasks"].size(), 2U);
}

TEST(HtmlPage, SelfContained) {
  const std::string page = html_page({run_data({}, "")});
  EXPECT_EQ(page.find("src=\"http"), std::string::npos);
  EXPECT_EQ(page.find("href=\"http"), std::string::npos);
  EXPECT_NE(page.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(page.find("@DATA@"), std::string::npos);
  EXPECT_NE(page.find("\"trace\":null"), std::string::npos);
}

TEST(HtmlPage, MarkersInTheRunsTextStayText) {
  RunInfo info;
  info.title = "/*@SCRIPT@*/ @DATA@";
  const std::string page = html_page({run_data(info, "")}, "@DATA@ /*@STYLE@*/ /*@LAYOUT@*/");
  EXPECT_NE(page.find("<title>@DATA@ /*@STYLE@*/ /*@LAYOUT@*/</title>"), std::string::npos);
  EXPECT_NE(page.find("\"title\":\"/*@SCRIPT@*/ @DATA@\""), std::string::npos);
}

}  // namespace
}  // namespace asgisim::report::testing
