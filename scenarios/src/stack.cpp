// Stacks by version: parsing `--stack` and resolving versions to the model's
// named behaviours (DESIGN.md "core/: the ASGI stack model").
#include "asgisim/scenarios/stack.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace asgisim::scenarios {
namespace {

// "0.20.4" -> {0, 20, 4}; "3.7" -> {3, 7, 0}. One to three numeric parts.
using Version = std::array<int, 3>;

std::optional<Version> parse_version(std::string_view text) {
  Version parts{0, 0, 0};
  std::size_t count = 0;
  const char* cursor = text.data();
  const char* const end = text.data() + text.size();
  while (count < parts.size()) {
    const auto [next, error] = std::from_chars(cursor, end, parts[count]);
    if (error != std::errc() || parts[count] < 0) return std::nullopt;
    ++count;
    cursor = next;
    if (cursor == end) return parts;
    if (*cursor != '.') return std::nullopt;
    ++cursor;
  }
  return std::nullopt;  // a fourth part, or a trailing '.'
}

Version require_version(std::string_view package, std::string_view text) {
  std::optional<Version> version = parse_version(text);
  if (!version) {
    throw UsageError(fmt::format(
        "--stack: malformed version '{}' for {} (expected digits and dots, e.g. 0.20.4)", text, package));
  }
  return *version;
}

[[noreturn]] void unsupported(std::string_view package, std::string_view version, std::string_view why) {
  throw UsageError(fmt::format("--stack: {}=={} is not modelled: {}", package, version, why));
}

// An upstream pull request that no release has, applied on top of a release
// with a PEP 440 local version label: `--stack uvicorn==0.51.0+pr3156`.
struct PullRequest {
  std::string_view package;
  std::string_view label;  // after the '+'
  std::string_view what;
  void (*apply)(Stack& stack);
};
constexpr PullRequest kPullRequests[] = {
    {"uvicorn", "pr3156",
     "Kludex/uvicorn#3156 (open): run_asgi closes the connection on an app error only while the response is "
     "incomplete",
     [](Stack& stack) { stack.server.close_on_error = core::ErrorClose::incomplete_or_protocol_error; }},
};

// "0.51.0+pr3156" -> {"0.51.0", "pr3156"}; no '+': the label is empty.
std::pair<std::string_view, std::string_view> split_local_label(std::string_view version) {
  const std::size_t plus = version.find('+');
  if (plus == std::string_view::npos) return {version, {}};
  return {version.substr(0, plus), version.substr(plus + 1)};
}

// The pull request `version`'s local label names; nullptr without a label.
// Throws UsageError for a label the model does not know.
const PullRequest* pull_request(std::string_view package, std::string_view version) {
  if (version.find('+') == std::string_view::npos) return nullptr;
  const std::string_view label = split_local_label(version).second;
  std::vector<std::string> known;
  for (const PullRequest& pull : kPullRequests) {
    if (pull.package != package) continue;
    if (pull.label == label) return &pull;
    known.push_back(fmt::format("+{} ({})", pull.label, pull.what));
  }
  throw UsageError(fmt::format("--stack: {}=={}: unknown local label '+{}' ({})", package, version, label,
                               known.empty() ? fmt::format("{} has none", package)
                                             : fmt::format("known: {}", fmt::join(known, "; "))));
}

std::string* field(StackVersions& versions, std::string_view package) {
  if (package == "starlette") return &versions.starlette;
  if (package == "uvicorn") return &versions.uvicorn;
  if (package == "python") return &versions.python;
  if (package == "anyio") return &versions.anyio;
  if (package == "fastapi") return &versions.fastapi;
  return nullptr;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

void resolve_starlette(const std::string& version, Stack& stack) {
  const Version parsed = require_version("starlette", version);
  const std::optional<core::BaseHttpBehaviour> behaviour = core::base_http_behaviour_for_starlette(version);
  if (!behaviour) unsupported("starlette", version, "the model starts at 0.15.0 (the anyio era)");
  stack.base_http = *behaviour;
  stack.streaming = core::streaming_behaviour_for_starlette(parsed[0], parsed[1]);
}

void resolve_python(const std::string& version, Stack& stack) {
  const Version parsed = require_version("python", version);
  if (parsed < Version{3, 5, 0}) unsupported("python", version, "the thread pool model starts at 3.5");
  stack.python = parsed < Version{3, 8, 0} ? core::PythonVersion::py37 : core::PythonVersion::py38;
}

void resolve_anyio(const std::string& version, Stack& stack) {
  const Version parsed = require_version("anyio", version);
  if (parsed[0] == 3) {
    stack.task_group_errors = sim::TaskGroupErrors::anyio3;
  } else if (parsed[0] == 4) {
    stack.task_group_errors = sim::TaskGroupErrors::anyio4;
  } else {
    unsupported("anyio", version, "only the anyio 3 and 4 task-group conventions are modelled");
  }
  // 3.7 (anyio #538): CapacityLimiter.release() wakes the oldest waiter.
  stack.limiter_wake_order =
      parsed < Version{3, 7, 0} ? sim::LimiterWakeOrder::newest_first : sim::LimiterWakeOrder::oldest_first;
}

}  // namespace

StackVersions parse_stack_spec(std::string_view spec) {
  StackVersions versions;
  if (trim(spec).empty()) throw UsageError("--stack: empty (expected e.g. starlette==0.20.4,python==3.7)");
  std::size_t start = 0;
  while (start <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string_view part = trim(spec.substr(start, comma - start));
    start = comma + 1;
    const std::size_t equals = part.find("==");
    if (equals == std::string_view::npos) {
      throw UsageError(fmt::format("--stack: '{}' has no '==' (expected package==version)", part));
    }
    const std::string_view package = trim(part.substr(0, equals));
    const std::string_view version = trim(part.substr(equals + 2));
    std::string* slot = field(versions, package);
    if (slot == nullptr) {
      throw UsageError(fmt::format(
          "--stack: unknown package '{}' (known: starlette, uvicorn, python, anyio, fastapi)", package));
    }
    if (!slot->empty()) throw UsageError(fmt::format("--stack: {} given twice", package));
    (void)pull_request(package, version);  // an unknown local label is bad input
    const std::string_view release = split_local_label(version).first;
    require_version(package, release);
    // Behaviour changes within a minor series (starlette 0.20.0 cancels
    // differently from 0.20.4): starlette, uvicorn and fastapi need their full
    // release; of python and anyio the model reads only the minor or major.
    const bool full = package == "starlette" || package == "uvicorn" || package == "fastapi";
    if (full && std::count(release.begin(), release.end(), '.') != 2) {
      throw UsageError(fmt::format(
          "--stack: {}=={} is not a full release: give all three parts (e.g. {}==0.20.4); behaviour "
          "changes within a minor series",
          package, version, package));
    }
    *slot = std::string(version);
  }
  return versions;
}

std::string to_string(const StackVersions& versions) {
  std::vector<std::string> parts;
  const auto add = [&](std::string_view package, const std::string& version) {
    if (!version.empty()) parts.push_back(fmt::format("{}=={}", package, version));
  };
  add("starlette", versions.starlette);
  add("uvicorn", versions.uvicorn);
  add("python", versions.python);
  add("anyio", versions.anyio);
  add("fastapi", versions.fastapi);
  return fmt::format("{}", fmt::join(parts, ","));
}

StackVersions merge(StackVersions base, const StackVersions& override_with) {
  const auto take = [](std::string& into, const std::string& from) {
    if (!from.empty()) into = from;
  };
  take(base.starlette, override_with.starlette);
  take(base.uvicorn, override_with.uvicorn);
  take(base.python, override_with.python);
  take(base.anyio, override_with.anyio);
  take(base.fastapi, override_with.fastapi);
  return base;
}

Stack resolve(const StackVersions& versions) {
  Stack stack;
  stack.versions = versions;
  if (!versions.starlette.empty()) resolve_starlette(versions.starlette, stack);
  if (!versions.uvicorn.empty()) {
    const std::string_view release = split_local_label(versions.uvicorn).first;
    require_version("uvicorn", release);
    stack.server = core::uvicorn_options(release);
    if (const PullRequest* pull = pull_request("uvicorn", versions.uvicorn)) pull->apply(stack);
  }
  if (!versions.python.empty()) resolve_python(versions.python, stack);
  if (!versions.anyio.empty()) resolve_anyio(versions.anyio, stack);
  if (!versions.fastapi.empty()) {
    if (require_version("fastapi", versions.fastapi) < Version{0, 42, 0}) {
      unsupported("fastapi", versions.fastapi, "the model starts at 0.42.0 (dependencies with yield)");
    }
    const Version fastapi = require_version("fastapi", versions.fastapi);
    // PR #5122 (0.82.0) moved sync `yield` exits under their own limiter.
    stack.yield_exit = fastapi < Version{0, 82, 0} ? core::YieldExitBehaviour::shared_pool
                                                   : core::YieldExitBehaviour::own_limiter;
    // PR #10831 (0.106.0) ran the exits before the response, PR #14099
    // (0.118.0) after it again, PR #14262 (0.121.0) added Depends(scope=...).
    stack.yield_exit_timing = fastapi < Version{0, 106, 0}   ? core::YieldExitTiming::after_response
                              : fastapi < Version{0, 118, 0} ? core::YieldExitTiming::before_response
                              : fastapi < Version{0, 121, 0} ? core::YieldExitTiming::after_response
                                                             : core::YieldExitTiming::by_scope;
  }
  return stack;
}

namespace {

// The newest release of each package whose source the model was checked
// against (it behaves as the newest release the model tells apart from the
// one before, named beside it); anything newer runs so too, with a warning.
struct Newest {
  std::string_view package;
  Version version;
  std::string_view text;
  std::string_view distinguished;  // the release whose behaviour it has
};
constexpr Newest kNewestRead[] = {
    // BaseHTTPMiddleware reraise_once; read on to 1.3.1, the newest tag of
    // Kludex/starlette here: on anyio 3 it agrees with 0.46.2 on the whole
    // differential grid; what changed after 0.46.2 that the model leaves out
    // is 0.47.0's HTTPException handler on the loop (#2922; the model never
    // ran it in a thread) and 1.3.0's collapsing of anyio 4's groups (#2830).
    {"starlette", {1, 3, 1}, "1.3.1", "0.46.2"},
    // spec_version back to 2.3 in 0.32.1; h11_impl.py and httptools_impl.py
    // read at 0.40.0 and 0.51.0, the newest tag of Kludex/uvicorn (its HTTP
    // protocols unchanged on main after it, 2026-07-23), core/server.hpp.
    {"uvicorn", {0, 51, 0}, "0.51.0", "0.32.1"},
    // the yield exits' timing read to 0.141.1, the newest tag of fastapi/fastapi
    // here; it behaves as 0.121.0 (Depends(scope=...)).
    {"fastapi", {0, 141, 1}, "0.141.1", "0.121.0"},
    // task groups, cancellation delivery, Event and the waits built on it,
    // read at 4.14.2, the newest tag of agronholm/anyio here
    {"anyio", {4, 14, 2}, "4.14.2", "4.14.2"},
};

std::string_view task_group_errors_name(sim::TaskGroupErrors errors) {
  return errors == sim::TaskGroupErrors::anyio3 ? "anyio3" : "anyio4";
}

}  // namespace

std::string describe_behaviours(const Stack& stack) {
  const auto version = [](const std::string& text) { return text.empty() ? std::string("default") : text; };
  return fmt::format(
      "starlette {} (BaseHTTPMiddleware {}, streaming {}), uvicorn {} (ASGI spec {}, send after disconnect "
      "{}, close on an app error {}), python {} (thread pool {}), anyio {} (task-group errors {}, limiter "
      "wakes the {} waiter), fastapi {} (yield exits {}, {})",
      version(stack.versions.starlette), core::to_string(stack.base_http), core::to_string(stack.streaming),
      version(stack.versions.uvicorn), stack.server.spec_version,
      stack.server.send_after_disconnect == core::SendAfterDisconnect::raise ? "raises" : "dropped",
      core::to_string(stack.server.close_on_error), version(stack.versions.python),
      core::to_string(stack.python), version(stack.versions.anyio),
      task_group_errors_name(stack.task_group_errors),
      stack.limiter_wake_order == sim::LimiterWakeOrder::newest_first ? "newest" : "oldest",
      version(stack.versions.fastapi), core::to_string(stack.yield_exit),
      core::to_string(stack.yield_exit_timing));
}

std::vector<std::string> stack_warnings(const StackVersions& versions) {
  std::vector<std::string> warnings;
  StackVersions copy = versions;
  for (const Newest& newest : kNewestRead) {
    const std::string& text = *field(copy, newest.package);
    if (text.empty() || require_version(newest.package, split_local_label(text).first) <= newest.version)
      continue;
    StackVersions alone;
    *field(alone, newest.package) = text;
    const std::string since = newest.distinguished == newest.text
                                  ? std::string()
                                  : fmt::format(", which behaves as {}", newest.distinguished);
    warnings.push_back(fmt::format(
        "--stack {}=={} is newer than {}, the newest release the model was checked against{}; it runs "
        "as {} does (check that yours behaves so): {}",
        newest.package, text, newest.text, since, newest.text, describe_behaviours(resolve(alone))));
  }
  // The model's anyio 4 is 4.14.2's: an earlier 4.x runs so too, and says so.
  if (!versions.anyio.empty()) {
    const Version anyio = require_version("anyio", versions.anyio);
    if (anyio[0] == 4 && anyio < Version{4, 14, 0}) {
      warnings.push_back(fmt::format(
          "--stack anyio=={}: the model's anyio 4 was read at 4.14.2 and runs so; earlier 4.x releases "
          "differ in details it does not tell apart (a cancel scope's exit before 4.6, exception groups "
          "in it before 4.13, CapacityLimiter's hand-over before 4.10)",
          versions.anyio));
    }
  }
  return warnings;
}

}  // namespace asgisim::scenarios
