// The router fuzz target's requests (router_fuzz.cpp): paths made by
// url_path_for() from chosen parameter values and checked (printed pieces,
// reach, round trip), free-form paths, and one request checked against the
// reference dispatcher.
#pragma once
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

namespace asgisim::fuzz::router {

// ---- requests made by url_path_for ----------------------------------------------------

struct GivenParam {
  std::string name{};
  ConvertorType type = ConvertorType::str;
  PathParam value{};
  bool renderable = false;  // convertor_to_string accepts it
  bool matchable = false;   // ... and its text is what the convertor's regex accepts
};

// The chain's templates in order (Mounts without their "/{path:path}").
inline std::vector<std::pair<const Entry*, core::CompiledPath>> chain_templates(const Leaf& leaf) {
  std::vector<std::pair<const Entry*, core::CompiledPath>> out;
  for (const auto& [table, index] : leaf.chain) {
    const Entry& entry = table->entries[index];
    out.emplace_back(
        &entry, core::compile_path(entry.mount ? rstrip_slashes(entry.template_text) : entry.template_text));
  }
  return out;
}

// Whether the concatenated pieces split only one way: each parameter but the
// last is followed by a literal its convertor cannot run into.
inline bool unambiguous(const std::vector<core::CompiledPath::Piece>& pieces) {
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& piece = pieces[i];
    if (piece.param.empty() || i + 1 == pieces.size()) continue;
    const auto& next = pieces[i + 1];
    if (!next.param.empty() || next.literal.empty()) return false;
    const char c = next.literal.front();
    const bool digit = c >= '0' && c <= '9';
    switch (piece.type) {
      case ConvertorType::str:
        if (c != '/') return false;
        break;
      case ConvertorType::path:
        return false;
      case ConvertorType::integer:
        if (digit) return false;
        break;
      case ConvertorType::floating:
        if (digit || c == '.') return false;
        break;
      case ConvertorType::uuid:
        break;
    }
  }
  return true;
}

inline bool unnamed_mount_with_params(const Table& table) {
  for (const Entry& entry : table.entries) {
    if (!entry.mount) continue;
    if (!entry.mount_name && !core::compile_path(rstrip_slashes(entry.template_text)).params.empty()) {
      return true;
    }
    if (unnamed_mount_with_params(*entry.table)) return true;
  }
  return false;
}

struct Generated {
  std::string path{};
  std::string method{};
};

inline constexpr std::array<std::string_view, 7> kRequestMethods{"GET",    "HEAD",    "POST", "PUT",
                                                                 "DELETE", "OPTIONS", "get"};

// The values url_path_for() is called with, one per parameter of the chain,
// and what is known about them.
struct Call {
  const Leaf* leaf = nullptr;
  std::vector<std::pair<const Entry*, core::CompiledPath>> templates{};
  std::vector<GivenParam> given{};
  core::PathParams params{};
  bool distinct = true;        // no parameter name repeats along the chain
  bool all_renderable = true;  // every value passes its convertor's to_string()
  bool all_matchable = true;   // ... and prints as text its regex accepts
  // A value holds the "{name}" of another parameter its replace_params sees
  // (a Route's own; a Mount's, the chain's and "path"): it then substitutes
  // inside the value, or raises KeyError when that name has no convertor
  // there, as in Python (Kludex/starlette#3478).
  bool rewritten = false;
  std::string what{};  // the call, for messages
};

inline Call choose_call(const Leaf& leaf) {
  Call call{.leaf = &leaf, .templates = chain_templates(leaf)};
  std::set<std::string> names;
  std::vector<std::string> chain_placeholders{"{path}"};
  for (const auto& [entry, compiled] : call.templates) {
    for (const auto& [name, type] : compiled.params) chain_placeholders.push_back("{" + name + "}");
  }
  for (const auto& [entry, compiled] : call.templates) {
    std::vector<std::string> own_placeholders;
    for (const auto& [name, type] : compiled.params) own_placeholders.push_back("{" + name + "}");
    const std::vector<std::string>& seen = entry->mount ? chain_placeholders : own_placeholders;
    for (const auto& [name, type] : compiled.params) {
      GivenParam param{.name = name, .type = type, .value = choose_value(type)};
      std::string text = core::python_str(param.value);
      try {
        text = core::convertor_to_string(type, param.value);
        param.matchable = core::convertor_accepts(type, text);
        param.renderable = true;
      } catch (const std::exception&) {
      }
      const std::string own = "{" + name + "}";
      for (const std::string& placeholder : seen) {
        call.rewritten =
            call.rewritten || (placeholder != own && text.find(placeholder) != std::string::npos);
      }
      call.distinct = names.insert(name).second && call.distinct;
      call.all_renderable = call.all_renderable && param.renderable;
      call.all_matchable = call.all_matchable && param.matchable;
      call.params.emplace_back(name, param.value);
      call.given.push_back(std::move(param));
    }
  }
  call.what = "url_path_for(\"" + leaf.full_name + "\"";
  for (const GivenParam& param : call.given) {
    call.what += ", " + param.name + "=" + printable(core::python_str(param.value));
  }
  call.what += ")";
  return call;
}

// url_path_for: each piece printed, parameters through to_string(), a
// Mount's part without its trailing slashes.
inline void check_printed(const Call& call, const std::string& path) {
  if (!call.distinct || call.rewritten) return;
  std::string expected;
  for (const auto& [entry, compiled] : call.templates) {
    std::string part;
    for (const auto& piece : compiled.pieces) {
      if (piece.param.empty()) {
        part += piece.literal;
        continue;
      }
      for (const GivenParam& param : call.given) {
        if (param.name == piece.param) part += core::convertor_to_string(piece.type, param.value);
      }
    }
    expected += entry->mount ? rstrip_slashes(part) : part;
  }
  if (expected != path) {
    property_failed(kTarget, "url_path_for",
                    call.what + " gave " + printable(path) + ", expected " + printable(expected));
  }
}

