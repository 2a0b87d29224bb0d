// The regression store (--regressions DIR), like Hypothesis' example
// database: every failing decision log a sweep finds is kept, and the next
// sweep of the same scenario and configuration replays them first.
//
//   RegressionStore store("regressions/");
//   for (const auto& entry : store.load(scenario, ConfigKind::buggy)) { ... run_schedule(entry.log) ... }
//   store.save(outcome);   // DIR/<scenario>/<config>/<content hash>.decisions
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/decision_log.hpp"

namespace asgisim::cli {

struct StoredRegression {
  std::filesystem::path path{};
  sim::DecisionLog log{};
};

class RegressionStore {
 public:
  explicit RegressionStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Every stored log of `scenario`/`config`, in file-name order. A file that
  // does not parse (truncated or corrupted by an older crash) is renamed to
  // <name>.corrupt, so it is neither replayed nor lost, and one line naming
  // it and the problem goes to `set_aside`.
  std::vector<StoredRegression> load(std::string_view scenario, scenarios::ConfigKind config,
                                     std::vector<std::string>& set_aside) const;
  // Keeps the failing run's decision log (the engine records its scenario,
  // configuration, seed and settings as metadata); the name is a hash of the
  // content, so the same failure is stored once. Written atomically; throws
  // OutputError naming the path when it cannot be. Returns the file's path.
  std::filesystem::path save(const scenarios::RunOutcome& outcome) const;

 private:
  std::filesystem::path directory(std::string_view scenario, scenarios::ConfigKind config) const;
  std::filesystem::path root_;
};

// The run's decision log (whose metadata lets `replay --schedule` rebuild
// its settings) with the failing invariant and, when given, the seed it
// was shrunk from.
sim::DecisionLog annotated_log(const scenarios::RunOutcome& outcome, std::optional<std::uint64_t> seed);

}  // namespace asgisim::cli
