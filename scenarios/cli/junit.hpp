// JUnit XML for CI dashboards (--junit FILE): one <testsuite> per scenario,
// one <testcase> per configuration swept; a failing sweep carries a
// <failure> with the failure report and its reproduce line.
//
//   JunitReport junit;
//   junit.add(report, settings);      // after each sweep
//   junit.write("results.xml");       // throws std::runtime_error naming the path
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sweep_driver.hpp"

namespace asgisim::cli {

class JunitReport {
 public:
  void add(const SweepReport& report, const scenarios::RunSettings& settings);
  // A sweep an interruption kept from starting: a <skipped> testcase.
  void add_not_run(std::string_view scenario, scenarios::ConfigKind config);
  // Marks the report "interrupted by SIGTERM": in the <testsuites> name and
  // the name of the sweep it cut short.
  void set_interrupted(std::string reason);
  std::string render() const;
  // Atomically (temporary file + rename); throws OutputError naming the path.
  void write(const std::filesystem::path& path) const;

 private:
  struct Case {
    std::string scenario{};
    std::string config{};
    double seconds = 0;
    std::uint64_t seeds_run = 0;
    bool failed = false;
    bool interrupted = false;       // the sweep was cut short
    bool skipped = false;           // the sweep never started
    std::string failure_type{};     // the failure class
    std::string failure_message{};  // invariant and seed
    std::string failure_text{};     // the failure block
  };
  std::vector<Case> cases_;
  std::string interrupted_{};
};

// Escapes text for XML content and attributes; drops the control
// characters XML 1.0 cannot carry.
std::string xml_escape(std::string_view text);

}  // namespace asgisim::cli
