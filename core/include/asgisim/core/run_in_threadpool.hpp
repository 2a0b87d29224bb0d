// The seam between the ASGI model and the thread pools: Starlette's
// `run_in_threadpool(func, *args)` (starlette/concurrency.py, 0.15+: anyio's
// to_thread.run_sync; before 0.15: loop.run_in_executor(None, ...)). Sync
// endpoints, sync background tasks and sync body iterators all go through one
// ThreadPoolRunner; the concrete pools (CPython's ThreadPoolExecutor, anyio's
// limiter-bounded workers) implement it elsewhere.
//
//   Response response = run_in_threadpool<Response>(pool, [&] { return endpoint(request); });
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace asgisim::core {

class ThreadPoolRunner {
 public:
  virtual ~ThreadPoolRunner() = default;
  // Runs `fn` on a simulated OS thread and blocks the calling event-loop task
  // until it has run; an exception that `fn` raises is rethrown here.
  // What a cancellation of the waiting task does is the implementation's
  // answer (anyio shields the thread call; asyncio's wrapped future does not).
  virtual void run_sync(std::function<void()> fn) = 0;
};

// `await run_in_threadpool(fn)`: runs `fn` through `pool` and returns its result.
template <class Result, class Fn>
Result run_in_threadpool(ThreadPoolRunner& pool, Fn&& fn) {
  if constexpr (std::is_void_v<Result>) {
    pool.run_sync(std::function<void()>(std::forward<Fn>(fn)));
  } else {
    std::optional<Result> result;
    pool.run_sync([&result, &fn] { result.emplace(fn()); });
    if (!result) throw std::logic_error("ThreadPoolRunner::run_sync returned without running the function");
    return std::move(*result);
  }
}

}  // namespace asgisim::core
