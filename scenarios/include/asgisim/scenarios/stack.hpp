// A stack chosen by the versions users know (`--stack
// starlette==0.20.4,uvicorn==0.28.0,python==3.7`), resolved to the model's
// named behaviours (DESIGN.md "core/: the ASGI stack model").
//
//   StackVersions versions = parse_stack_spec("starlette==0.20.4,python==3.7");
//   Stack stack = resolve(versions);   // stack.base_http == BaseHttpBehaviour::cancel
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/fastapi.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios {

// Bad input from a user (a malformed or unknown version, an unknown
// package): the CLI turns it into exit 2 with this message.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Versions by package; an empty string means "the scenario's own choice".
struct StackVersions {
  std::string starlette{};
  std::string uvicorn{};
  std::string python{};
  std::string anyio{};
  std::string fastapi{};
};

// "starlette==0.20.4,uvicorn==0.28.0": packages starlette, uvicorn, python,
// anyio, fastapi; each at most once. A PEP 440 local label applies an
// upstream pull request no release has yet (the only one modelled:
// uvicorn==0.51.0+pr3156, Kludex/uvicorn#3156). Throws UsageError naming the
// bad part.
StackVersions parse_stack_spec(std::string_view spec);
// The same text back, packages in the order above, unset ones left out.
std::string to_string(const StackVersions& versions);
// `override_with`'s set fields replace `base`'s.
StackVersions merge(StackVersions base, const StackVersions& override_with);

// The named behaviours a stack of versions has.
struct Stack {
  StackVersions versions{};
  core::BaseHttpBehaviour base_http = core::BaseHttpBehaviour::fixed;     // starlette
  core::StreamingBehaviour streaming = core::StreamingBehaviour::listen;  // starlette (+ spec_version)
  core::ServerOptions server{};                                           // uvicorn
  core::PythonVersion python = core::PythonVersion::py38;                 // python
  sim::TaskGroupErrors task_group_errors = sim::TaskGroupErrors::anyio3;  // anyio
  sim::LimiterWakeOrder limiter_wake_order = sim::LimiterWakeOrder::newest_first;   // anyio
  core::YieldExitBehaviour yield_exit = core::YieldExitBehaviour::own_limiter;      // fastapi
  core::YieldExitTiming yield_exit_timing = core::YieldExitTiming::after_response;  // fastapi
};

// Resolves every set version (unset ones keep the defaults above). Throws
// UsageError for a version the model has no behaviour for (e.g. Starlette
// before 0.15.0), naming the package and the version.
Stack resolve(const StackVersions& versions);

// One line naming each layer's resolved behaviour, for a run's first line:
// "starlette 0.20.4 (BaseHTTPMiddleware cancel, streaming listen), uvicorn
// default (ASGI spec 2.3, ...), ...".
std::string describe_behaviours(const Stack& stack);

// A warning per version newer than the newest release whose behaviour the
// model tells apart (it runs as that release does; the warning says how).
std::vector<std::string> stack_warnings(const StackVersions& versions);

}  // namespace asgisim::scenarios
