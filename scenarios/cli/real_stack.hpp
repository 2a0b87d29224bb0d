// The catalogue's column for the real stack (`asgisim catalogue --python
// CMD`): `CMD -m asgisim catalogue` runs each catalogue scenario whose buggy
// or fixed configuration is the installed Starlette release against the real
// code, through the bridge (python/asgisim/real_catalogue.py), and answers
// one JSON line per configuration; the table sets each beside the model's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace asgisim::cli {

struct RealRun {
  std::string scenario;
  std::string config;     // "buggy" or "fixed"
  std::string starlette;  // the release the configuration models
  std::string skipped;    // why it did not run (another release installed), else empty
  bool failed = false;
  std::uint64_t seeds_run = 0;
  std::uint64_t seed = 0;  // the first failing seed
  std::string failure;     // its class and invariant
  std::string invariant;
  bool deterministic = true;  // its second run, in a fresh fork, gave the same trace hash
  std::string line;           // the JSON line as received
};

// Runs `python -m asgisim catalogue` (stderr passes through) and returns its
// answers by scenario name. Throws UsageError when the command cannot run or
// does not answer in the expected form.
std::map<std::string, std::vector<RealRun>> run_real_catalogue(const std::string& python,
                                                               std::uint64_t buggy_seeds);

}  // namespace asgisim::cli
