// Messages for the kernel's exception types.
#include "asgisim/sim/errors.hpp"

#include <fmt/format.h>

#include <typeinfo>

namespace asgisim::sim {

ExceptionGroup::ExceptionGroup(std::vector<std::exception_ptr> exceptions)
    : exceptions_(std::move(exceptions)) {
  message_ = fmt::format("{} exception(s) in task group:", exceptions_.size());
  for (const auto& e : exceptions_) message_ += " [" + describe(e) + "]";
}

std::string describe(const std::exception_ptr& error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled&) {
    return "Cancelled";
  } catch (const TaskUnwound&) {
    return "TaskUnwound";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

bool is_cancellation(const std::exception_ptr& error) {
  if (!error) return false;
#if defined(__GLIBCXX__) && defined(__GXX_RTTI)
  // libstdc++ names the type of the exception held without rethrowing it
  // (a throw costs a full unwind); Cancelled is final, so the type matches
  // exactly or not at all.
  const std::type_info* type = error.__cxa_exception_type();
  return type != nullptr && *type == typeid(Cancelled);
#else
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
#endif
}

}  // namespace asgisim::sim
