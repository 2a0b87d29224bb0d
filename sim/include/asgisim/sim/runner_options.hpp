// Stack sizes for the calling OS thread's Runner (Runner::this_thread()), set
// before its first use. A host whose tasks recurse deeply in native code (the
// Python bridge's event loop) asks for larger stacks than the default.
#pragma once

#include "asgisim/sim/stack_pool.hpp"

namespace asgisim::sim {

// The options Runner::this_thread() uses when it creates the calling thread's
// runner; no effect once that runner exists.
void configure_this_thread_runner(const StackPoolOptions& options);

}  // namespace asgisim::sim
