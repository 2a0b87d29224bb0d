// Python's view of the model's task-group errors where anyio's major version
// decides it. anyio 3's ExceptionGroup derives from BaseException, so an
// `except Exception` lets it through; anyio 4 raises the builtin one, an
// Exception unless it holds a BaseException (a CancelledError), in which case
// it is a BaseExceptionGroup and passes `except Exception` too.
#pragma once

#include <boost/context/fiber.hpp>

#include <exception>
#include <typeinfo>

#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core::detail {

// Runs `fn` and returns what it raised (null if nothing). The run's teardown
// (TaskUnwound, forced_unwind) is not the call's exception: it passes.
template <class Fn>
std::exception_ptr raised_by(Fn&& fn) {
  try {
    fn();
  } catch (const sim::TaskUnwound&) {
    throw;
  } catch (const boost::context::detail::forced_unwind&) {
    throw;
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

// The group `error` holds, or null. Rethrows only when the type is a group's,
// so that the common case (any other error) costs no unwind.
inline const sim::ExceptionGroup* exception_group(const std::exception_ptr& error) {
  if (!error) return nullptr;
#if defined(__GLIBCXX__) && defined(__GXX_RTTI)
  const std::type_info* type = error.__cxa_exception_type();
  if (type == nullptr || *type != typeid(sim::ExceptionGroup)) return nullptr;
#endif
  try {
    std::rethrow_exception(error);
  } catch (const sim::ExceptionGroup& group) {
    return &group;  // the exception object lives as long as `error` holds it
  } catch (...) {
    return nullptr;
  }
}

inline bool holds_cancellation(const sim::ExceptionGroup& group) {
  for (const std::exception_ptr& error : group.exceptions()) {
    if (sim::is_cancellation(error)) return true;
    if (const sim::ExceptionGroup* inner = exception_group(error);
        inner != nullptr && holds_cancellation(*inner))
      return true;
  }
  return false;
}

// Whether `except Exception` catches this group.
inline bool caught_by_except_exception(const sim::ExceptionGroup& group) {
  if (sim::Simulation::current().options().task_group_errors == sim::TaskGroupErrors::anyio3) return false;
  return !holds_cancellation(group);
}

}  // namespace asgisim::core::detail
