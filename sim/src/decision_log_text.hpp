// The decision log's text format as its writer (decision_log.cpp) and its
// parser (decision_log_parse.cpp) share it: the keywords, what a key or a
// value may be, how a problem quotes the text, and file handling.
#pragma once

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace asgisim::sim::decision_log_text {

inline constexpr std::string_view kMagic = "asgisim-decisions";
inline constexpr std::string_view kToolVersionKey = "tool-version";
inline constexpr std::string_view kConfigHashKey = "config-hash";
inline constexpr std::string_view kDecisionsKey = "decisions";
inline constexpr std::string_view kEnd = "end";

inline bool is_space(char c) { return c == ' ' || c == '\t'; }

inline bool is_blank(std::string_view line) { return std::all_of(line.begin(), line.end(), is_space); }

inline bool is_comment(std::string_view line) { return !line.empty() && line.front() == '#'; }

// A header value runs to the end of its line, so it must not contain one.
inline bool is_header_value(std::string_view value) {
  return value.find('\n') == std::string_view::npos && value.find('\r') == std::string_view::npos;
}

inline bool is_reserved_key(std::string_view key) {
  return key == kMagic || key == kToolVersionKey || key == kConfigHashKey || key == kDecisionsKey ||
         key == kEnd;
}

// A metadata key is everything up to the first space, so it must be a
// non-empty run without whitespace that cannot be read as a comment.
inline bool is_metadata_key(std::string_view key) {
  if (key.empty() || key.front() == '#' || is_reserved_key(key)) return false;
  return std::none_of(key.begin(), key.end(), [](char c) { return is_space(c) || c == '\n' || c == '\r'; });
}

// The offending text for an error message: short, on one line, printable.
inline std::string shown(std::string_view text) {
  constexpr std::size_t kShownMax = 60;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kShownMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > kShownMax) out += "...";
  out += "'";
  return out;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

inline std::string error_text(int error) { return std::generic_category().message(error); }

}  // namespace asgisim::sim::decision_log_text
