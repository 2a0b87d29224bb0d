// One Checker per invariant of DESIGN.md's table, on core::Checker (the
// protocol invariants are core::ProtocolValidator's; nothing is re-checked
// here). Reusable by any scenario and by users' own stacks:
//
//   core::Observer observer;
//   install_checkers(observer, {"background-complete", "cleanup-runs"}, params);
//   ... run the stack ...; observer.finish();
//   if (const core::Violation* v = observer.first_failure()) ...
//
// What each checker reads (core/observe.hpp) and when it reports:
//   protocol ids    one shared ProtocolValidator over the `received`/`sent`
//                   observations of validated boundaries (core/validator.hpp);
//                   only the ids asked for (plus message-type) are passed on.
//   response-complete  at the end: a request the server started whose client
//                   neither got client_got_complete nor left first, unless
//                   the app raised (app_raised). Blames the layer that did not
//                   pass a final body on (from the boundaries), else "app".
//   background-complete  background_cancelled at once; at the end, a task
//                   scheduled but never finished (one that never started
//                   because its request raised first is exempt).
//   cleanup-runs    context_exit_cancelled; context_exited with value 1 unless
//                   the client left before its response completed; at the
//                   end, a context entered and never exited. Blames the layer
//                   that owns the context manager.
//   iterator-closed iterator_closed by the finalizer hook or at loop shutdown
//                   (core/async_generator.hpp) after its request's app call
//                   returned or raised. Blames StreamingResponse, which left
//                   the iterator at a yield.
//   response-not-delayed  response_completed after a background task of the
//                   same request finished, and later in virtual time than the
//                   task started. Blames the layer that held the final body
//                   (it passed the boundary inside it before the task began).
//   truncated-not-complete  at client_got_complete: the request's app had
//                   raised (error_raised, not a background task's) while its
//                   innermost boundary had sent http.response.start and no
//                   final body, and the server completed the response after
//                   that. Blames the layer that sent a final body after the
//                   error while the boundary inside it had sent none.
//   no-swallowed-error  at the end: an error_raised whose request shows no
//                   app_raised, server_500, connection_closed or error status
//                   (>= 400, at the client or any boundary). Blames the layer
//                   that called the raising one.
//   request-latency from request_started to client_got_complete, over
//                   CheckerParams::latency_budget_ns; at the end, a request
//                   neither complete nor abandoned, measured to the last
//                   observation.
//   threads-bounded / memory-budget  a thread_started / memory_retained
//                   value over CheckerParams::threads_bound /
//                   memory_budget_bytes, once per reporting layer, with the
//                   first time over and the peak.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/observe.hpp"
#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::scenarios {

// Every invariant id of DESIGN.md's table, in table order.
const std::vector<std::string_view>& invariant_ids();
// One line describing an invariant (for `asgisim list --invariants` and reports).
std::string_view invariant_description(std::string_view id);

// Adds the checkers for `ids` to `observer`. Protocol ids share one
// core::ProtocolValidator; no-deadlock, liveness and deterministic are judged
// by the engine from the run result and add nothing here. Throws
// std::invalid_argument for an unknown id.
void install_checkers(core::Observer& observer, const std::vector<std::string>& ids,
                      const CheckerParams& params);

}  // namespace asgisim::scenarios
