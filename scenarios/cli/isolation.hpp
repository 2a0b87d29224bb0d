// --isolate: the seeds of a sweep run in worker processes, so a run that
// crashes one (a segfault in a scenario's C++, a failed assertion) costs that
// seed, not the sweep, as libFuzzer's -fork and pytest-xdist's workers do. A
// worker is a fork of the command's process (made by the pool's fork server,
// itself forked before the sweep's threads start), serves seeds one after
// another (warm, as a sweep's thread is) and sends each outcome back through
// a socket (outcome_codec.hpp); a worker that dies is replaced by a new fork.
// Results are the same with and without --isolate.
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
  // One request to the fork server and its answer, under server_mutex_.
  Worker fork_worker();
  int wait_worker(pid_t pid);

  const scenarios::Scenario& scenario_;
  scenarios::ConfigKind config_;
  scenarios::RunSettings settings_;
  std::mutex mutex_;
  std::vector<Worker> idle_{};
  // The fork server: a process forked when the pool is made, before the
  // sweep's threads start, that forks every worker. A fork from a process
  // whose other threads are running can leave the child holding a lock one
  // of them held (gcc 12's AddressSanitizer does not guard its allocator:
  // a worker forked mid-sweep hung on it in CI); the server has one thread.
  pid_t server_pid_ = -1;
  int server_fd_ = -1;
  std::mutex server_mutex_;
};

}  // namespace asgisim::cli
