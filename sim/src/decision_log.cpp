// The decision log's text format: writing it, and a strict parser that names
// the line of every problem instead of accepting a damaged or truncated log.
#include "asgisim/sim/decision_log.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "asgisim/sim/assert.hpp"

namespace asgisim::sim {

namespace {

constexpr std::string_view kMagic = "asgisim-decisions";
constexpr std::string_view kToolVersionKey = "tool-version";
constexpr std::string_view kConfigHashKey = "config-hash";
constexpr std::string_view kDecisionsKey = "decisions";
constexpr std::string_view kEnd = "end";

bool is_space(char c) { return c == ' ' || c == '\t'; }

bool is_blank(std::string_view line) { return std::all_of(line.begin(), line.end(), is_space); }

bool is_comment(std::string_view line) { return !line.empty() && line.front() == '#'; }

// A header value runs to the end of its line, so it must not contain one.
bool is_header_value(std::string_view value) {
  return value.find('\n') == std::string_view::npos && value.find('\r') == std::string_view::npos;
}

bool is_reserved_key(std::string_view key) {
  return key == kMagic || key == kToolVersionKey || key == kConfigHashKey || key == kDecisionsKey ||
         key == kEnd;
}

// A metadata key is everything up to the first space, so it must be a
// non-empty run without whitespace that cannot be read as a comment.
bool is_metadata_key(std::string_view key) {
  if (key.empty() || key.front() == '#' || is_reserved_key(key)) return false;
  return std::none_of(key.begin(), key.end(), [](char c) { return is_space(c) || c == '\n' || c == '\r'; });
}

// The offending text for an error message: short, on one line, printable.
std::string shown(std::string_view text) {
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

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::string error_text(int error) { return std::generic_category().message(error); }

}  // namespace

DecisionLogError::DecisionLogError(const std::string& message, std::size_t line)
    : std::runtime_error(message), line_(line) {}

DecisionLog::DecisionLog(const DecisionLog& other)
    : tool_version(other.tool_version),
      config_hash(other.config_hash),
      metadata(other.metadata),
      decisions_(other.decisions_),
      first_decision_line_(other.first_decision_line_) {
  if (!other.label_storage_.empty()) own_labels();
}

DecisionLog& DecisionLog::operator=(const DecisionLog& other) {
  if (this != &other) {
    DecisionLog copy(other);
    *this = std::move(copy);
  }
  return *this;
}

std::string_view DecisionLog::intern(std::string_view name) {
  const auto found = label_index_.find(name);
  if (found != label_index_.end()) return *found;
  // std::deque never moves its elements on push_back, so views stay valid.
  const std::string_view stored = label_storage_.emplace_back(name);
  label_index_.insert(stored);
  ASGISIM_ASSERT(label_index_.size() == label_storage_.size());
  return stored;
}

void DecisionLog::own_labels() {
  for (Decision& decision : decisions_) decision.label = intern(decision.label);
}

std::string DecisionLog::to_text() const {
  if (!is_header_value(tool_version)) throw std::invalid_argument("decision log: newline in tool-version");
  std::string out = fmt::format("{} {}\n", kMagic, kFormatVersion);
  out += tool_version.empty() ? fmt::format("{}\n", kToolVersionKey)
                              : fmt::format("{} {}\n", kToolVersionKey, tool_version);
  out += fmt::format("{} 0x{:016x}\n", kConfigHashKey, config_hash);
  for (const auto& [key, value] : metadata) {
    if (!is_metadata_key(key)) {
      throw std::invalid_argument(
          fmt::format("decision log: metadata key {} is not a token or is reserved", shown(key)));
    }
    if (!is_header_value(value)) {
      throw std::invalid_argument(fmt::format("decision log: newline in metadata value of {}", shown(key)));
    }
    out += value.empty() ? fmt::format("{}\n", key) : fmt::format("{} {}\n", key, value);
  }
  out += fmt::format("{} {}\n", kDecisionsKey, decisions_.size());
  for (std::size_t i = 0; i < decisions_.size(); ++i) {
    const Decision& decision = decisions_[i];
    if (!is_valid_label_name(decision.label)) {
      throw std::invalid_argument(
          fmt::format("decision log: decision {} has invalid label {}", i, shown(decision.label)));
    }
    if (static_cast<std::size_t>(decision.stream) >= kStreamCount || decision.n < 2 ||
        decision.value >= decision.n) {
      throw std::invalid_argument(fmt::format("decision log: decision {} ({}) has stream {}, n={}, value={}",
                                              i, decision.label, static_cast<int>(decision.stream),
                                              decision.n, decision.value));
    }
    out +=
        fmt::format("{} {} {} {}\n", decision.label, to_string(decision.stream), decision.n, decision.value);
  }
  out += fmt::format("{}\n", kEnd);
  return out;
}

DecisionLog DecisionLog::parse(std::string_view text, const std::string& origin) {
  Parser parser(text, origin);
  DecisionLog log = parser.parse();
  log.own_labels();  // the labels pointed into `text`
  log.first_decision_line_ = parser.first_decision_line();
  return log;
}

void DecisionLog::save(const std::filesystem::path& path) const {
  const std::string text = to_text();
  const auto failure = [&path](int error) {
    return std::runtime_error(
        fmt::format("cannot write decision log {}: {}", path.string(), error_text(error)));
  };
  File file(std::fopen(path.c_str(), "wb"));
  if (!file) throw failure(errno);
  if (std::fwrite(text.data(), 1, text.size(), file.get()) != text.size()) throw failure(errno);
  // fclose reports errors of the final write-back (a full disk), so check it.
  if (std::fclose(file.release()) != 0) throw failure(errno);
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
