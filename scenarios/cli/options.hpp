// The asgisim command line's option values and their parsers. Every parser
// turns bad text into a UsageError whose message names the option and the
// problem, which main() prints as one line and exits 2.
//
//   RunOptions options;
//   options.seed = parse_seed("--seed", "0x2a");          // 42
//   const Scenario& scenario = find_scenario("background-cancelled");
//   check_writable_file("--junit", "out/report.xml");   // before a long sweep
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/scenarios/stack.hpp"

namespace asgisim::cli {

using scenarios::UsageError;

// Which configurations a command runs.
enum class ConfigChoice : std::uint8_t { buggy, fixed, both };

// The raw text of the options shared by run, replay, shrink and trace, as
// CLI11 stored it; resolve() validates it into RunOptions.
struct RawOptions {
  std::string config{};       // --config buggy|fixed|both ("" = the command's default)
  std::string seeds{};        // --seeds N
  std::string seed{};         // --seed S
  std::string seed_base{};    // --seed-base B|random
  std::string strategy{};     // --strategy fifo|random|pct
  std::string pct_depth{};    // --pct-depth D
  std::string jobs{};         // --jobs J
  std::string shard{};        // --shard K/N
  std::string max_time{};     // --max-time SECONDS (virtual time)
  std::string duration{};     // --duration 5m (wall-clock time of the whole run)
  std::string stack{};        // --stack starlette==..,uvicorn==..
  std::string regressions{};  // --regressions DIR
  std::string junit{};        // --junit FILE
  std::string trace_dir{};    // --trace-dir DIR
  bool json = false;          // --json
  bool fail_fast = false;     // --fail-fast
  std::string want{};         // --want CLASS
  std::string traces_max{};   // --traces-max N
};

// Validated options. Fields the user did not give keep their defaults and
// the matching `*_given` flag stays false (replay --schedule then takes the
// value recorded in the file).
struct RunOptions {
  ConfigChoice config = ConfigChoice::both;
  bool config_given = false;
  std::uint64_t seeds = 100;  // seeds per sweep
  bool seeds_given = false;   // --seeds: with --duration, a cap
  // --duration: wall-clock time the whole command may take starting seeds;
  // each sweep gets an equal share of what is left. Unset: no time limit.
  std::optional<std::chrono::milliseconds> duration{};
  std::optional<std::uint64_t> seed{};  // --seed: exactly this one seed
  std::uint64_t seed_base = 0;
  bool seed_base_random = false;      // nondeterminism-ok: the base is picked once and printed (CLI only)
  scenarios::RunSettings settings{};  // strategy, pct depth, stack, max time
  bool strategy_given = false;
  bool pct_depth_given = false;
  std::uint32_t jobs = 1;
  scenarios::Shard shard{};
  std::filesystem::path regressions{};  // empty: no regression store
  std::filesystem::path junit{};        // empty: no JUnit report
  std::filesystem::path trace_dir{};    // empty: no traces of failing runs
  bool json = false;
  bool fail_fast = false;
  // --want CLASS: the last line reproduces the first seed failing with it.
  std::optional<scenarios::FailureClass> want{};
  std::uint64_t traces_max = 10;  // --trace-dir keeps the first N failing seeds' traces per sweep
};

// The default for --jobs: every hardware thread.
std::uint32_t default_jobs();

// Validates `raw`; `default_config` applies when --config is absent.
RunOptions resolve(const RawOptions& raw, ConfigChoice default_config);

// "42", "0x2a": a 64-bit unsigned integer.
std::uint64_t parse_seed(std::string_view option, std::string_view text);
// A positive integer no larger than `max`.
std::uint64_t parse_positive(std::string_view option, std::string_view text, std::uint64_t max);
// parse_positive, also reading "1e9" (mantissa and power of ten).
std::uint64_t parse_count(std::string_view option, std::string_view text, std::uint64_t max);
// "30", "0.5": seconds of virtual time, to the nanosecond; positive.
sim::Nanoseconds parse_seconds(std::string_view option, std::string_view text);
// "300", "90s", "5m", "1h30m": a wall-clock duration, at most 30 days.
std::chrono::milliseconds parse_duration(std::string_view option, std::string_view text);
ConfigChoice parse_config(std::string_view text);
sim::Strategy parse_strategy_option(std::string_view text);

std::vector<scenarios::ConfigKind> config_kinds(ConfigChoice choice);
std::string_view to_string(ConfigChoice choice);

// The registered scenario called `name`; a UsageError (with the closest
// name, when one is close) otherwise.
const scenarios::Scenario& find_scenario(std::string_view name);
// `name`, or every registered scenario for "all".
std::vector<const scenarios::Scenario*> find_scenarios(std::string_view name);

// Checks that `path` can be written (its directory exists and accepts a new
// file, or the file itself is writable), without leaving a file behind.
void check_writable_file(std::string_view option, const std::filesystem::path& path);
// Creates `path` (and its parents) when missing and checks it accepts files.
void check_writable_directory(std::string_view option, const std::filesystem::path& path);

}  // namespace asgisim::cli
