// ASGISIM_ASSERT: the one assertion macro of asgisim. It stays on in every
// build type (NDEBUG or not): a simulator that does not assert only finds crashes.
//
//   ASGISIM_ASSERT(queue_size_ > 0);
//   ASGISIM_ASSERT(used <= size_max, "a stream holds {} of {} items", used, size_max);
//
// The condition is checked inline; the message (a {fmt} format string,
// checked at compile time) is formatted only when the condition is false. A
// failure prints file:line, the condition, the message and, when a simulation
// is running on this thread, its seed, the current task and the virtual time,
// then calls std::abort() (so death tests, core dumps and sanitizers see it).
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>

namespace asgisim::sim::detail {

// Prints the report and aborts; `message` may be empty.
[[noreturn, gnu::cold]] void report_assertion_failure(const char* condition, const char* file, int line,
                                                      std::string_view message) noexcept;

[[noreturn, gnu::cold]] inline void assertion_failed(const char* condition, const char* file,
                                                     int line) noexcept {
  report_assertion_failure(condition, file, line, {});
}

template <class... Args>
[[noreturn, gnu::cold, gnu::noinline]] void assertion_failed(const char* condition, const char* file,
                                                             int line, fmt::format_string<Args...> format,
                                                             Args&&... args) noexcept {
  std::string message;
  try {
    message = fmt::format(format, std::forward<Args>(args)...);
  } catch (...) {
    message = "(the assertion's message could not be formatted)";
  }
  report_assertion_failure(condition, file, line, message);
}

}  // namespace asgisim::sim::detail

#define ASGISIM_ASSERT(condition, ...)                                                                     \
  do {                                                                                                     \
    if (!(condition)) [[unlikely]]                                                                         \
      ::asgisim::sim::detail::assertion_failed(#condition, __FILE__, __LINE__ __VA_OPT__(, ) __VA_ARGS__); \
  } while (false)
