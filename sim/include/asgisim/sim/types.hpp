// Basic vocabulary of the kernel: virtual time, task identifiers, literals.
#pragma once

#include <cstdint>

namespace asgisim::sim {

// Virtual time is an integer count of nanoseconds owned by one Simulation.
using Nanoseconds = std::int64_t;

// Tasks are numbered in spawn order, starting at 1; 0 means "no task" (the
// run's main context). Ids are never reused within a run, so they are stable
// names in traces and reports.
using TaskId = std::uint32_t;
inline constexpr TaskId kNoTask = 0;

// Every waitable object gets a sequential id on first use inside a run.
using ObjectId = std::uint32_t;
inline constexpr ObjectId kNoObject = 0;

inline constexpr Nanoseconds kNanosecond = 1;
inline constexpr Nanoseconds kMicrosecond = 1'000;
inline constexpr Nanoseconds kMillisecond = 1'000'000;
inline constexpr Nanoseconds kSecond = 1'000'000'000;

namespace literals {
constexpr Nanoseconds operator""_ns(unsigned long long v) { return static_cast<Nanoseconds>(v); }
constexpr Nanoseconds operator""_us(unsigned long long v) {
  return static_cast<Nanoseconds>(v) * kMicrosecond;
}
constexpr Nanoseconds operator""_ms(unsigned long long v) {
  return static_cast<Nanoseconds>(v) * kMillisecond;
}
constexpr Nanoseconds operator""_s(unsigned long long v) { return static_cast<Nanoseconds>(v) * kSecond; }
}  // namespace literals

}  // namespace asgisim::sim
