// Factories of the request-level checkers (request_checkers.cpp); internal
// to scenarios/src, used by install_checkers().
#pragma once

#include <memory>

#include "asgisim/core/observe.hpp"

namespace asgisim::scenarios::detail {

std::unique_ptr<core::Checker> make_response_complete();
std::unique_ptr<core::Checker> make_background_complete();
std::unique_ptr<core::Checker> make_cleanup_runs();
std::unique_ptr<core::Checker> make_iterator_closed();
std::unique_ptr<core::Checker> make_response_not_delayed();
std::unique_ptr<core::Checker> make_no_swallowed_error();
std::unique_ptr<core::Checker> make_request_latency(sim::Nanoseconds budget_ns);
// truncation_checker.cpp
std::unique_ptr<core::Checker> make_truncated_not_complete();

}  // namespace asgisim::scenarios::detail
