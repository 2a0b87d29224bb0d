// The decision log's strict parser: names the line of every problem instead
// of accepting a damaged or truncated log, and never accepts a log that
// DecisionLog::to_text() (decision_log.cpp) could not write back.
#include <algorithm>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "asgisim/sim/assert.hpp"

#include "asgisim/sim/decision_log.hpp"
#include "decision_log_text.hpp"

namespace asgisim::sim {

using namespace decision_log_text;

namespace {

enum class NumberStatus { ok, not_a_number, out_of_range };

NumberStatus parse_number(std::string_view text, int base, std::uint64_t& out) {
  const auto is_digit = [base](char c) {
    if (c >= '0' && c <= '9') return true;
    return base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
  };
  // from_chars alone would accept a prefix of the token; insist on all of it.
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) return NumberStatus::not_a_number;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  if (error == std::errc::result_out_of_range) return NumberStatus::out_of_range;
  if (error != std::errc() || end != text.data() + text.size()) return NumberStatus::not_a_number;
  return NumberStatus::ok;
}

struct KeyValue {
  std::string_view key;
  std::string_view value;  // everything after the first space or tab
};

KeyValue split_key(std::string_view line) {
  const std::size_t space = line.find_first_of(" \t");
  if (space == std::string_view::npos) return {line, {}};
  return {line.substr(0, space), line.substr(space + 1)};
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& origin) : text_(text), origin_(origin) {}

  // Decision labels point into the text; the caller makes the log own them.
  DecisionLog parse() {
    DecisionLog log;
    parse_magic();
    const std::uint64_t count = parse_header(log);
    parse_decisions(log, count);
    parse_end(count);
    return log;
  }

  std::size_t first_decision_line() const { return first_decision_line_; }

