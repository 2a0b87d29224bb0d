// Timing: our own middleware, modelled. After each response it writes a
// metric to a backend whose latency the choice stream decides.
#pragma once

#include "asgisim/core/asgi.hpp"

namespace timing {

// [doc:options]
struct TimingOptions {
  // Before our fix (our-org/api#123) the flush was awaited before the final
  // body went out; since, it runs in a task of its own.
  bool flush_before_final_body = true;
};
// [/doc:options]

asgisim::core::App timing(asgisim::core::App app, TimingOptions options = {});

}  // namespace timing
