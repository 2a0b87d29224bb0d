// libFuzzer target for the router (core/routing.hpp, core/convertors.hpp).
// The input bytes are the run's choice stream (sim::ByteChoiceSource, lenient:
// any byte string is a run). They choose a route table (templates with
// {name:convertor} parameters, methods, nested Mounts, redirect_slashes) and
// a few requests: paths made by url_path_for() from chosen parameter values,
// the same with the trailing slash toggled, and free-form paths. Each request
// runs through the real Router inside a Simulation, and these must hold
// (a violation aborts with the property's name):
//
//   dispatch       the Router answers what a plain reference dispatcher built
//                  on each route's own matches() says: the first full match
//                  (descending into Mounts), else 405 from the first partial
//                  match with its methods in Allow, else a 307 to the path
//                  with the slash toggled when that path matches, else 404
//   405 Allow      a 405 carries a non-empty Allow without the request's method
//   redirect       a 307 happens only with redirect_slashes, only when the
//                  original path matches nothing, and names the toggled path
//   url_path_for   with distinct parameter names and renderable values it
//                  succeeds, and prints each piece through the convertors
//   reach          each route of the chain that url_path_for() went through
//                  fully matches the path it produced (so the request reaches
//                  that route, or an earlier route that also matches it)
//   round trip     on an unambiguous template, the scope's path parameters
//                  are the given values after to_string() and convert()
//   regex          match_path() captures what Python's regex (std::regex in
//                  ECMAScript mode, which backtracks in the same order) does
//
// Replay a finding with any build: fuzz_router_replay CRASH_FILE.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/convertors.hpp"
#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/routing.hpp"
#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/simulation.hpp"
#include "fuzz_support.hpp"
#include "router_fixture.hpp"
#include "router_table.hpp"
#include "router_url_path_for.hpp"

namespace asgisim::fuzz::router {
namespace {

// ---- the regex oracle -----------------------------------------------------------------

// Starlette's compile_path, with std::regex doing what Python's re does.
std::optional<std::regex> python_regex(const std::string& template_text, std::size_t& groups) {
  static const std::regex kParam("\\{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?\\}");
  std::string pattern = "^";
  std::set<std::string> seen;
  std::size_t literal_start = 0;
  const auto escape = [&pattern](std::string_view literal) {
    for (const char c : literal) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (plain) {
        pattern += c;
      } else {
        pattern += "\\x";
        pattern += "0123456789abcdef"[(c >> 4) & 0xf];
        pattern += "0123456789abcdef"[c & 0xf];
      }
    }
  };
  groups = 0;
  for (auto it = std::sregex_iterator(template_text.begin(), template_text.end(), kParam);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& match = *it;
    const std::string type = match[2].matched ? match[2].str().substr(1) : "str";
    static const std::map<std::string, std::string> kRegexes{
        {"str", "[^/]+"},
        {"path", "[^\\n]*"},  // Python's "." (no DOTALL); ECMAScript's "." also refuses '\r'
        {"int", "[0-9]+"},
        {"float", "[0-9]+(?:\\.[0-9]+)?"},
        {"uuid", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"}};
    const auto regex = kRegexes.find(type);
    if (regex == kRegexes.end() || !seen.insert(match[1].str()).second) return std::nullopt;
    escape(std::string_view(template_text)
               .substr(literal_start, static_cast<std::size_t>(match.position(0)) - literal_start));
    pattern += "(" + regex->second + ")";
    ++groups;
    literal_start = static_cast<std::size_t>(match.position(0) + match.length(0));
  }
  escape(std::string_view(template_text).substr(literal_start));
  pattern += "\\n?$";  // Python's "$" also matches before a final newline
  return std::regex(pattern, std::regex::ECMAScript);
}

bool ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

struct PythonRegex {
  std::optional<std::regex> regex{};
  std::size_t groups = 0;
};
// Templates repeat across requests; compiling a std::regex is the costly part.
using RegexCache = std::map<std::string, PythonRegex>;

void check_regex(const std::string& template_text, const std::string& path, RegexCache& cache) {
  if (!ascii(template_text) || !ascii(path)) return;  // std::regex works on chars, not UTF-8
  auto cached = cache.find(template_text);
  if (cached == cache.end()) {
    PythonRegex compiled;
    compiled.regex = python_regex(template_text, compiled.groups);
    cached = cache.emplace(template_text, std::move(compiled)).first;
  }
  const auto& regex = cached->second.regex;
  const std::size_t groups = cached->second.groups;
  if (!regex) return;
  // libstdc++'s std::regex backtracks depth-first (a frame per character):
  // several groups against a long path take exponential time, a timeout of
  // this harness, not of the router. Python's re would be as slow there.
  constexpr std::size_t kOracleGroupsMax = 3;
  constexpr std::size_t kOraclePathMax = 64;
  if (groups > kOracleGroupsMax || path.size() > kOraclePathMax) return;
  std::smatch match;
  const bool expected = std::regex_search(path, match, *regex);
  const auto actual = core::match_path(core::compile_path(template_text), path);
  std::string detail = printable(template_text) + " against " + printable(path);
  if (expected != actual.has_value()) {
    property_failed(kTarget, "regex",
                    detail + (expected ? ": Python's regex matches, match_path does not"
                                       : ": match_path matches, Python's regex does not"));
  }
  count(expected ? "regex: match" : "regex: no match");
  if (!expected) return;
  if (actual->size() != groups) property_failed(kTarget, "regex", detail + ": different numbers of captures");
  for (std::size_t i = 0; i < groups; ++i) {
    if (match[static_cast<int>(i) + 1].str() != (*actual)[i].second) {
      property_failed(kTarget, "regex",
                      detail + ": " + (*actual)[i].first + " is " + printable((*actual)[i].second) +
                          ", Python's regex captures " + printable(match[static_cast<int>(i) + 1].str()));
    }
  }
}

// ---- one run --------------------------------------------------------------------------

void fuzz_one(Fixture& fixture) {
  fixture.build();
  const std::uint64_t requests = 1 + pick("requests", 6);
  for (std::uint64_t i = 0; i < requests; ++i) {
    const std::uint64_t kind = pick("request.kind", 3);
    if (kind == 2) {
      check_request(fixture, std::string(pick_from("request.method", kRequestMethods)), free_form_path());
      continue;
    }
    const auto generated = url_path_for_request(fixture);
    if (!generated) continue;
    std::string path = generated->path;
    if (kind == 1) path = !path.empty() && path.back() == '/' ? rstrip_slashes(path) : path + "/";
    check_request(fixture, generated->method, path);
  }
}

}  // namespace
}  // namespace asgisim::fuzz::router

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sim = asgisim::sim;
  sim::ByteChoiceSource source(std::span<const std::uint8_t>(data, size));
  sim::Simulation simulation({.trace = {.records_max = 0}, .record_decisions = false}, source);
  asgisim::fuzz::router::Fixture fixture;
  simulation.spawn("router-fuzz", [&fixture] { asgisim::fuzz::router::fuzz_one(fixture); });
  const sim::RunResult result = simulation.run();
  if (!result.ok()) {
    asgisim::fuzz::property_failed("router", "run completes",
                                   std::string(sim::to_string(result.status)) + ": " + result.report);
  }
  // Python's regex semantics, checked outside the fiber (std::regex recurses deeply).
  asgisim::fuzz::router::RegexCache cache;
  for (const auto& [template_text, path] : fixture.matched_pairs()) {
    asgisim::fuzz::router::check_regex(template_text, path, cache);
  }
  return 0;
}
