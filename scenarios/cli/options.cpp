// Parsing and validating the command line's option values; each problem
// becomes one UsageError that names the option and the text it got.
#include "options.hpp"
#include "registry.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <system_error>
#include <thread>

#include <fmt/format.h>

namespace asgisim::cli {

namespace {

bool all_digits(std::string_view text, int base) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [base](char c) {
    if (c >= '0' && c <= '9') return true;
    return base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
  });
}

// Reads an unsigned integer (decimal, or hexadecimal after "0x"); false when
// the text is not one or does not fit in 64 bits.
bool read_unsigned(std::string_view text, std::uint64_t& out) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (!all_digits(text, base)) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return error == std::errc() && end == text.data() + text.size();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" when a registered name is close to `name`.
std::string suggestion(std::string_view name) {
  const scenarios::Scenario* best = nullptr;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const scenarios::Scenario* scenario : registry().all()) {
    const std::size_t distance = edit_distance(name, scenario->info().name);
    if (distance < best_distance) {
      best = scenario;
      best_distance = distance;
    }
  }
  if (best == nullptr || best_distance > std::max<std::size_t>(3, name.size() / 3)) return "";
  return fmt::format(" (did you mean '{}'?)", best->info().name);
}

std::uint32_t parse_pct_depth(std::string_view text) {
  constexpr std::uint64_t kDepthMax = 64;
  return static_cast<std::uint32_t>(parse_positive("--pct-depth", text, kDepthMax));
}

std::uint64_t parse_seed_base(std::string_view text, bool& random) {
  random = text == "random";
  if (!random) return parse_seed("--seed-base", text);
  std::random_device device;  // nondeterminism-ok: --seed-base random picks a base and prints it
  return (static_cast<std::uint64_t>(device()) << 32) | device();
}

// Options that are fine alone but meaningless together: bad input (exit 2),
// not silently ignored.
void check_combinations(const RunOptions& options) {
  if (options.pct_depth_given && options.settings.strategy != sim::Strategy::pct) {
    throw UsageError(fmt::format("--pct-depth only applies to --strategy pct (the strategy is {})",
                                 sim::to_string(options.settings.strategy)));
  }
  const scenarios::Shard shard = options.shard;
  if (shard.count > 1 && !options.seed) {
    // Seed index i belongs to shard i % N + 1.
    const std::uint64_t mine =
        options.seeds / shard.count + (shard.index - 1 < options.seeds % shard.count ? 1 : 0);
    if (mine == 0) {
      throw UsageError(fmt::format("--shard {}/{} gets no seed of --seeds {}: use at most {} shards",
                                   shard.index, shard.count, options.seeds, options.seeds));
    }
  }
}

}  // namespace

std::uint32_t default_jobs() { return std::max(1U, std::thread::hardware_concurrency()); }

std::uint64_t parse_seed(std::string_view option, std::string_view text) {
  std::uint64_t value = 0;
  if (!read_unsigned(text, value)) {
    throw UsageError(fmt::format("malformed {} '{}': expected an unsigned 64-bit integer (decimal or 0x hex)",
                                 option, text));
  }
  return value;
}

std::uint64_t parse_positive(std::string_view option, std::string_view text, std::uint64_t max) {
  std::uint64_t value = 0;
  if (!read_unsigned(text, value) || value == 0 || value > max) {
    throw UsageError(fmt::format("bad {} '{}': expected an integer from 1 to {}", option, text, max));
  }
  return value;
}

std::uint64_t parse_count(std::string_view option, std::string_view text, std::uint64_t max) {
  // "1e9": a mantissa times a power of ten, for the long sweeps people write that way.
  const std::size_t e = text.find_first_of("eE");
  if (e == std::string_view::npos || text.substr(0, 2) == "0x" || text.substr(0, 2) == "0X")
    return parse_positive(option, text, max);
  std::uint64_t mantissa = 0;
  std::uint64_t exponent = 0;
  std::uint64_t value = 0;
  if (read_unsigned(text.substr(0, e), mantissa) && read_unsigned(text.substr(e + 1), exponent) &&
      exponent <= 18) {
    value = mantissa;
    for (std::uint64_t i = 0; i < exponent && value <= max; ++i) value *= 10;
  }
  if (value == 0 || value > max) {
    throw UsageError(
        fmt::format("bad {} '{}': expected an integer from 1 to {} (1e9 is allowed)", option, text, max));
  }
  return value;
}

