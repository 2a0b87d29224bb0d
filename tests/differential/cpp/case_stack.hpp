// A case's stack built from the asgisim core model, with the recording hooks
// of stack.py: the dispatch functions of the BaseHTTPMiddleware layers, the
// context manager of the pure ASGI layer, the endpoint, its body iterator and
// its background task record exactly what their Python twins record, at the
// same points. Middleware index 0 is the outermost; there is no Router and no
// application object, so nothing implicit wraps the chain.
//
//   core::AnyioToThread pool;
//   core::App app = build_case_app(the_case, core::BaseHttpBehaviour::no_break, pool, record);
//   app(harness.scope(), receive, send);
#pragma once

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "case.hpp"
#include "recorder.hpp"

namespace asgisim::differential {

// `pool` runs the sync endpoint, sync iterator and sync background task;
// `pool` and `record` must outlive every call of the app. `streaming` is the
// endpoint's StreamingResponse's (core::streaming_behaviour_for_starlette).
core::App build_case_app(const Case& the_case, core::BaseHttpBehaviour behaviour,
                         core::ThreadPoolRunner& pool, Recorder& record,
                         core::StreamingBehaviour streaming = core::StreamingBehaviour::listen);

}  // namespace asgisim::differential
