// The canary of the stack fuzzer: a middleware with a bug planted on purpose,
// and the scenario `stack-canary` that puts it in front of the stack
// random-stack draws. Compiled only into fuzz_stack_canary, its _replay
// program and asgisim-canary (the CLI with this scenario registered); it
// proves that the stack fuzzer finds a bug that is not handed to it.
//
//   core::App app = body_buffer_canary(inner);   // server -> canary -> inner
//   asgisim-canary replay stack-canary --schedule stack-finding-1234.log
//
// The canary is a pure ASGI middleware of a common kind: it reads the whole
// request body before calling the app (as a body-logging or signature-
// checking middleware does) and replays it to the app; when the client leaves
// before the body ends it gives up, correctly. It also guards against slow
// uploads: a body that came in at least kCanaryChunks messages and took at
// least kCanarySlowUploadNs of virtual time gets "408 request body too slow".
// The planted bug: after the 408 a `return` is missing, so the app runs too
// and its answer is a second http.response.start through the canary:
// `start-once`, blamed on "StackCanary". The fuzzer has to find a client
// that splits its body into four chunks with the longest pause (10 ms) before
// each of the last three, and does not leave before the end: about one
// request in 110 (measured times to find it: docs/fuzzing.md).
#pragma once

#include <cstddef>
#include <memory>

#include "asgisim/core/asgi.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/types.hpp"

namespace asgisim::fuzz {

// A body slower than this, in at least this many messages, gets a 408.
inline constexpr std::size_t kCanaryChunks = 4;
inline constexpr sim::Nanoseconds kCanarySlowUploadNs = 30 * sim::kMillisecond;

// The layer name the canary's boundary blames.
inline constexpr const char* kCanaryLayer = "StackCanary";

core::App body_buffer_canary(core::App app);

// The scenario `stack-canary`: random-stack behind body_buffer_canary.
std::unique_ptr<scenarios::Scenario> make_stack_canary_scenario();

}  // namespace asgisim::fuzz
