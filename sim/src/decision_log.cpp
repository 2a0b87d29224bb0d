// The decision log: copying it with its labels, and writing its text format
// (the parser is decision_log_parse.cpp).
#include "asgisim/sim/decision_log.hpp"

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "asgisim/sim/assert.hpp"

#include "decision_log_text.hpp"

namespace asgisim::sim {

using namespace decision_log_text;

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

}  // namespace asgisim::sim
