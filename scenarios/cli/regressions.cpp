// The regression store's layout: DIR/<scenario>/<config>/<hash>.decisions,
// one decision-log file per distinct failing run.
#include "regressions.hpp"

#include <algorithm>
#include <cstdint>
#include <system_error>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "options.hpp"

namespace asgisim::cli {

namespace {

constexpr std::string_view kExtension = ".decisions";

// FNV-1a: a stable content hash for file names (not for security).
std::uint64_t content_hash(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

sim::DecisionLog annotated_log(const scenarios::RunOutcome& outcome, std::optional<std::uint64_t> seed) {
  // The engine already recorded the scenario, configuration and settings.
  sim::DecisionLog log = outcome.decisions;
  if (seed) log.metadata["seed"] = std::to_string(*seed);
  if (!outcome.invariant.empty()) log.metadata["invariant"] = outcome.invariant;
  return log;
}

std::filesystem::path RegressionStore::directory(std::string_view scenario,
                                                 scenarios::ConfigKind config) const {
  return root_ / std::string(scenario) / std::string(scenarios::to_string(config));
}

std::vector<StoredRegression> RegressionStore::load(std::string_view scenario, scenarios::ConfigKind config,
                                                    std::vector<std::string>& set_aside) const {
  namespace fs = std::filesystem;
  std::vector<StoredRegression> stored;
  const fs::path dir = directory(scenario, config);
  std::error_code error;
  if (!fs::is_directory(dir, error)) return stored;
  std::vector<fs::path> paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file() && entry.path().extension() == kExtension) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());  // directory order is the file system's; make it stable
  for (const fs::path& path : paths) {
    try {
      stored.push_back({path, sim::DecisionLog::load(path)});
    } catch (const sim::DecisionLogError& bad) {
      fs::path aside = path;
      aside += ".corrupt";
      fs::rename(path, aside, error);
      set_aside.push_back(
          error ? fmt::format("corrupt regression file left in place (cannot rename it: {}): {}",
                              error.message(), bad.what())
                : fmt::format("corrupt regression file set aside as '{}': {}", aside.string(), bad.what()));
    }
  }
  return stored;
}

std::filesystem::path RegressionStore::save(const scenarios::RunOutcome& outcome) const {
  const sim::DecisionLog log = annotated_log(outcome, std::nullopt);
  const std::string text = log.to_text();
  const std::filesystem::path dir = directory(outcome.scenario, outcome.config);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw OutputError(fmt::format("cannot create '{}': {}", dir.string(), error.message()));
  const std::filesystem::path path = dir / fmt::format("{:016x}{}", content_hash(text), kExtension);
  if (!std::filesystem::exists(path, error)) write_file_atomically(path, text);
  return path;
}

}  // namespace asgisim::cli
