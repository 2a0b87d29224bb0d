// Path templates and convertors, matched with Python's regex semantics.
#include "asgisim/core/convertors.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <system_error>

#include "asgisim/core/datastructures.hpp"
#include "python_numbers.hpp"

namespace asgisim::core {

using detail::decimal_to_double;
using detail::parse_int64;
using detail::python_float;
using detail::python_int;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_identifier_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || is_digit(c); }
bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!is_digit(c) && !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

// How far a parameter of `type` could reach from `at` (its character class).
std::size_t reach(ConvertorType type, std::string_view path, std::size_t at) {
  std::size_t end = at;
  switch (type) {
    case ConvertorType::str:
      while (end < path.size() && path[end] != '/') ++end;
      break;
    case ConvertorType::path:
      while (end < path.size() && path[end] != '\n') ++end;
      break;
    case ConvertorType::integer:
      while (end < path.size() && is_digit(path[end])) ++end;
      break;
    case ConvertorType::floating:
      while (end < path.size() && (is_digit(path[end]) || path[end] == '.')) ++end;
      break;
    case ConvertorType::uuid:
      end = std::min(path.size(), at + 36);
      break;
  }
  return end - at;
}

// Python's backtracking: each parameter tries its longest match first (for
// every convertor regex, greedy order is longest-first). Whether the rest of
// the template matches from a position does not depend on how the path got
// there, so a (piece, position) that failed once fails again: remembering it
// keeps templates with many adjacent parameters polynomial (the router fuzz
// target found an exponential one) without changing which match is found.
class PathMatcher {
 public:
  PathMatcher(const CompiledPath& compiled, std::string_view path)
      : compiled_(compiled), path_(path), failed_((compiled.pieces.size() + 1) * (path.size() + 1), false) {}

  bool match_from(std::size_t piece, std::size_t at,
                  std::vector<std::pair<std::string, std::string>>& captured) {
    const std::size_t key = piece * (path_.size() + 1) + at;
    if (failed_[key]) return false;
    if (try_from(piece, at, captured)) return true;
    failed_[key] = true;
    return false;
  }

 private:
  bool try_from(std::size_t piece, std::size_t at,
                std::vector<std::pair<std::string, std::string>>& captured) {
    if (piece == compiled_.pieces.size()) {
      return at == path_.size() || (at + 1 == path_.size() && path_[at] == '\n');
    }
    const CompiledPath::Piece& current = compiled_.pieces[piece];
    if (current.param.empty()) {
      if (path_.substr(at, current.literal.size()) != current.literal) return false;
      return match_from(piece + 1, at + current.literal.size(), captured);
    }
    for (std::size_t length = reach(current.type, path_, at) + 1; length-- > 0;) {
      const std::string_view candidate = path_.substr(at, length);
      if (!convertor_accepts(current.type, candidate)) continue;
      captured.emplace_back(current.param, std::string(candidate));
      if (match_from(piece + 1, at + length, captured)) return true;
      captured.pop_back();
    }
    return false;
  }

  const CompiledPath& compiled_;
  std::string_view path_;
  std::vector<bool> failed_;
};

}  // namespace

std::optional<ConvertorType> parse_convertor_type(std::string_view name) {
  if (name == "str") return ConvertorType::str;
  if (name == "path") return ConvertorType::path;
  if (name == "int") return ConvertorType::integer;
  if (name == "float") return ConvertorType::floating;
  if (name == "uuid") return ConvertorType::uuid;
  return std::nullopt;
}

std::string_view to_string(ConvertorType type) {
  switch (type) {
    case ConvertorType::str:
      return "str";
    case ConvertorType::path:
      return "path";
    case ConvertorType::integer:
      return "int";
    case ConvertorType::floating:
      return "float";
    case ConvertorType::uuid:
      return "uuid";
  }
  return "?";
}

std::string python_str(const PathParam& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  return python_float_repr(std::get<double>(value));
}

bool convertor_accepts(ConvertorType type, std::string_view text) {
  switch (type) {
    case ConvertorType::str:
      return !text.empty() && text.find('/') == std::string_view::npos;
    case ConvertorType::path:
      return text.find('\n') == std::string_view::npos;
    case ConvertorType::integer:
      return all_digits(text);
    case ConvertorType::floating: {
      const std::size_t point = text.find('.');
      if (point == std::string_view::npos) return all_digits(text);
      return all_digits(text.substr(0, point)) && all_digits(text.substr(point + 1));
    }
    case ConvertorType::uuid:
      return is_uuid(text);
  }
  return false;
}

PathParam convertor_convert(ConvertorType type, std::string_view text) {
  switch (type) {
    case ConvertorType::integer:
      return parse_int64(text, false);
    case ConvertorType::floating:
      return decimal_to_double(text);
    default:
      return std::string(text);
  }
}

