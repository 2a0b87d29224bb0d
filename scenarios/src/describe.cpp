// How a run is told to a person: describe() (the verdict, the layer, the
// report) and the one line that reproduces it (reproduce_command).
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "asgisim/scenarios/engine.hpp"

namespace asgisim::scenarios {

namespace {
// "seed 3", or for a replayed decision log "a schedule (from seed 3)": a
// schedule has no seed of its own.
std::string run_name(const RunOutcome& outcome) {
  if (!outcome.from_schedule) return fmt::format("seed {}", outcome.seed);
  return outcome.schedule_seed ? fmt::format("a schedule (from seed {})", *outcome.schedule_seed)
                               : std::string("a schedule");
}
}  // namespace

std::string describe(const RunOutcome& outcome) {
  if (!outcome.failed()) {
    return fmt::format("{} [{}] {}: passed (trace hash {:#018x}, {} steps, {} decisions)\n", outcome.scenario,
                       to_string(outcome.config), run_name(outcome), outcome.trace_hash, outcome.result.steps,
                       outcome.decisions.size());
  }
  std::string out = fmt::format("{} [{}] {}: FAILED ({})\n", outcome.scenario, to_string(outcome.config),
                                run_name(outcome), to_string(outcome.failure));
  out += fmt::format("  invariant: {}\n", outcome.invariant);
  if (!outcome.layer.empty()) out += fmt::format("  layer:     {}\n", outcome.layer);
  out += fmt::format("  run:       {}, {} steps, virtual time {} ns, {} decisions, trace hash {:#018x}\n",
                     sim::to_string(outcome.result.status), outcome.result.steps, outcome.result.end_time_ns,
                     outcome.decisions.size(), outcome.trace_hash);
  std::string report = outcome.report;
  while (!report.empty() && report.back() == '\n') report.pop_back();
  std::size_t start = 0;
  while (start <= report.size() && !report.empty()) {
    const std::size_t end = std::min(report.find('\n', start), report.size());
    out += fmt::format("  | {}\n", std::string_view(report).substr(start, end - start));
    start = end + 1;
  }
  std::size_t others = 0;
  for (const core::Violation& v : outcome.violations) {
    if (v.invariant == outcome.invariant && v.layer == outcome.layer) continue;
    if (++others > 8) continue;
    out += fmt::format("  also: {}{} [{}] request {}: {}\n", v.invariant, v.warning ? " (warning)" : "",
                       v.layer, v.request, v.detail);
  }
  if (others > 8) out += fmt::format("  also: ... {} more\n", others - 8);
  return out;
}

namespace {
std::string& reproduce_program_storage() {
  static std::string program = "asgisim";
  return program;
}
}  // namespace

void set_reproduce_program(std::string_view program) {
  const bool plain = !program.empty() && std::ranges::all_of(program, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_-./+=:,@%").find(c) != std::string_view::npos;
  });
  std::string word;
  if (plain) {
    word = program;
  } else {  // 'it'\''s': single quotes, each ' closed, escaped and reopened
    word = "'";
    for (const char c : program) word += c == '\'' ? std::string("'\\''") : std::string(1, c);
    word += "'";
  }
  reproduce_program_storage() = std::move(word);
}

const std::string& reproduce_program() { return reproduce_program_storage(); }

std::string reproduce_command(const RunOutcome& outcome, const RunSettings& settings) {
  std::string line =
      fmt::format("{} replay {} --config {} --strategy {} --seed {}", reproduce_program(), outcome.scenario,
                  to_string(outcome.config), sim::to_string(settings.strategy), outcome.seed);
  if (settings.strategy == sim::Strategy::pct) line += fmt::format(" --pct-depth {}", settings.pct_depth);
  const std::string stack = to_string(settings.stack_override);
  if (!stack.empty()) line += fmt::format(" --stack {}", stack);
  if (settings.max_time_ns) {
    const sim::Nanoseconds ns = *settings.max_time_ns;
    line += ns % sim::kSecond == 0
                ? fmt::format(" --max-time {}", ns / sim::kSecond)
                : fmt::format(" --max-time {}.{:09}", ns / sim::kSecond, ns % sim::kSecond);
  }
  return line;
}

}  // namespace asgisim::scenarios
