// The built-in catalogue, registered by explicit calls. Because the
// registration is a function a program calls, the linker keeps every
// catalogue object file of the static library; no whole-archive linking and
// no static initialisation order are involved.
#include "asgisim/scenarios/catalogue.hpp"

#include "catalogue.hpp"

namespace asgisim::scenarios {

void add_catalogue(Registry& registry) {
  registry.add(catalogue::make_background_cancelled());
  registry.add(catalogue::make_body_read_twice());
  registry.add(catalogue::make_cleanup_cancelled());
  registry.add(catalogue::make_completion_delayed());
  registry.add(catalogue::make_keepalive_cut_after_error());
  registry.add(catalogue::make_orphaned_body_iterator());
  registry.add(catalogue::make_random_stack());
  registry.add(catalogue::make_streaming_after_disconnect());
  registry.add(catalogue::make_threadpool_deadlock());
  registry.add(catalogue::make_threadpool_growth());
  registry.add(catalogue::make_truncated_stream());
}

const Registry& built_in_catalogue() {
  static const Registry registry = [] {
    Registry built_in;
    add_catalogue(built_in);
    return built_in;
  }();
  return registry;
}

}  // namespace asgisim::scenarios