// Whether the reach and round-trip properties apply to this call's path.
inline bool reach_applies(const Call& call, const std::string& path, const std::string& method) {
  const Entry& route = *call.templates.back().first;
  const bool accepted = route.allowed.empty() || route.allowed.count(method) != 0;
  bool mount_has_path_param = false;  // it would swallow the route's part of the path
  for (const auto& [entry, compiled] : call.templates) {
    for (const auto& [name, type] : compiled.params) {
      mount_has_path_param |= entry->mount && type == ConvertorType::path;
    }
  }
  // A '\n' lets Python's "$" end a Mount's {path:path} early (Starlette's behaviour, kept).
  const bool newline = path.find('\n') != std::string::npos;
  return call.distinct && !call.rewritten && call.all_matchable && accepted && !mount_has_path_param &&
         !newline;
}

// reach: every route of the chain fully matches what remains of the path;
// round trip: on an unambiguous chain the scope holds the given values after
// to_string() and convert().
inline void check_reach(const Call& call, const std::string& path, const std::string& method) {
  count("reach checked");
  core::Scope scope;
  scope.method = method;
  scope.path = path;
  for (const auto& [table, index] : call.leaf->chain) {
    core::ChildScope child;
    Match match = Match::none;
    try {
      match = table->router->routes()[index]->matches(scope, child);
    } catch (const core::PathParamOverflow&) {
      return;  // the model's documented departure from Python's unbounded ints
    }
    if (match != Match::full) {
      property_failed(kTarget, "reach",
                      call.what + " gave " + printable(path) + ", which " +
                          printable(table->entries[index].template_text) + " does not match at " +
                          printable(scope.path));
    }
    apply(scope, std::move(child));
  }
  std::vector<core::CompiledPath::Piece> pieces;
  for (const auto& [entry, compiled] : call.templates) {
    pieces.insert(pieces.end(), compiled.pieces.begin(), compiled.pieces.end());
  }
  if (!unambiguous(pieces)) return;
  if (!call.given.empty()) count("round trip checked");
  for (const GivenParam& param : call.given) {
    const PathParam expected =
        core::convertor_convert(param.type, core::convertor_to_string(param.type, param.value));
    const auto found = scope.path_params.find(param.name);
    if (found == scope.path_params.end() || found->second != expected) {
      property_failed(
          kTarget, "round trip",
          call.what + " -> " + printable(path) + ": scope has " + param.name + "=" +
              (found == scope.path_params.end() ? "nothing" : printable(core::python_str(found->second))) +
              ", expected " + printable(core::python_str(expected)));
    }
  }
}

// A method for a request to `route`: mostly one it allows.
inline std::string choose_method(const Entry& route) {
  if (!route.allowed.empty() && pick("request.allowed_method", 4) != 0) {
    auto it = route.allowed.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(pick("request.allowed_index", route.allowed.size())));
    return *it;
  }
  return std::string(pick_from("request.method", kRequestMethods));
}

// Picks a route and values, calls url_path_for and checks what it printed
// and that the route's chain matches it; returns the request to send.
inline std::optional<Generated> url_path_for_request(Fixture& fixture) {
  if (fixture.leaves().empty()) return std::nullopt;
  const Call call = choose_call(fixture.leaves()[pick("request.leaf", fixture.leaves().size())]);
  std::string path;
  try {
    path = fixture.top().router->url_path_for(call.leaf->full_name, call.params).path;
  } catch (const std::exception& error) {
    count("url_path_for raised");
    // Unnamed Mounts print their own parameters from the same arguments (as in Python).
    if (call.distinct && !call.rewritten && call.all_renderable &&
        !unnamed_mount_with_params(fixture.top())) {
      property_failed(kTarget, "url_path_for", call.what + " raised: " + error.what());
    }
    return std::nullopt;
  }
  count("url_path_for succeeded");
  check_printed(call, path);
  const std::string method = choose_method(*call.templates.back().first);
  if (reach_applies(call, path, method)) check_reach(call, path, method);
  return Generated{path, method};
}

inline std::string free_form_path() {
  std::string path = rarely("path.no_slash", 16) ? "" : "/";
  const std::uint64_t pieces = pick("path.pieces", 5);
  for (std::uint64_t i = 0; i < pieces; ++i) {
    if (pick("path.kind", 2) == 0) {
      path += std::string(pick_from("path.word", kWords)) + "/";
    } else {
      path += pick_from("path.text", kTextPieces);
    }
  }
  if (path.size() > 1 && pick("path.keep_slash", 2) == 0 && path.back() == '/') path.pop_back();
  return path;
}

inline void check_request(Fixture& fixture, const std::string& method, const std::string& path) {
  core::Scope scope;
  scope.method = method;
  scope.path = path;
  const Outcome expected = reference(fixture.top(), scope, fixture);
  const Outcome actual = run_request(fixture, method, path);
  count("request: " + describe(expected).substr(0, describe(expected).find(' ')));
  if (!same(expected, actual)) {
    property_failed(kTarget, actual.kind == Outcome::Kind::redirect ? "redirect" : "dispatch",
                    method + " " + printable(path) + ": the router answered " + describe(actual) +
                        ", the reference " + describe(expected));
  }
}

}  // namespace asgisim::fuzz::router
