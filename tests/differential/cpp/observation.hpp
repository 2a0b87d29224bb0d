// Running one case in the model and writing its observation (CASE_FORMAT.md
// section 2): the events, then the summary sections derived from them exactly
// as case_format.summarise derives them, so that the two sides agree on the
// summaries whenever they agree on the events.
//
//   const Case c = parse_case(nlohmann::json::parse(line));
//   nlohmann::json observation = run_case(c, {.behaviour = BaseHttpBehaviour::no_break});
//   std::cout << observation.dump(-1, ' ', true) << '\n';   // canonical: sorted, compact, ASCII
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asgisim/core/middleware/base_http.hpp"
#include "case.hpp"

namespace asgisim::differential {

struct RunOptions {
  core::BaseHttpBehaviour behaviour = core::BaseHttpBehaviour::no_break;
  core::StreamingBehaviour streaming = core::StreamingBehaviour::listen;
  // The Starlette release compared, for meta only.
  std::string starlette = "0.26.1";
  // The anyio major the model follows (3: Debian's 3.6.2; 4: as far as the
  // model has anyio 4, see docs/fidelity.md).
  int anyio_major = 3;
  // Leave out meta (versions, kernel steps).
  bool meta = true;
  // Print the kernel's trace of every case (task switches, wakes, events) to stderr.
  bool trace = false;
};

// The summary sections (app, client, background, contexts) of an event list.
nlohmann::json summarise(const nlohmann::json& events, const std::vector<MiddlewareKind>& middleware,
                         bool has_background);

// Runs the case in a fresh fifo Simulation and returns its observation.
nlohmann::json run_case(const Case& the_case, const RunOptions& options);

}  // namespace asgisim::differential
