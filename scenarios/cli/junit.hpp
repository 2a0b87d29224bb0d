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
#include <vector>

#include "sweep_driver.hpp"

namespace asgisim::cli {

class JunitReport {
 public:
  void add(const SweepReport& report, const scenarios::RunSettings& settings);
  std::string render() const;
  void write(const std::filesystem::path& path) const;

 private:
  struct Case {
    std::string scenario{};
    std::string config{};
    double seconds = 0;
    std::uint64_t seeds_run = 0;
    bool failed = false;
    std::string failure_type{};     // the failure class
    std::string failure_message{};  // invariant and seed
    std::string failure_text{};     // the failure block
  };
  std::vector<Case> cases_;
};

// Escapes text for XML content and attributes; drops the control
// characters XML 1.0 cannot carry.
std::string xml_escape(std::string_view text);

}  // namespace asgisim::cli
