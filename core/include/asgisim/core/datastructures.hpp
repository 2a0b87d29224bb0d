// The text handling that Starlette's request, response and routing code leans
// on: starlette/datastructures.py (0.26.1: URL built from a scope,
// QueryParams, MutableHeaders' set semantics) and the CPython 3.11
// urllib.parse functions under them (quote, unquote, parse_qsl), plus
// Python's str() of a float. Python str values are held as UTF-8; bytes as
// raw bytes. Malformed input (bad percent escapes, invalid UTF-8) is handled
// the way Python handles it: kept literally or replaced with U+FFFD, or a
// clear exception where Python raises.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"

namespace asgisim::core {

// Python's UnicodeDecodeError (a ValueError): bytes that are not valid UTF-8
// where Python decodes strictly.
class UnicodeDecodeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// bytes.decode("latin-1"), as UTF-8: every byte becomes the code point of
// the same value.
std::string latin1_to_utf8(std::string_view bytes);
// bytes.decode("utf-8", "replace"): each maximal invalid subsequence becomes
// U+FFFD, as CPython's decoder does.
std::string utf8_decode_replace(std::string_view bytes);
// True if bytes.decode("utf-8") would succeed.
bool is_valid_utf8(std::string_view bytes);

// urllib.parse.unquote_to_bytes: "%XX" with two hex digits becomes one byte;
// a malformed escape ("%", "%4", "%zz") is kept as it is.
std::string unquote_to_bytes(std::string_view text);
// urllib.parse.unquote(text, "utf-8", "replace") on a str held as UTF-8.
std::string unquote(std::string_view text);
// urllib.parse.quote(text, safe): UTF-8 bytes outside the unreserved set
// (A-Z a-z 0-9 _ . - ~) and `safe` become "%XX" (upper-case hex).
std::string quote(std::string_view text, std::string_view safe = "/");
// urllib.parse.parse_qsl(text, keep_blank_values) with '&' as the only
// separator (Python 3.9.2+): '+' becomes a space, then unquote().
std::vector<std::pair<std::string, std::string>> parse_qsl(std::string_view text, bool keep_blank_values);

// starlette.datastructures.QueryParams built from scope["query_string"]
// (bytes decoded as latin-1, then parse_qsl with blank values kept).
class QueryParams {
 public:
  QueryParams() = default;
  explicit QueryParams(std::string_view query_string);

  // params[key] / params.get(key): the last value given for `key`.
  std::optional<std::string> get(std::string_view key) const;
  std::vector<std::string> getlist(std::string_view key) const;
  bool contains(std::string_view key) const { return get(key).has_value(); }
  // Every (key, value) pair in order, repeats included (multi_items()).
  const std::vector<std::pair<std::string, std::string>>& multi_items() const { return items_; }
  // dict(params): one entry per key, first-seen order, last value wins.
  std::vector<std::pair<std::string, std::string>> items() const;
  std::size_t size() const { return items().size(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Headers(scope=...).get(name): the first value of `name`, compared
// case-insensitively (ASGI names are lower-case already).
std::optional<std::string> get_header(const Headers& headers, std::string_view name);
// MutableHeaders.__setitem__: replaces the first `name` header (lower-cased)
// and drops later ones, or appends it.
void set_header(Headers& headers, std::string_view name, std::string value);

// str(URL(scope=scope)): scheme://host-header + root_path + path, plus
// "?query" when there is one; without a Host header just the path (the model
// has no scope["server"]). Raises UnicodeDecodeError when the query string
// is not valid UTF-8 (Starlette decodes it strictly).
std::string url_from_scope(const Scope& scope);

// str(x) / repr(x) of a Python float: the shortest digits that round-trip,
// fixed notation for exponents -4..15 (always with a ".0"), otherwise
// scientific ("1e+16", "1.5e-05"); "inf", "-inf", "nan".
std::string python_float_repr(double value);

}  // namespace asgisim::core