 private:
  // Advances to the next line (without its '\n' or a trailing '\r').
  bool next_line() {
    if (offset_ >= text_.size()) return false;
    const std::size_t newline = text_.find('\n', offset_);
    const std::size_t end = newline == std::string_view::npos ? text_.size() : newline;
    line_ = text_.substr(offset_, end - offset_);
    offset_ = newline == std::string_view::npos ? text_.size() : newline + 1;
    if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);
    ++line_number_;
    return true;
  }

  // Skips blank and comment lines; false at the end of the text.
  bool next_significant_line() {
    while (next_line()) {
      if (!is_blank(line_) && !is_comment(line_)) return true;
    }
    return false;
  }

  [[noreturn]] void fail(const std::string& problem) const {
    const std::size_t line = std::max<std::size_t>(line_number_, 1);
    throw DecisionLogError(fmt::format("{}:{}: {}", origin_, line, problem), line);
  }

  void parse_magic() {
    if (!next_significant_line()) {
      fail(fmt::format("empty decision log: expected '{} {}'", kMagic, DecisionLog::kFormatVersion));
    }
    const auto [key, value] = split_key(line_);
    if (key != kMagic) {
      fail(fmt::format("not a decision log: expected '{} {}', found {}", kMagic, DecisionLog::kFormatVersion,
                       shown(line_)));
    }
    std::uint64_t version = 0;
    if (parse_number(value, 10, version) != NumberStatus::ok) {
      fail(fmt::format("garbled format version {}", shown(value)));
    }
    if (version != static_cast<std::uint64_t>(DecisionLog::kFormatVersion)) {
      fail(fmt::format("unsupported format version {} (this build reads version {})", version,
                       DecisionLog::kFormatVersion));
    }
  }

  // Reads header lines up to and including "decisions N"; returns N.
  std::uint64_t parse_header(DecisionLog& log) {
    bool seen_tool_version = false;
    bool seen_config_hash = false;
    for (;;) {
      if (!next_significant_line()) fail("file ends before the 'decisions N' line (truncated?)");
      const auto [key, value] = split_key(line_);
      if (key.empty()) fail(fmt::format("expected 'key value', found {}", shown(line_)));
      if (!is_header_value(value)) fail(fmt::format("carriage return inside {}", shown(line_)));
      if (key == kToolVersionKey) {
        if (seen_tool_version) fail("duplicate 'tool-version' line");
        seen_tool_version = true;
        log.tool_version = std::string(value);
      } else if (key == kConfigHashKey) {
        if (seen_config_hash) fail("duplicate 'config-hash' line");
        seen_config_hash = true;
        log.config_hash = parse_config_hash(value);
      } else if (key == kDecisionsKey) {
        if (!seen_tool_version) fail("missing 'tool-version' line before 'decisions'");
        if (!seen_config_hash) fail("missing 'config-hash' line before 'decisions'");
        return parse_field_number("decision count", value);
      } else if (key == kMagic) {
        fail(fmt::format("duplicate '{}' line", kMagic));
      } else if (key == kEnd) {
        fail("'end' before the 'decisions N' line");
      } else {
        if (!is_metadata_key(key)) fail(fmt::format("invalid metadata key {}", shown(key)));
        if (!log.metadata.emplace(std::string(key), std::string(value)).second) {
          fail(fmt::format("duplicate metadata key {}", shown(key)));
        }
      }
    }
  }

  std::uint64_t parse_config_hash(std::string_view value) const {
    constexpr std::size_t kHexDigitsMax = 16;
    const std::string_view digits = value.substr(std::min<std::size_t>(2, value.size()));
    std::uint64_t hash = 0;
    if (value.substr(0, 2) != "0x" || digits.size() > kHexDigitsMax ||
        parse_number(digits, 16, hash) != NumberStatus::ok) {
      fail(fmt::format("config-hash must be '0x' and 1 to 16 hex digits, found {}", shown(value)));
    }
    return hash;
  }

  std::uint64_t parse_field_number(std::string_view name, std::string_view text) const {
    std::uint64_t number = 0;
    switch (parse_number(text, 10, number)) {
      case NumberStatus::ok:
        return number;
      case NumberStatus::not_a_number:
        fail(fmt::format("{} is not a decimal number: {}", name, shown(text)));
      case NumberStatus::out_of_range:
        fail(fmt::format("{} out of range: {}", name, shown(text)));
    }
    fail("unreachable");
  }

  void parse_decisions(DecisionLog& log, std::uint64_t count) {
    const std::size_t count_line = line_number_;
    first_decision_line_ = line_number_ + 1;
    // A decision line takes at least 8 bytes, so a lying count cannot make
    // us reserve more than the text could hold.
    log.mutable_decisions().reserve(std::min<std::uint64_t>(count, (text_.size() - offset_) / 8 + 1));
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!next_line()) {
        fail(
            fmt::format("file ends after {} of {} decisions, without the 'end' line (truncated?)", i, count));
      }
      if (line_ == kEnd) {
        fail(fmt::format("'end' after {} decisions, but line {} says {}", i, count_line, count));
      }
      if (is_blank(line_) || is_comment(line_)) {
        fail("blank or comment line inside the decision block (decision lines must be contiguous)");
      }
      log.record(parse_decision());
    }
    ASGISIM_ASSERT(log.size() == count);
  }

  Decision parse_decision() const {
    constexpr std::size_t kFields = 4;
    std::string_view fields[kFields];
    std::size_t field_count = 0;
    std::size_t at = 0;
    for (;;) {
      at = line_.find_first_not_of(" \t", at);
      if (at == std::string_view::npos) break;
      const std::size_t end = std::min(line_.find_first_of(" \t", at), line_.size());
      if (field_count == kFields) {
        fail(fmt::format("expected '<label> <stream> <n> <value>', found extra text in {}", shown(line_)));
      }
      fields[field_count++] = line_.substr(at, end - at);
      at = end;
    }
    if (field_count != kFields) {
      fail(fmt::format("expected '<label> <stream> <n> <value>', found {}", shown(line_)));
    }
    Decision decision;
    if (!is_valid_label_name(fields[0])) {
      fail(fmt::format("invalid label {} (letters, digits and . _ - : / only)", shown(fields[0])));
    }
    if (!parse_stream(fields[1], decision.stream)) {
      fail(fmt::format("unknown stream {} (expected scheduler, clients, faults or other)", shown(fields[1])));
    }
    decision.n = parse_field_number("n", fields[2]);
    decision.value = parse_field_number("value", fields[3]);
    if (decision.n < 2) fail(fmt::format("n must be at least 2, found {}", decision.n));
    if (decision.value >= decision.n) {
      fail(fmt::format("value {} out of range for n={}", decision.value, decision.n));
    }
    decision.label = fields[0];
    return decision;
  }

  void parse_end(std::uint64_t count) {
    if (!next_line())
      fail(fmt::format("file ends after {} decisions without the 'end' line (truncated?)", count));
    if (line_ != kEnd) {
      fail(fmt::format("expected 'end' after {} decisions, found {} (is the decision count wrong?)", count,
                       shown(line_)));
    }
    while (next_line()) {
      if (!is_blank(line_) && !is_comment(line_))
        fail(fmt::format("unexpected text after 'end': {}", shown(line_)));
    }
  }

  std::string_view text_;
  const std::string& origin_;
  std::size_t offset_ = 0;
  std::string_view line_;
  std::size_t line_number_ = 0;
  std::size_t first_decision_line_ = 0;
};

}  // namespace

DecisionLog DecisionLog::parse(std::string_view text, const std::string& origin) {
  Parser parser(text, origin);
  DecisionLog log = parser.parse();
  log.own_labels();  // the labels pointed into `text`
  log.first_decision_line_ = parser.first_decision_line();
  return log;
}

DecisionLog DecisionLog::load(const std::filesystem::path& path) {
  const File file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    throw DecisionLogError(fmt::format("{}: cannot open decision log: {}", path.string(), error_text(errno)),
                           0);
  }
  std::string text;
  char buffer[1 << 14];
  for (;;) {
    const std::size_t read_bytes = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, read_bytes);
    if (read_bytes < sizeof buffer) break;
  }
  if (std::ferror(file.get()) != 0) {
    throw DecisionLogError(fmt::format("{}: cannot read decision log: {}", path.string(), error_text(errno)),
                           0);
  }
  return parse(text, path.string());
}

}  // namespace asgisim::sim
