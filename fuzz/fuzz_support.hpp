// What the fuzz targets share: how a target reports a broken property (a
// message on stderr, then abort(), which libFuzzer and the replay programs
// both treat as a finding), and small helpers that turn the run's choice
// stream into decisions. Every helper must run inside a Simulation task.
//
//   const std::string_view method = pick_from("request.method", kMethods);
//   if (status == 405 && !allow) property_failed("router", "405 carries Allow", path);
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::fuzz {

[[noreturn]] inline void property_failed(std::string_view target, std::string_view property,
                                         const std::string& detail) {
  std::fprintf(stderr, "\n%.*s fuzz target: property violated: %.*s\n  %s\n", static_cast<int>(target.size()),
               target.data(), static_cast<int>(property.size()), property.data(), detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// A value in [0, n). `label` must be a string literal (the decision log keeps it).
inline std::uint64_t pick(std::string_view label, std::uint64_t n) {
  return sim::choose(sim::Label{label, sim::Stream::other}, n);
}

// True about once in `one_in` decisions (an exhausted input answers false
// for one_in > 1: the choice stream then answers 0).
inline bool rarely(std::string_view label, std::uint64_t one_in) { return pick(label, one_in) == one_in - 1; }

// With ASGISIM_FUZZ_STATS set in the environment, counts how often each
// named event happened and prints the counts at exit: a cheap check that a
// target's properties are exercised at all (replay a corpus to see them).
class EventCounts {
 public:
  static EventCounts& get() {
    static EventCounts counts;
    return counts;
  }
  void count(std::string_view event) {
    if (enabled_) ++counts_[std::string(event)];
  }
  ~EventCounts() {
    for (const auto& [event, n] : counts_) std::fprintf(stderr, "fuzz stats: %-40s %llu\n", event.c_str(), n);
  }

 private:
  EventCounts() : enabled_(std::getenv("ASGISIM_FUZZ_STATS") != nullptr) {}
  bool enabled_;
  std::map<std::string, unsigned long long> counts_;
};
inline void count(std::string_view event) { EventCounts::get().count(event); }

template <class T, std::size_t N>
const T& pick_from(std::string_view label, const std::array<T, N>& items) {
  return items[pick(label, N)];
}

}  // namespace asgisim::fuzz
