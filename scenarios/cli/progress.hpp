// Progress of a seed sweep on stderr: a redrawn bar with seeds/s and the
// failures so far when stderr is a terminal, a plain line every few seconds
// otherwise (CI logs stay readable).
//
//   Progress progress("background-cancelled (fixed)", 10'000);
//   options.progress = [&](std::uint64_t done, std::uint64_t failures) { progress.update(done, failures); };
//   sweep(...);
//   progress.finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace asgisim::cli {

class Progress {
 public:
  // `total`: seeds this sweep will run at most; 0 when open-ended.
  Progress(std::string label, std::uint64_t total);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  void update(std::uint64_t done, std::uint64_t failures);
  // Clears the bar (terminal) so the next line starts clean.
  void finish();

  // Whether stderr is a terminal (decided once per process).
  static bool terminal();

 private:
  using Clock = std::chrono::steady_clock;  // nondeterminism-ok: progress bar wall time
  double seeds_per_second(std::uint64_t done) const;
  std::string count(std::uint64_t done) const;
  void draw(std::uint64_t done, std::uint64_t failures);
  void print_line(std::uint64_t done, std::uint64_t failures);

  std::string label_;
  std::uint64_t total_ = 0;
  Clock::time_point started_{};
  Clock::time_point last_output_{};
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace asgisim::cli