sim::Nanoseconds parse_seconds(std::string_view option, std::string_view text) {
  // Virtual time is an integer: read "S[.FFFFFFFFF]" digit by digit, no double.
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  const auto bad = [&] {
    return UsageError(fmt::format(
        "bad {} '{}': expected a positive number of seconds with at most 9 decimals", option, text));
  };
  if (!all_digits(whole, 10) || (dot != std::string_view::npos && !all_digits(fraction, 10)) ||
      fraction.size() > 9) {
    throw bad();
  }
  std::uint64_t seconds = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  std::uint64_t nanos = 0;
  for (std::size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  constexpr std::uint64_t kSecondsMax = 1'000'000'000;  // ~31 years of virtual time fits in int64 ns
  if (seconds > kSecondsMax || (seconds == 0 && nanos == 0)) throw bad();
  return static_cast<sim::Nanoseconds>(seconds * 1'000'000'000 + nanos);
}

std::chrono::milliseconds parse_duration(std::string_view option, std::string_view text) {
  const auto bad = [&] {
    return UsageError(fmt::format(
        "bad {} '{}': expected a duration such as 300 (seconds), 90s, 5m, 2h or 1h30m, up to 30 days", option,
        text));
  };
  constexpr std::uint64_t kSecondsMax = 30ULL * 24 * 3600;
  std::uint64_t seconds = 0;
  std::string_view rest = text;
  if (rest.empty()) throw bad();
  while (!rest.empty()) {
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    std::uint64_t value = 0;
    if (digits == 0 || digits > 9 || !read_unsigned(rest.substr(0, digits), value)) throw bad();
    rest.remove_prefix(digits);
    std::uint64_t unit = 1;  // a bare number is seconds
    if (!rest.empty()) {
      switch (rest.front()) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        default:
          throw bad();
      }
      rest.remove_prefix(1);
    } else if (seconds != 0) {
      throw bad();  // "1h30": the last number needs its unit
    }
    seconds += value * unit;
    if (seconds > kSecondsMax) throw bad();
  }
  if (seconds == 0) throw bad();
  return std::chrono::seconds(seconds);
}

ConfigChoice parse_config(std::string_view text) {
  if (text == "buggy") return ConfigChoice::buggy;
  if (text == "fixed") return ConfigChoice::fixed;
  if (text == "both") return ConfigChoice::both;
  throw UsageError(fmt::format("bad --config '{}': expected buggy, fixed or both", text));
}

sim::Strategy parse_strategy_option(std::string_view text) {
  sim::Strategy strategy = sim::Strategy::random;
  if (!sim::parse_strategy(text, strategy)) {
    throw UsageError(fmt::format("bad --strategy '{}': expected fifo, random or pct", text));
  }
  return strategy;
}

std::vector<scenarios::ConfigKind> config_kinds(ConfigChoice choice) {
  switch (choice) {
    case ConfigChoice::buggy:
      return {scenarios::ConfigKind::buggy};
    case ConfigChoice::fixed:
      return {scenarios::ConfigKind::fixed};
    case ConfigChoice::both:
      return {scenarios::ConfigKind::buggy, scenarios::ConfigKind::fixed};
  }
  return {};
}

std::string_view to_string(ConfigChoice choice) {
  switch (choice) {
    case ConfigChoice::buggy:
      return "buggy";
    case ConfigChoice::fixed:
      return "fixed";
    case ConfigChoice::both:
      return "both";
  }
  return "?";
}

RunOptions resolve(const RawOptions& raw, ConfigChoice default_config) {
  RunOptions options;
  options.config = default_config;
  if (!raw.config.empty()) {
    options.config = parse_config(raw.config);
    options.config_given = true;
  }
  constexpr std::uint64_t kSeedsMax = std::uint64_t{1} << 40;
  if (!raw.seeds.empty()) {
    options.seeds = parse_count("--seeds", raw.seeds, kSeedsMax);
    options.seeds_given = true;
  }
  if (!raw.duration.empty()) options.duration = parse_duration("--duration", raw.duration);
  if (!raw.seed.empty()) options.seed = parse_seed("--seed", raw.seed);
  if (!raw.seed_base.empty()) options.seed_base = parse_seed_base(raw.seed_base, options.seed_base_random);
  if (!raw.strategy.empty()) {
    options.settings.strategy = parse_strategy_option(raw.strategy);
    options.strategy_given = true;
  }
  if (!raw.pct_depth.empty()) {
    options.settings.pct_depth = parse_pct_depth(raw.pct_depth);
    options.pct_depth_given = true;
  }
  constexpr std::uint64_t kJobsMax = 1024;
  options.jobs = raw.jobs.empty() ? default_jobs()
                                  : static_cast<std::uint32_t>(parse_positive("--jobs", raw.jobs, kJobsMax));
  if (!raw.shard.empty()) options.shard = scenarios::parse_shard(raw.shard);
  if (!raw.max_time.empty()) options.settings.max_time_ns = parse_seconds("--max-time", raw.max_time);
  if (!raw.stack.empty()) {
    options.settings.stack_override = scenarios::parse_stack_spec(raw.stack);
    scenarios::resolve(
        options.settings.stack_override);  // an unknown version is bad input now, not mid-sweep
    for (const std::string& warning : scenarios::stack_warnings(options.settings.stack_override)) {
      fmt::print(stderr, "warning: {}\n", warning);
    }
  }
  check_combinations(options);
  options.regressions = raw.regressions;
  options.junit = raw.junit;
  options.trace_dir = raw.trace_dir;
  if (!raw.traces_max.empty()) options.traces_max = parse_positive("--traces-max", raw.traces_max, kSeedsMax);
  options.json = raw.json;
  options.fail_fast = raw.fail_fast;
  if (!raw.want.empty()) {
    using scenarios::FailureClass;
    for (const FailureClass failure : {FailureClass::invariant, FailureClass::deadlock,
                                       FailureClass::liveness, FailureClass::nondeterminism}) {
      if (raw.want == scenarios::to_string(failure)) options.want = failure;
    }
    if (!options.want) {
      throw UsageError(
          fmt::format("bad --want '{}': expected invariant, deadlock, liveness or nondeterminism", raw.want));
    }
  }
  return options;
}

const scenarios::Scenario& find_scenario(std::string_view name) {
  const scenarios::Scenario* scenario = registry().find(name);
  if (scenario == nullptr) {
    throw UsageError(fmt::format("unknown scenario '{}'{}; `asgisim list` shows the {} scenarios", name,
                                 suggestion(name), registry().all().size()));
  }
  return *scenario;
}

std::vector<const scenarios::Scenario*> find_scenarios(std::string_view name) {
  if (name == "all") return registry().all();
  return {&find_scenario(name)};
}

void check_writable_file(std::string_view option, const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    throw UsageError(fmt::format("cannot write {} '{}': it is a directory", option, path.string()));
  }
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (fs::exists(parent, error) && !fs::is_directory(parent, error)) {
    throw UsageError(
        fmt::format("cannot write {} '{}': '{}' is not a directory", option, path.string(), parent.string()));
  }
  if (!fs::is_directory(parent, error)) {
    throw UsageError(fmt::format("cannot write {} '{}': directory '{}' does not exist", option, path.string(),
                                 parent.string()));
  }
  const bool existed = fs::exists(path, error);
  // Append mode creates a missing file and never truncates an existing one.
  std::ofstream probe(path, std::ios::app);
  if (!probe) throw UsageError(fmt::format("cannot write {} '{}': permission denied", option, path.string()));
  probe.close();
  if (!existed) fs::remove(path, error);
}

void check_writable_directory(std::string_view option, const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(path, error);
  if (!fs::is_directory(path, error)) {
    throw UsageError(
        fmt::format("cannot use {} '{}': not a directory and cannot be created", option, path.string()));
  }
  check_writable_file(option, path / ".asgisim-write-probe");
}

}  // namespace asgisim::cli
