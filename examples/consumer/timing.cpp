#include "timing.hpp"

#include <utility>

#include "asgisim/sim/simulation.hpp"

namespace timing {

// [doc:middleware]
namespace core = asgisim::core;
namespace sim = asgisim::sim;

// How long the metrics backend takes: the choice stream decides, per call.
constexpr sim::Label kFlush{"timing.flush", sim::Stream::other};

void flush_metrics() {  // await flush_metrics()
  static constexpr sim::Nanoseconds kChoices[] = {0, sim::kMillisecond, 5 * sim::kSecond};
  sim::sleep(kChoices[sim::Simulation::current().choose(kFlush, 3)]);
}

core::App timing(core::App app, TimingOptions options) {
  return [app = std::move(app), options](core::Scope& scope, const core::Receive& receive,
                                         const core::Send& send) {
    app(scope, receive, [&](core::Message message) {
      const bool final_body = message.type == core::MessageType::http_response_body && !message.more_body;
      if (final_body && options.flush_before_final_body) {
        flush_metrics();  // the bug: the client waits for the metrics backend
      } else if (final_body) {
        sim::Simulation::current().spawn("timing.flush", [] { flush_metrics(); });  // create_task(...)
      }
      send(std::move(message));
    });
  };
}
// [/doc:middleware]

}  // namespace timing
