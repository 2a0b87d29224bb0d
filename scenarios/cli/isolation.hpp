// --isolate: the seeds of a sweep run in worker processes, so a run that
// crashes one (a segfault in a scenario's C++, a failed assertion) costs that
// seed, not the sweep, as libFuzzer's -fork and pytest-xdist's workers do. A
// worker is a fork of the command's process, serves seeds one after another
// (warm, as a sweep's thread is) and sends each outcome back through a socket
// (outcome_codec.hpp); a worker that dies is replaced by a new fork. Results
// are the same with and without --isolate.
//
//   WorkerPool pool(scenario, config, settings);     // one per sweep
//   options.run_seed = [&](const Scenario&, ConfigKind, std::uint64_t seed, const RunSettings& s) {
//     return pool.run(seed, s);
//   };
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "asgisim/scenarios/engine.hpp"

namespace asgisim::cli {

class WorkerPool {
 public:
  // The workers run `scenario` in `config` with `settings` (its abandon flag
  // is the parent's: a worker is killed instead).
  WorkerPool(const scenarios::Scenario& scenario, scenarios::ConfigKind config,
             const scenarios::RunSettings& settings);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();  // kills and reaps the idle workers

  // Forks `count` idle workers now, from the calling thread, before the
  // sweep's threads start. A fork while another thread of this process is
  // inside malloc can leave the child holding that lock for ever, and the
  // AddressSanitizer of gcc 12 does not guard its allocator against it (a
  // worker forked mid-sweep hung in CI). Later forks (a worker that died
  // replaced) still happen mid-sweep.
  void prestart(std::size_t count);

  // Runs `seed` in an idle worker (a new one when none is idle), with
  // `settings.keep_trace` and watching `settings.abandon`. Safe to call from
  // several threads. Returns the outcome: a failing run's whole, a passing
  // run's verdict only. Throws SeedCrashed when the worker dies without a
  // result ("crashed with SIGSEGV"), RunAbandoned when the abandon flag is set
  // while it runs (the worker is killed), and, as a sweep would, UsageError
  // or SeedError for what the run threw.
  scenarios::RunOutcome run(std::uint64_t seed, const scenarios::RunSettings& settings);

 private:
  struct Worker {
    pid_t pid = -1;
    int fd = -1;  // the parent's end of the worker's socket
  };
  Worker start();
  void retire(Worker worker, bool kill);  // kills (when asked) and reaps it
  int reap(Worker worker);                // closes its socket, waits for it; the wait status

  const scenarios::Scenario& scenario_;
  scenarios::ConfigKind config_;
  scenarios::RunSettings settings_;
  std::mutex mutex_;
  std::vector<Worker> idle_{};
  std::vector<int> open_fds_{};  // every worker's parent end: a new worker closes its copies
};

}  // namespace asgisim::cli
