// An async generator with a `finally`, as a body iterator, and when Python
// runs that `finally` (CPython 3.11's asyncio, PEP 525):
//
//   async def body():            BodyIterator body = async_generator(
//       try:                         [state] { ... return next chunk or nullopt; },
//           ... yield chunk ...      [](const GeneratorClose& close) { cleanup },
//       finally:                     {.name = "body", .request = id});
//           cleanup
//
// - inline, in the task iterating it, when its body ends (`exhausted`) or an
//   exception leaves it (`raised`): its own, or one thrown in at an await
//   inside it (a cancellation);
// - by asyncio's finalizer hook, when the last reference to it goes while it
//   is suspended at a yield: `call_soon_threadsafe(create_task, aclose())`,
//   GeneratorExit at the yield in a task of its own (`closed`, by finalizer).
//   That task does not keep the loop alive: if asyncio.run ends first, it is
//   cancelled before its first step (CancelledError at the yield, `raised`,
//   by finalizer).
// - when an exception abandoned it at a yield (the `async for` around it
//   raised: a send that raised, a cancellation at the send; the consumer says
//   so with abandoned_by_exception(), as StreamingResponse does), the
//   exception's traceback holds the frame that holds it:
//   - inside a task group (anyio's: StreamingResponse's disconnect listener,
//     BaseHTTPMiddleware's), the group keeps the exception in a reference
//     cycle that only the cyclic collector frees, which Starlette's stacks
//     reach only at the end: closed at loop shutdown (`shutdown_asyncgens`:
//     `closed`, by shutdown);
//   - outside any, the server drops the exception when it has handled it
//     (exception_handled(), at the end of uvicorn's `except` in run_asgi), and
//     with it the last reference: the finalizer hook, as above.
//   Measured on every such case of the differential grids with --cleanup
//   (Starlette 0.20.4 to 1.3.1, anyio 3.6.2 and 4.14.2, the collector off
//   during a case as in the real runner; docs/fidelity.md).
// - never, when it was never started (its `try` not entered) or the run ended
//   (failed, or torn down) first.
//
// Each close is observed (ObservationKind::iterator_closed) before the
// `finally` runs, so a checker can tell whether and when a cleanup ran.
// Generators that are still suspended when the loop shuts down are closed
// one after another in the order they were first iterated (asyncio closes
// them concurrently, in a WeakSet's order).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

#include "asgisim/core/observe.hpp"
#include "asgisim/core/response.hpp"

namespace asgisim::core {

// How the `finally` was reached.
enum class GeneratorExitKind : std::uint8_t {
  exhausted,  // the body ended (the last __anext__ raises StopAsyncIteration after it)
  raised,     // an exception leaves the body; GeneratorClose::error holds it
  closed,     // GeneratorExit thrown in at the yield by aclose()
};
// Who ran it.
enum class GeneratorCloser : std::uint8_t {
  iterating_task,  // inline, in the task that called __anext__
  finalizer,       // the task asyncio's finalizer hook created
  loop_shutdown,   // shutdown_asyncgens at the end of the run
};
std::string_view to_string(GeneratorExitKind kind);
std::string_view to_string(GeneratorCloser closer);  // "inline", "finalizer", "shutdown"

struct GeneratorClose {
  GeneratorExitKind kind = GeneratorExitKind::exhausted;
  GeneratorCloser by = GeneratorCloser::iterating_task;
  std::exception_ptr error{};  // the exception passing through the `finally` (raised only)
};

using GeneratorFinally = std::function<void(const GeneratorClose&)>;

struct AsyncGeneratorOptions {
  std::string name = "body_iterator";  // for observations and task names
  RequestId request = 0;               // the request it serves, for the checkers (0: none)
};

// `body` yields the chunks (nullopt: it ended); `finally` is the cleanup,
// run exactly once per generator that was started, as above. An exception
// `finally` raises replaces the one in flight (inline) or ends its task.
BodyIterator async_generator(BodyIterator body, GeneratorFinally finally, AsyncGeneratorOptions options = {});

// The consumer of `iterator` stops iterating it because an exception is
// propagating through its `async for`: if `iterator` is an async_generator()
// suspended at a yield, the exception holds it (above). Does nothing for any
// other iterator.
void abandoned_by_exception(const BodyIterator& iterator);

// A server has handled the exception its app call raised and drops it: the
// generators it held (abandoned outside any task group by the running task)
// lose that reference. Called at the end of run_asgi's `except`.
void exception_handled();

}  // namespace asgisim::core
