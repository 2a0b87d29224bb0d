// The scenario `timing-flush`: our Timing middleware in front of a
// Starlette app with BaseHTTPMiddleware, two keep-alive requests.
#pragma once

#include <memory>

#include "asgisim/scenarios/scenario.hpp"

namespace timing {

std::unique_ptr<asgisim::scenarios::Scenario> make_timing_scenario();

}  // namespace timing
