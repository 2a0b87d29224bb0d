// The progress display: a bar redrawn in place on a terminal, at most ten
// times a second; plain lines every five seconds elsewhere.
#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include <fmt/format.h>

namespace asgisim::cli {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr auto kPlainLineInterval = std::chrono::seconds(5);
constexpr std::uint64_t kBarWidth = 24;
}  // namespace

Progress::Progress(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), started_(Clock::now()), last_output_(started_) {}

Progress::~Progress() { finish(); }

bool Progress::terminal() {
  static const bool is_terminal = ::isatty(STDERR_FILENO) == 1;
  return is_terminal;
}

double Progress::seeds_per_second(std::uint64_t done) const {
  const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  return seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
}

void Progress::update(std::uint64_t done, std::uint64_t failures) {
  const Clock::time_point now = Clock::now();
  if (terminal()) {
    if (now - last_output_ < kRedrawInterval && done != total_) return;
    last_output_ = now;
    draw(done, failures);
    return;
  }
  if (now - last_output_ < kPlainLineInterval) return;
  last_output_ = now;
  print_line(done, failures);
}

std::string Progress::count(std::uint64_t done) const {
  // total 0: an open-ended sweep (--duration without --seeds).
  return total_ == 0 ? fmt::format("{} seeds", done) : fmt::format("{}/{} seeds", done, total_);
}

void Progress::draw(std::uint64_t done, std::uint64_t failures) {
  const std::uint64_t filled = total_ == 0 ? 0 : std::min(kBarWidth, done * kBarWidth / total_);
  // fmt, not operator+: GCC 12's -Wrestrict misfires on "[" + std::string at -O3 (GCC bug 105651).
  const std::string bar =
      total_ == 0 ? std::string()
                  : fmt::format("[{}{}] ", std::string(filled, '#'), std::string(kBarWidth - filled, '-'));
  fmt::print(stderr, "\r\033[K{} {}{}  {:.0f} seeds/s  {} failures", label_, bar, count(done),
             seeds_per_second(done), failures);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::print_line(std::uint64_t done, std::uint64_t failures) {
  fmt::print(stderr, "{}: {}, {:.0f} seeds/s, {} failures so far\n", label_, count(done),
             seeds_per_second(done), failures);
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (drawn_) {
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace asgisim::cli
