// The report's data and page, without a browser: the trace as the page's
// JSON, the layers of the ASGI messages, and the escaping of a run's text.
#include "asgisim/report/report.hpp"

#include <gtest/gtest.h>

#include <array>
#include <nlohmann/json.hpp>
#include <tuple>
#include <vector>

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

// A trace_data() of a run with only client events: each is {record, client
// task id, kind (0 sent request, 1 response start, 2 body, 3 end,
// 4 disconnect), content, request}; tasks 2 and 3 are "client-1" and
// "client-2"; `notes` are {record, text, request} observations of the stack.
struct Client {
  std::int64_t record;
  std::int64_t task;
  std::int64_t kind;
  std::string content;
  std::int64_t request;
};
std::string made_trace(const std::vector<Client>& events, std::int64_t records,
                       const std::vector<std::tuple<std::int64_t, std::string, std::int64_t>>& notes = {}) {
  json strings = json::array({""});
  json client = json::array();
  json flat_notes = json::array();
  const auto intern = [&strings](const std::string& text) {
    strings.push_back(text);
    return strings.size() - 1;
  };
  for (const Client& e : events)
    client.insert(client.end(), {e.record, e.task, e.kind, intern(e.content), e.request});
  for (const auto& [record, text, request] : notes)
    flat_notes.insert(flat_notes.end(), {record, 2, 0, intern(text), 0, request});
  return json{{"records", records},
              {"first_record", 0},
              {"tasks", json::array({{{"id", 2}, {"name", "client-1"}}, {{"id", 3}, {"name", "client-2"}}})},
              {"strings", strings},
              {"client", client},
              {"events", flat_notes},
              {"messages", json::array()},
              {"layers", json::array()}}
      .dump();
}

// A request answered in full: sent, start, one body chunk, end.
std::vector<Client> answered(std::int64_t task, std::int64_t request, std::int64_t from, std::int64_t every) {
  std::vector<Client> out;
  const char* content[] = {"", "value 200", "value 5", "value 5"};
  for (std::int64_t kind = 0; kind < 4; ++kind)
    out.push_back({from + kind * every, task, kind, content[kind], request});
  return out;
}

// The pairs of compare_data() as {a, b, anchor}.
std::vector<std::array<std::int64_t, 3>> pairs_of(const json& compare) {
  std::vector<std::array<std::int64_t, 3>> out;
  const json& p = compare["pairs"];
  for (std::size_t k = 0; k + 4 <= p.size(); k += 4) out.push_back({p[k], p[k + 1], p[k + 2]});
  return out;
}

TEST(CompareData, TheSameClientEventsAreAlignedOneToOne) {
  const json compare = json::parse(compare_data(made_trace(answered(2, 1, 10, 5), 40),
                                                made_trace(answered(2, 1, 12, 9), 60), "buggy", "fixed"));
  using P = std::array<std::int64_t, 3>;
  EXPECT_EQ(pairs_of(compare), (std::vector<P>{{10, 12, 1}, {15, 21, 1}, {20, 30, 1}, {25, 39, 1}}));
  EXPECT_TRUE(compare["divergence"].is_null()) << compare["divergence"];
  EXPECT_EQ(compare["labels"], json::array({"buggy", "fixed"}));
}

TEST(CompareData, ARunWhoseClientNeverGetsTheEndIsWhereTheyPart) {
  std::vector<Client> buggy = answered(2, 1, 10, 5);
  buggy.pop_back();  // no end of the response: more_body=false never arrives
  const json compare = json::parse(
      compare_data(made_trace(buggy, 40), made_trace(answered(2, 1, 10, 5), 40), "buggy", "fixed"));
  EXPECT_EQ(pairs_of(compare).size(), 3U);
  const json& parting = compare["divergence"];
  EXPECT_EQ(parting["kind"], "client");
  EXPECT_EQ(parting["a"], -1);
  EXPECT_EQ(parting["b"], 25);
  EXPECT_NE(parting["text"].get<std::string>().find(
                "in the buggy run, client-1 never receives the end of the response (more_body=false)"),
            std::string::npos)
      << parting["text"];
}

TEST(CompareData, ADifferentStatusIsWhereTheyPartAndStaysAligned) {
  std::vector<Client> buggy = answered(2, 1, 10, 5);
  buggy[1].content = "value 500";
  const json compare = json::parse(
      compare_data(made_trace(buggy, 40), made_trace(answered(2, 1, 10, 5), 40), "buggy", "fixed"));
  EXPECT_EQ(pairs_of(compare).size(), 4U);
  EXPECT_EQ(compare["divergence"]["a"], 15);
  EXPECT_EQ(compare["divergence"]["b"], 15);
  EXPECT_NE(compare["divergence"]["text"].get<std::string>().find("(status 500) in the buggy run"),
            std::string::npos);
}

// Two clients answered in one order in the first run and the other order in
// the second: each client's events are matched, but only those in the same
// order in both runs anchor the axis.
TEST(CompareData, ClientsInAnotherOrderAreMatchedButOnlyTheOrderedAnchor) {
  std::vector<Client> first = answered(2, 1, 10, 1);                 // client-1: 10..13
  for (const Client& e : answered(3, 2, 20, 1)) first.push_back(e);  // client-2: 20..23
  std::vector<Client> second = answered(3, 1, 10, 1);                // client-2 first
  for (const Client& e : answered(2, 2, 20, 1)) second.push_back(e);
  const json compare = json::parse(compare_data(made_trace(first, 30), made_trace(second, 30), "a", "b"));
  const auto pairs = pairs_of(compare);
  ASSERT_EQ(pairs.size(), 8U);
  std::int64_t anchors = 0;
  std::int64_t last_b = -1;
  for (const auto& [a, b, anchor] : pairs) {
    if (anchor == 0) continue;
    ++anchors;
    EXPECT_GT(b, last_b) << "anchors out of order";
    last_b = b;
  }
  EXPECT_EQ(anchors, 4) << "one client's four events anchor; the other's cross them";
  EXPECT_TRUE(compare["divergence"].is_null());
}

TEST(CompareData, WhenTheClientsAgreeTheStacksFirstDifferenceIsNamed) {
  const json compare = json::parse(
      compare_data(made_trace(answered(2, 1, 10, 5), 40,
                              {{11, "request_started uvicorn", 1}, {22, "cancelling the task group", 1}}),
                   made_trace(answered(2, 1, 10, 5), 40,
                              {{11, "request_started uvicorn", 1}, {23, "background_started", 1}}),
                   "buggy", "fixed"));
  const json& parting = compare["divergence"];
  EXPECT_EQ(parting["kind"], "stack");
  EXPECT_EQ(parting["a"], 22);
  EXPECT_EQ(parting["b"], 23);
  EXPECT_NE(parting["text"].get<std::string>().find(
                "the buggy run has \"cancelling the task group\" (step #22), where the fixed run has "
                "\"background_started\""),
            std::string::npos)
      << parting["text"];
}

}  // namespace
}  // namespace asgisim::report::testing
