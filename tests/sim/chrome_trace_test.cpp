// Tests of the Chrome trace-event export (chrome_trace.hpp): the JSON loads
// back with the expected events, survives unknown tasks, a truncated ring,
// invalid UTF-8 and huge values, and is written to a file.
#include "asgisim/sim/chrome_trace.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "asgisim/sim/trace.hpp"

namespace asgisim::sim {
namespace {

using nlohmann::json;

// Task 1 (server) spawns task 2 (client), runs, notes, blocks; time jumps;
// task 2 runs, decides, wakes task 1 and finishes; task 1 runs and finishes.
Trace example_trace() {
  Trace trace;
  const std::uint32_t note = trace.intern("request.start");
  trace.record({0, 0, TraceKind::run_start, 0, 0, 42});
  trace.record({0, 1, TraceKind::spawn, 0, 0, 0});
  trace.record({0, 1, TraceKind::switch_to, 0, 0, 0});
  trace.record({0, 2, TraceKind::spawn, 1, 1, 0});
  trace.record({0, 1, TraceKind::note, 0, note, 7});
  trace.record({0, 1, TraceKind::block, 0, 5, 0});
  trace.record({1'000, 0, TraceKind::timer_fire, 0, 0, 1'000});
  trace.record({1'000, 2, TraceKind::switch_to, 0, 0, 0});
  trace.record({1'000, 2, TraceKind::decision, 1, 3, 2});
  trace.record({1'000, 1, TraceKind::wake, 2, 5, 0});
  trace.record({1'000, 2, TraceKind::finish, 0, 0, 0});
  trace.record({1'000, 1, TraceKind::switch_to, 0, 0, 0});
  trace.record({1'500, 1, TraceKind::finish, 1, 0, 0});
  trace.record({1'500, 0, TraceKind::run_end, 1, 0, 0});
  return trace;
}

const std::vector<std::string> kTaskNames = {"main", "server", "client"};

std::vector<json> events_where(const json& document, const std::string& phase, const std::string& name = "") {
  std::vector<json> out;
  for (const json& event : document.at("traceEvents")) {
    if (event.at("ph") == phase && (name.empty() || event.at("name") == name)) out.push_back(event);
  }
  return out;
}

TEST(ChromeTraceTest, ParsesBackWithTheExpectedEvents) {
  const Trace trace = example_trace();
  ChromeTraceOptions options;
  options.metadata["scenario"] = "base_http_middleware";
  const json document = json::parse(chrome_trace_json(trace, kTaskNames, options));

  EXPECT_EQ(document.at("displayTimeUnit"), "ns");
  const json& other = document.at("otherData");
  char hash[32];
  std::snprintf(hash, sizeof hash, "0x%016llx", static_cast<unsigned long long>(trace.hash()));
  EXPECT_EQ(other.at("trace_hash"), hash);
  EXPECT_EQ(other.at("truncated"), false);
  EXPECT_EQ(other.at("records_total"), 14);
  EXPECT_EQ(other.at("scenario"), "base_http_middleware");

  // One named row per task.
  const auto names = events_where(document, "M", "thread_name");
  ASSERT_EQ(names.size(), 3u);
  for (const json& event : names) {
    const auto tid = event.at("tid").get<std::size_t>();
    ASSERT_LT(tid, kTaskNames.size());
    EXPECT_EQ(event.at("args").at("name"), kTaskNames[tid]);
    EXPECT_EQ(event.at("pid"), 1);
  }
  EXPECT_EQ(events_where(document, "M", "process_name").size(), 1u);

  // Running slices: server until it blocks, client until it finishes,
  // server again until it finishes.
  const auto slices = events_where(document, "X");
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[0].at("tid"), 1);
  EXPECT_EQ(slices[0].at("name"), "server");
  EXPECT_DOUBLE_EQ(slices[0].at("ts").get<double>(), 0.002);   // 0 ns + record 2
  EXPECT_DOUBLE_EQ(slices[0].at("dur").get<double>(), 0.003);  // until the block, record 5
  EXPECT_EQ(slices[0].at("args").at("time_ns"), 0);
  EXPECT_EQ(slices[1].at("tid"), 2);
  EXPECT_DOUBLE_EQ(slices[1].at("ts").get<double>(), 1.007);  // 1000 ns + record 7
  EXPECT_DOUBLE_EQ(slices[1].at("dur").get<double>(), 0.003);
  EXPECT_EQ(slices[1].at("args").at("time_ns"), 1000);
  EXPECT_EQ(slices[2].at("tid"), 1);
  EXPECT_DOUBLE_EQ(slices[2].at("ts").get<double>(), 1.011);
  EXPECT_DOUBLE_EQ(slices[2].at("dur").get<double>(), 0.501);  // to 1500 ns + record 12

  // Instants carry their exact virtual time.
  const auto notes = events_where(document, "i", "request.start");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].at("tid"), 1);
  EXPECT_EQ(notes[0].at("args").at("value"), 7);
  EXPECT_EQ(notes[0].at("args").at("time_ns"), 0);
  const auto blocks = events_where(document, "i", "block");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].at("args").at("waitable"), 5);
  const auto wakes = events_where(document, "i", "wake");
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].at("args").at("reason"), "timed_out");
  EXPECT_EQ(wakes[0].at("args").at("time_ns"), 1000);
  const auto decisions = events_where(document, "i", "decision");
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].at("args").at("stream"), "clients");
  EXPECT_EQ(decisions[0].at("args").at("n"), 3);
  EXPECT_EQ(decisions[0].at("args").at("value"), 2);
  const auto spawns = events_where(document, "i", "spawn");
  ASSERT_EQ(spawns.size(), 2u);
  EXPECT_EQ(spawns[1].at("tid"), 2);
  EXPECT_EQ(spawns[1].at("args").at("parent_name"), "server");
  EXPECT_EQ(spawns[1].at("args").at("thread"), true);
  const auto finishes = events_where(document, "i", "finish");
  ASSERT_EQ(finishes.size(), 2u);
  EXPECT_EQ(finishes[1].at("args").at("raised"), true);
  EXPECT_EQ(events_where(document, "i", "timer_fire").size(), 1u);
  EXPECT_EQ(events_where(document, "i", "run_start").at(0).at("args").at("seed"), 42);

  // Zero-time steps get distinct, increasing display timestamps.
  double previous = -1;
  for (const json& event : events_where(document, "i")) {
    EXPECT_GT(event.at("ts").get<double>(), previous);
    previous = event.at("ts").get<double>();
  }
}

TEST(ChromeTraceTest, NamesUnknownTasksAndSurvivesATruncatedRing) {
  Trace trace(TraceOptions{4});
  for (std::uint64_t i = 0; i < 10; ++i)
    trace.record({static_cast<Nanoseconds>(i), 9, TraceKind::switch_to, 0, 0, 0});
  const json document = json::parse(chrome_trace_json(trace, {}));
  EXPECT_EQ(document.at("otherData").at("truncated"), true);
  EXPECT_EQ(document.at("otherData").at("first_record"), 6);
  EXPECT_EQ(events_where(document, "X").size(), 4u);
  bool named = false;
  for (const json& event : events_where(document, "M", "thread_name")) {
    if (event.at("tid") == 9) named = event.at("args").at("name") == "task 9";
    if (event.at("tid") == 0) {
      EXPECT_EQ(event.at("args").at("name"), "main");
    }
  }
  EXPECT_TRUE(named);
}

TEST(ChromeTraceTest, InvalidUtf8AndHugeValuesStayLoadable) {
  Trace trace;
  const std::uint32_t note = trace.intern("bad \xff utf8");
  trace.record({0, 1, TraceKind::note, 0, note, ~std::uint64_t{0}});
  const json document = json::parse(chrome_trace_json(trace, {"main", "caf\xc3"}));
  const auto notes = events_where(document, "i");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].at("args").at("value"), "18446744073709551615");
}

TEST(ChromeTraceTest, WritesAFile) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "asgisim_trace_test.json";
  const Trace trace = example_trace();
  write_chrome_trace(path, trace, kTaskNames);
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  EXPECT_EQ(contents.str(), chrome_trace_json(trace, kTaskNames));
  std::filesystem::remove(path);

  const auto unwritable = std::filesystem::path(::testing::TempDir()) / "no_such_directory" / "trace.json";
  try {
    write_chrome_trace(unwritable, trace, kTaskNames);
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(unwritable.string()), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace asgisim::sim
