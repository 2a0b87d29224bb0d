// Messages for the kernel's exception types.
#include "asgisim/sim/errors.hpp"

#include <fmt/format.h>

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
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace asgisim::sim
