// libFuzzer target for the whole stack: the input bytes are the choice stream
// (sim::ByteChoiceSource, lenient) of one run of the registered random-stack
// scenario in its fixed configuration. The bytes draw the middleware chain
// (pure ASGI, context managers, BaseHTTPMiddleware, error middleware), the
// endpoint (sync or async, plain or streaming, reading the body, background
// work, raising), one to three clients (body chunking, pauses, when they
// leave) and, under the random strategy, every scheduling decision. The
// engine checks every invariant random-stack names (stack_invariants()) plus
// no-deadlock, liveness and no-swallowed-error; any failure is a finding.
//
// A finding is also written as a decision-log file, the run's consumed
// decisions with the engine's metadata (scenario, config, strategy), so the
// command line replays it with no other flag:
//
//   stack fuzz target: random-stack [fixed] FAILED (invariant) ...
//   decision log: ./stack-finding-0123456789abcdef.log
//   reproduce: asgisim replay random-stack --schedule ./stack-finding-0123456789abcdef.log
//
// then the target aborts. The file goes to $ASGISIM_FUZZ_FINDINGS (a
// directory) or the working directory. The replay program
// (fuzz_stack_replay CRASH_FILE, any compiler) writes the same file.
//
// Built with ASGISIM_FUZZ_STACK_SCENARIO="stack-canary" (and
// stack_canary.cpp) this is the canary target, fuzz_stack_canary.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <span>
#include <string>

#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/choice.hpp"
#include "fuzz_support.hpp"
#ifdef ASGISIM_FUZZ_STACK_CANARY
#include "stack_canary.hpp"
#endif

#ifndef ASGISIM_FUZZ_STACK_SCENARIO
#define ASGISIM_FUZZ_STACK_SCENARIO "random-stack"
#endif

namespace asgisim::fuzz {
namespace {

constexpr std::string_view kTarget = "stack";
constexpr const char* kScenario = ASGISIM_FUZZ_STACK_SCENARIO;

const scenarios::Scenario& fuzzed_scenario() {
  static const scenarios::Scenario* scenario = [] {
    static const scenarios::Registry registry = [] {
      scenarios::Registry scenarios;
      scenarios::add_catalogue(scenarios);
#ifdef ASGISIM_FUZZ_STACK_CANARY
      scenarios.add(make_stack_canary_scenario());
#endif
      return scenarios;
    }();
    const scenarios::Scenario* found = registry.find(kScenario);
    if (found == nullptr) {
      std::fprintf(stderr, "stack fuzz target: scenario '%s' is not registered\n", kScenario);
      std::abort();
    }
    return found;
  }();
  return *scenario;
}

// FNV-1a: names the file after its content, so one finding found twice is one file.
std::uint64_t content_hash(const std::string& text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::filesystem::path findings_dir() {
  const char* dir = std::getenv("ASGISIM_FUZZ_FINDINGS");
  return dir != nullptr && *dir != '\0' ? std::filesystem::path(dir) : std::filesystem::path(".");
}

// Writes the finding's decision log; returns its path, or empty if it could not.
std::string write_decision_log(const scenarios::RunOutcome& outcome) {
  const std::string text = outcome.decisions.to_text();
  char name[64];
  std::snprintf(name, sizeof name, "stack-finding-%016llx.log",
                static_cast<unsigned long long>(content_hash(text)));
  const std::filesystem::path path = findings_dir() / name;
  try {
    std::filesystem::create_directories(path.parent_path());
    outcome.decisions.save(path);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "stack fuzz target: could not write the decision log: %s\n", error.what());
    return {};
  }
  return path.string();
}

[[noreturn]] void report_finding(const scenarios::RunOutcome& outcome) {
  const std::string path = write_decision_log(outcome);
  std::fprintf(stderr, "\nstack fuzz target: %s", scenarios::describe(outcome).c_str());
  if (!path.empty()) {
    std::fprintf(stderr, "decision log: %s (%zu decisions)\nreproduce: asgisim replay %s --schedule %s\n",
                 path.c_str(), outcome.decisions.size(), outcome.scenario.c_str(), path.c_str());
  }
  property_failed(kTarget, outcome.invariant, outcome.report);
}

}  // namespace
}  // namespace asgisim::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sim = asgisim::sim;
  namespace scenarios = asgisim::scenarios;
  using namespace asgisim::fuzz;
  sim::ByteChoiceSource source(std::span<const std::uint8_t>(data, size));
  const scenarios::RunSettings settings{.strategy = sim::Strategy::random};
  const scenarios::RunOutcome outcome =
      scenarios::run_source(fuzzed_scenario(), scenarios::ConfigKind::fixed, source, settings);
  count(outcome.failed() ? "run failed: " + outcome.invariant : std::string("run passed"));
  if (outcome.failed()) report_finding(outcome);
  return 0;
}
