// The factories of the built-in scenarios, one per catalogue file;
// catalogue.cpp adds them all to a Registry (add_catalogue). Internal: users
// call add_catalogue() or built_in_catalogue() (asgisim/scenarios/catalogue.hpp).
#pragma once

#include <memory>

#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::scenarios::catalogue {

std::unique_ptr<Scenario> make_background_cancelled();
std::unique_ptr<Scenario> make_body_read_twice();
std::unique_ptr<Scenario> make_cleanup_cancelled();
std::unique_ptr<Scenario> make_completion_delayed();
std::unique_ptr<Scenario> make_keepalive_cut_after_error();
std::unique_ptr<Scenario> make_orphaned_body_iterator();
std::unique_ptr<Scenario> make_random_stack();
std::unique_ptr<Scenario> make_streaming_after_disconnect();
std::unique_ptr<Scenario> make_threadpool_deadlock();
std::unique_ptr<Scenario> make_threadpool_growth();
std::unique_ptr<Scenario> make_truncated_stream();

}  // namespace asgisim::scenarios::catalogue
