// The router fuzz target's route tables (router_fuzz.cpp): the table, its
// entries and the outcome of a request, and how the choice stream picks
// templates, parameter names, convertors and values (the data tables).
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

namespace asgisim::fuzz::router {

using core::ConvertorType;
using core::Match;
using core::PathParam;

inline constexpr std::string_view kTarget = "router";
inline constexpr std::string_view kRedirectSafe = ":/%#?=@[]!$&'()*+,;";

// ---- the route table ------------------------------------------------------------------

struct Table;

// One route or mount as built, next to what the reference needs to know.
struct Entry {
  bool mount = false;
  std::string template_text{};      // as given to Route / Mount
  std::string compiled_text{};      // what its regex is built from
  int leaf = -1;                    // Route: index into Fixture::leaves
  std::set<std::string> allowed{};  // Route: upper-cased methods (+HEAD for GET); empty = any
  std::optional<std::string> mount_name{};
  std::shared_ptr<Table> table{};  // Mount: what it mounts
};

struct Table {
  std::shared_ptr<core::Router> router{};
  std::vector<Entry> entries{};  // parallel to router->routes()
  bool redirect_slashes = true;
};

// How a route is reached from the top: the entries' indices per level.
struct Leaf {
  std::vector<std::pair<const Table*, std::size_t>> chain{};
  std::string full_name{};
};

// What the endpoint of a leaf saw.
struct Hit {
  int leaf = -1;
  std::map<std::string, PathParam> params{};
};

struct Outcome {
  enum class Kind { endpoint, not_found, not_allowed, redirect, overflow } kind = Kind::not_found;
  int leaf = -1;
  std::map<std::string, PathParam> params{};
  std::string allow{};
  std::string location{};
};

inline std::string describe(const Outcome& outcome) {
  switch (outcome.kind) {
    case Outcome::Kind::endpoint:
      return "endpoint of route r" + std::to_string(outcome.leaf);
    case Outcome::Kind::not_found:
      return "404";
    case Outcome::Kind::not_allowed:
      return "405 Allow: " + outcome.allow;
    case Outcome::Kind::redirect:
      return "307 to " + outcome.location;
    case Outcome::Kind::overflow:
      return "PathParamOverflow";
  }
  return "?";
}

inline std::string printable(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
      out += "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 0xf]) + "0123456789abcdef"[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

inline std::string rstrip_slashes(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

inline std::string join_methods(const std::set<std::string>& methods) {
  std::string out;
  for (const auto& method : methods) out += (out.empty() ? "" : ", ") + method;
  return out;
}

// ---- choosing templates and values ----------------------------------------------------

inline constexpr std::array<std::string_view, 12> kWords{"users", "a", "me",    "x.y", "0",   "12",
                                                         "%20",   " ", "items", "é",   "1.5", ""};
inline constexpr std::array<std::string_view, 7> kNames{"id", "a", "b", "path", "name", "x_1", "id"};
inline constexpr std::array<std::string_view, 8> kConvertors{"",       ":str",  ":path", ":int",
                                                             ":float", ":uuid", ":int",  ":nope"};
inline constexpr std::array<std::string_view, 9> kRaw{"/", "-", ".", ":", "{", "}", "\n", "{}", "{a:}"};

inline std::string choose_template(bool mount) {
  std::string text = rarely("template.no_slash", 24) ? "" : "/";
  const std::uint64_t pieces = pick("template.pieces", mount ? 3 : 5);
  for (std::uint64_t i = 0; i < pieces; ++i) {
    switch (pick("template.piece", 4)) {
      case 0:
      case 1:
        text += std::string(pick_from("template.word", kWords)) + "/";
        break;
      case 2:
        text += "{" + std::string(pick_from("template.name", kNames)) +
                std::string(pick_from("template.convertor", kConvertors)) + "}";
        break;
      default:
        text += pick_from("template.raw", kRaw);
        break;
    }
  }
  // A trailing "/" on about half of the templates.
  if (text.size() > 1 && text.back() == '/' && pick("template.keep_slash", 2) == 0) text.pop_back();
  return text;
}

inline constexpr std::array<std::string_view, 12> kTextPieces{"a",   "b",   "me", "0",    "7", "1.5",
                                                              "x-y", "%2F", " ",  "{id}", "é", "/"};

inline std::string choose_text(std::string_view label, std::uint64_t max_pieces) {
  std::string text;
  const std::uint64_t pieces = pick(label, max_pieces + 1);
  for (std::uint64_t i = 0; i < pieces; ++i) text += pick_from("value.piece", kTextPieces);
  if (rarely("value.newline", 16)) text += "\n";
  return text;
}

inline PathParam choose_value(ConvertorType type) {
  switch (type) {
    case ConvertorType::str:
    case ConvertorType::path:
      return choose_text("value.text", type == ConvertorType::path ? 4 : 2);
    case ConvertorType::integer: {
      constexpr std::array<std::int64_t, 7> kInts{0, 1, 7, 42, 100, 9'223'372'036'854'775'807, -1};
      switch (pick("value.int_kind", 8)) {
        case 0:
          return std::string(
              pick_from("value.int_text", std::array<std::string_view, 4>{"5", " 12 ", "1_000", "x"}));
        case 1:
          return 2.75;
        default:
          return pick_from("value.int", kInts);
      }
    }
    case ConvertorType::floating: {
      constexpr std::array<double, 9> kFloats{
          0.0, 0.5, 1.5, 3.0, 1e-25, 1e300, -1.0, std::numeric_limits<double>::infinity(), 0.1};
      switch (pick("value.float_kind", 8)) {
        case 0:
          return std::int64_t{5};
        case 1:
          return std::string("2.5");
        default:
          return pick_from("value.float", kFloats);
      }
    }
    case ConvertorType::uuid:
      return std::string(pick_from("value.uuid", std::array<std::string_view, 3>{
                                                     "123e4567-e89b-12d3-a456-426614174000",
                                                     "123E4567-E89B-12D3-A456-426614174000", "not-a-uuid"}));
  }
  return std::string("?");
}

}  // namespace asgisim::fuzz::router
