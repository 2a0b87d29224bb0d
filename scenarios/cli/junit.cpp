// Writing the JUnit XML report.
#include "junit.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "reporting.hpp"

namespace asgisim::cli {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t' || c == '\r') out += c;
    }
  }
  return out;
}

void JunitReport::add(const SweepReport& report, const scenarios::RunSettings& settings) {
  Case entry{.scenario = report.result.scenario,
             .config = std::string(scenarios::to_string(report.result.config)),
             .seconds = report.result.seconds,
             .seeds_run = report.result.seeds_run,
             .failed = report.failed() || !report.error.empty() || report.result.crashes > 0,
             .interrupted = report.interrupted()};
  if (!report.error.empty() && !report.failed()) {
    entry.failure_type = "error";
    entry.failure_message = report.error;
    entry.failure_text = fmt::format("{}\nreproduce: {}\n", report.error, report.error_reproduce);
  } else if (const scenarios::RunOutcome* first = report.first_failure()) {
    entry.failure_type = std::string(scenarios::to_string(report.worst()));
    entry.failure_message = report.result.first_failure
                                ? fmt::format("{} at seed {} ({} of {} seeds failed)", first->invariant,
                                              first->seed, report.result.failures, report.result.seeds_run)
                                : fmt::format("{} in stored regression", first->invariant);
    entry.failure_text = failure_block(report, settings);
  } else if (!report.crashed.empty()) {
    entry.failure_type = "crash";
    entry.failure_message =
        fmt::format("{} of {} seeds crashed (first: seed {}, {})", report.result.crashes,
                    report.result.seeds_run, report.crashed.front().seed, report.crashed.front().how);
  }
  for (const CrashedSeed& crashed : report.crashed) {
    entry.failure_text += fmt::format("seed {} {} in its worker process\nreproduce: {}\n", crashed.seed,
                                      crashed.how, crashed.reproduce);
  }
  cases_.push_back(std::move(entry));
}

void JunitReport::add_not_run(std::string_view scenario, scenarios::ConfigKind config) {
  cases_.push_back(Case{.scenario = std::string(scenario),
                        .config = std::string(scenarios::to_string(config)),
                        .skipped = true});
}

void JunitReport::set_interrupted(std::string reason) { interrupted_ = std::move(reason); }

std::string JunitReport::render() const {
  std::size_t failures = 0;
  double seconds = 0;
  for (const Case& entry : cases_) {
    failures += entry.failed ? 1 : 0;
    seconds += entry.seconds;
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::size_t skipped = 0;
  for (const Case& entry : cases_) skipped += entry.skipped ? 1 : 0;
  const std::string name = interrupted_.empty() ? "asgisim" : fmt::format("asgisim ({})", interrupted_);
  out += fmt::format("<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
                     xml_escape(name), cases_.size(), failures, skipped, seconds);
  // Cases of one scenario are adjacent (the CLI sweeps scenario by scenario).
  for (std::size_t begin = 0; begin < cases_.size();) {
    std::size_t end = begin;
    std::size_t suite_failures = 0;
    double suite_seconds = 0;
    while (end < cases_.size() && cases_[end].scenario == cases_[begin].scenario) {
      suite_failures += cases_[end].failed ? 1 : 0;
      suite_seconds += cases_[end].seconds;
      ++end;
    }
    out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3f}\">\n",
                       xml_escape(cases_[begin].scenario), end - begin, suite_failures, suite_seconds);
    for (std::size_t i = begin; i < end; ++i) {
      const Case& entry = cases_[i];
      const std::string seeds = entry.interrupted && !interrupted_.empty()
                                    ? fmt::format("{} seeds, {}", entry.seeds_run, interrupted_)
                                    : fmt::format("{} seeds", entry.seeds_run);
      out +=
          fmt::format("    <testcase classname=\"asgisim.{}\" name=\"{} ({})\" time=\"{:.3f}\"",
                      xml_escape(entry.scenario), xml_escape(entry.config), xml_escape(seeds), entry.seconds);
      if (entry.skipped) {
        out += fmt::format(">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                           xml_escape(interrupted_.empty() ? "not run" : "not run: " + interrupted_));
        continue;
      }
      if (!entry.failed) {
        out += "/>\n";
        continue;
      }
      out += fmt::format(">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                         xml_escape(entry.failure_type), xml_escape(entry.failure_message),
                         xml_escape(entry.failure_text));
    }
    out += "  </testsuite>\n";
    begin = end;
  }
  out += "</testsuites>\n";
  return out;
}

void JunitReport::write(const std::filesystem::path& path) const { write_file_atomically(path, render()); }

}  // namespace asgisim::cli
