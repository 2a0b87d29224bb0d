// Stopping a long sweep from outside, and reporting a crash inside one.
//
// SIGINT and SIGTERM (what a CI job's timeout sends) set a flag: the sweep
// takes no new seed, the runs in flight get `grace` to finish, then they
// are abandoned (at once on a second signal), and the command writes
// everything a finished sweep writes. A fatal signal in a run (a segfault
// in a scenario's C++, a failed assertion) prints the seed being run and
// the line that reproduces it before the process dies.
//
//   Interruption interruption(std::chrono::seconds(2));   // installs the handlers
//   sweep_options.stop = &interruption.stop_flag();
//   sweep_options.abandon = &interruption.abandon_flag();
//   ... if (interruption.signal() != 0) exit 128 + signal
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>

namespace asgisim::cli {

class Interruption {
 public:
  // Installs the SIGINT and SIGTERM handlers (the previous ones come back
  // on destruction) and the watchdog that abandons runs after `grace`.
  explicit Interruption(std::chrono::milliseconds grace);
  Interruption(const Interruption&) = delete;
  Interruption& operator=(const Interruption&) = delete;
  ~Interruption();

  const std::atomic<bool>& stop_flag() const;
  const std::atomic<bool>& abandon_flag() const;
  // The first signal received (SIGINT or SIGTERM), or 0.
  int signal() const;
  static std::string_view signal_name(int signal);

 private:
  void watch();

  std::chrono::milliseconds grace_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
  bool watching_ = false;  // the watchdog runs its loop (the constructor waits for it)
  std::thread watchdog_;
};

// "SIGSEGV", "SIGABRT", "SIGBUS", "SIGFPE", "SIGILL", "SIGKILL"; "a fatal
// signal" for any other. Async-signal-safe.
const char* fatal_signal_name(int signal);

// What a crash report names: the sweep being run and its reproduce line
// around the seed ("asgisim replay X --config buggy --strategy random" and
// the options after "--seed S"). Installs the fatal-signal handlers; copies the text into fixed buffers the
// handler reads.
void set_crash_context(std::string_view sweep, std::string_view reproduce_before_seed,
                       std::string_view reproduce_after_seed);
// Puts the crash handlers back in front after the kernel installed its
// stack-overflow handler (on a thread's first run), which they chain to.
// Cheap; the driver calls it after each sweep's first seed.
void keep_crash_handlers_first();

}  // namespace asgisim::cli
