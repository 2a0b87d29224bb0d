// Exceptions raised by the kernel, named after their anyio/asyncio/threading
// counterparts so that modelled code reads like its Python original.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace asgisim::sim {

class CancelScope;

// Raised at a checkpoint inside a cancelled scope (anyio's cancellation
// exception). Deliberately NOT derived from std::exception: like Python's
// BaseException-derived CancelledError, a `catch (const std::exception&)`
// must not swallow it. Catch it only to clean up and rethrow. Final:
// is_cancellation() tells it from other exceptions by its exact type.
class Cancelled final {
 public:
  Cancelled() = default;
};

// Thrown into a task that the simulation is tearing down (the run ended with
// tasks still suspended: daemons, a deadlock, a failure). Not derived from
// std::exception; user code must let it pass (rethrow from `catch (...)`).
class TaskUnwound {
 public:
  TaskUnwound() = default;
};

// fail_after()'s deadline expired (Python's TimeoutError).
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// anyio.WouldBlock: a *_nowait operation could not complete at once.
class WouldBlock : public std::runtime_error {
 public:
  WouldBlock() : std::runtime_error("operation would block") {}
};

// anyio.EndOfStream: receive on a stream whose send side is closed and drained.
class EndOfStream : public std::runtime_error {
 public:
  EndOfStream() : std::runtime_error("end of stream") {}
};

// anyio.BrokenResourceError: the other side of the stream is gone.
class BrokenResourceError : public std::runtime_error {
 public:
  explicit BrokenResourceError(const std::string& what = "broken resource") : std::runtime_error(what) {}
};

// anyio.ClosedResourceError: this side was closed by its owner.
class ClosedResourceError : public std::runtime_error {
 public:
  explicit ClosedResourceError(const std::string& what = "resource is closed") : std::runtime_error(what) {}
};

// A primitive was used from the wrong side: a loop primitive from a simulated
// OS thread, a blocking thread primitive from the event loop, or any
// primitive outside a running simulation.
class WrongSideError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// An API was misused in a way Python would report as RuntimeError (releasing
// a lock you do not hold, a borrower taking a second limiter token, ...).
class UsageError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Several exceptions raised together by the children of a task group
// (anyio 3's MultiError / anyio 4's ExceptionGroup).
class ExceptionGroup : public std::exception {
 public:
  explicit ExceptionGroup(std::vector<std::exception_ptr> exceptions);
  const char* what() const noexcept override { return message_.c_str(); }
  const std::vector<std::exception_ptr>& exceptions() const { return exceptions_; }

 private:
  std::vector<std::exception_ptr> exceptions_;
  std::string message_;
};

// One-line description of an exception_ptr, for reports.
std::string describe(const std::exception_ptr& error);
// Whether `error` holds a Cancelled (false for none).
bool is_cancellation(const std::exception_ptr& error);

}  // namespace asgisim::sim
