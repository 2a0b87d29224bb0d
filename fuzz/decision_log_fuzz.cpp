// libFuzzer target for the decision-log parser: any byte string must either
// parse or raise DecisionLogError, never crash, hang or trip a sanitizer. A
// log that parses must survive a round trip through its own text format.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "asgisim/sim/decision_log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sim = asgisim::sim;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sim::DecisionLog log;
  try {
    log = sim::DecisionLog::parse(text, "<fuzz>");
  } catch (const sim::DecisionLogError&) {
    return 0;  // rejected cleanly: the expected outcome for most inputs
  }
  // What parsed must print and parse back to the same decisions.
  const sim::DecisionLog again = sim::DecisionLog::parse(log.to_text(), "<fuzz round trip>");
  if (again.size() != log.size()) std::abort();
  for (std::size_t i = 0; i < log.size(); ++i) {
    const sim::Decision& a = log.decisions()[i];
    const sim::Decision& b = again.decisions()[i];
    if (a.label != b.label || a.stream != b.stream || a.n != b.n || a.value != b.value) std::abort();
  }
  return 0;
}