std::string convertor_to_string(ConvertorType type, const PathParam& value) {
  switch (type) {
    case ConvertorType::str: {
      std::string text = python_str(value);
      if (text.find('/') != std::string::npos) throw ConvertorError("May not contain path separators");
      if (text.empty()) throw ConvertorError("Must not be empty");
      return text;
    }
    case ConvertorType::integer: {
      const std::int64_t integer = python_int(value);
      if (integer < 0) throw ConvertorError("Negative integers are not supported");
      return std::to_string(integer);
    }
    case ConvertorType::floating: {
      const double number = python_float(value);
      if (!(number >= 0.0)) throw ConvertorError("Negative floats are not supported");
      if (std::isinf(number)) throw ConvertorError("Infinite values are not supported");
      // "%0.20f" % value, then rstrip("0").rstrip(".").
      // std::to_chars is exact, like CPython's formatting (and unlike a
      // snprintf into a std::string, gcc -O2 cannot misjudge its size).
      std::array<char, 400> buffer{};  // DBL_MAX has 309 integer digits, plus 21
      const std::to_chars_result end =
          std::to_chars(buffer.data(), buffer.data() + buffer.size(), number, std::chars_format::fixed, 20);
      std::string text(buffer.data(), end.ptr);
      while (!text.empty() && text.back() == '0') text.pop_back();
      if (!text.empty() && text.back() == '.') text.pop_back();
      return text;
    }
    case ConvertorType::path:
    case ConvertorType::uuid:
      return python_str(value);
  }
  return python_str(value);
}

std::optional<ConvertorType> CompiledPath::convertor_of(std::string_view name) const {
  for (const auto& [param, type] : params) {
    if (param == name) return type;
  }
  return std::nullopt;
}

CompiledPath compile_path(std::string_view path) {
  CompiledPath compiled;
  std::set<std::string> duplicated;
  std::size_t literal_start = 0;
  const auto add_literal = [&](std::size_t end) {
    if (end > literal_start) {
      compiled.pieces.push_back({.literal = std::string(path.substr(literal_start, end - literal_start))});
      compiled.format.append(path.substr(literal_start, end - literal_start));
    }
  };
  // PARAM_REGEX = "{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}", found left to right.
  for (std::size_t at = 0; at < path.size(); ++at) {
    if (path[at] != '{' || at + 1 >= path.size() || !is_identifier_start(path[at + 1])) continue;
    std::size_t end = at + 2;
    while (end < path.size() && is_identifier_char(path[end])) ++end;
    const std::string name(path.substr(at + 1, end - at - 1));
    std::string type_name = "str";
    if (end + 1 < path.size() && path[end] == ':' && is_identifier_start(path[end + 1])) {
      std::size_t type_end = end + 2;
      while (type_end < path.size() && is_identifier_char(path[type_end])) ++type_end;
      if (type_end < path.size() && path[type_end] == '}') {
        type_name = std::string(path.substr(end + 1, type_end - end - 1));
        end = type_end;
      }
    }
    if (end >= path.size() || path[end] != '}') continue;
    const auto type = parse_convertor_type(type_name);
    if (!type) throw std::invalid_argument("Unknown path convertor '" + type_name + "'");
    add_literal(at);
    compiled.pieces.push_back({.param = name, .type = *type});
    compiled.format += "{" + name + "}";
    if (compiled.convertor_of(name)) {
      duplicated.insert(name);
      for (auto& entry : compiled.params) {
        if (entry.first == name) entry.second = *type;  // the later convertor wins, as in the dict
      }
    } else {
      compiled.params.emplace_back(name, *type);
    }
    literal_start = end + 1;
    at = end;
  }
  add_literal(path.size());
  if (!duplicated.empty()) {
    std::string names;
    for (const auto& name : duplicated) names += (names.empty() ? "" : ", ") + name;
    throw std::invalid_argument(std::string("Duplicated param name") + (duplicated.size() > 1 ? "s " : " ") +
                                names + " at path " + std::string(path));
  }
  return compiled;
}

std::optional<std::vector<std::pair<std::string, std::string>>> match_path(const CompiledPath& compiled,
                                                                           std::string_view path) {
  std::vector<std::pair<std::string, std::string>> captured;
  if (!PathMatcher(compiled, path).match_from(0, 0, captured)) return std::nullopt;
  return captured;
}

std::string replace_params(std::string_view format, const CompiledPath& compiled, PathParams& params) {
  std::string path(format);
  for (auto it = params.begin(); it != params.end();) {
    const std::string token = "{" + it->first + "}";
    if (path.find(token) == std::string::npos) {
      ++it;
      continue;
    }
    const auto type = compiled.convertor_of(it->first);
    // The token came from an earlier value (the format holds only its own
    // names): Python's param_convertors[key] raises KeyError.
    if (!type) throw PlaceholderKeyError(it->first);
    const std::string value = convertor_to_string(*type, it->second);
    for (std::size_t at = path.find(token); at != std::string::npos;
         at = path.find(token, at + value.size())) {
      path.replace(at, token.size(), value);
    }
    it = params.erase(it);
  }
  return path;
}

}  // namespace asgisim::core
