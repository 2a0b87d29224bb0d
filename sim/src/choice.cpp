// Choice sources: the seeded generator, strict and lenient replay of a decision
// log, and raw fuzzer bytes, plus the unbiased bounded draw they rely on.
#include "asgisim/sim/choice.hpp"

#include <bit>
#include <string>

#include <fmt/format.h>

#include "asgisim/sim/assert.hpp"

namespace asgisim::sim {

namespace {

// GCC and clang both provide a 128-bit integer; __extension__ keeps
// -Wpedantic quiet about it. It makes Lemire's method a single multiply.
__extension__ using Uint128 = unsigned __int128;

std::size_t stream_index(Stream stream) {
  const auto index = static_cast<std::size_t>(stream);
  ASGISIM_ASSERT(index < kStreamCount);
  return index;
}

}  // namespace

std::uint64_t Xoshiro256::below(std::uint64_t n) {
  ASGISIM_ASSERT(n > 0);
  // Lemire, "Fast Random Integer Generation in an Interval" (2019): the high
  // word of x*n is uniform in [0, n) once the low words that would give some
  // results one extra preimage are rejected.
  Uint128 product = static_cast<Uint128>(next()) * n;
  auto low = static_cast<std::uint64_t>(product);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (low < threshold) {
      product = static_cast<Uint128>(next()) * n;
      low = static_cast<std::uint64_t>(product);
    }
  }
  const auto result = static_cast<std::uint64_t>(product >> 64);
  ASGISIM_ASSERT(result < n);
  return result;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool punctuation = c == '.' || c == '_' || c == '-' || c == ':' || c == '/';
    if (!letter && !digit && !punctuation) return false;
  }
  return true;
}

const std::string& ChoiceSource::divergence() const { return divergence_; }

// ---- PrngChoiceSource --------------------------------------------------------

PrngChoiceSource::PrngChoiceSource(std::uint64_t seed) {
  // Each stream's generator is seeded with a distinct, well-mixed SplitMix64
  // output rather than seed+i: Xoshiro256 expands its seed through SplitMix64
  // again, and adjacent raw seeds would make streams share state words.
  SplitMix64 root(seed);
  streams_.reserve(kStreamCount);
  for (std::size_t i = 0; i < kStreamCount; ++i) streams_.emplace_back(root.next());
  ASGISIM_ASSERT(streams_.size() == kStreamCount);
}

std::uint64_t PrngChoiceSource::choose(Label where, std::uint64_t n) {
  ASGISIM_ASSERT(n >= 2);
  return streams_[stream_index(where.stream)].below(n);
}

// ---- ReplayChoiceSource ------------------------------------------------------

ReplayChoiceSource::ReplayChoiceSource(std::span<const Decision> decisions, ReplayMode mode,
                                       std::size_t first_line)
    : decisions_(decisions), mode_(mode), first_line_(first_line) {}

std::uint64_t ReplayChoiceSource::choose(Label where, std::uint64_t n) {
  ASGISIM_ASSERT(n >= 2);
  ASGISIM_ASSERT(position_ <= decisions_.size());

  if (mode_ == ReplayMode::lenient) {
    // Any decision sequence is a valid run: the simplest answer fills gaps.
    if (exhausted()) return 0;
    const Decision& recorded = decisions_[position_++];
    return recorded.value % n;
  }

  // Strict. After a divergence the run is being stopped; keep the first
  // message and answer the simplest choice until it is.
  if (!divergence_.empty()) return 0;
  if (exhausted()) {
    diverge(where, n, nullptr);
    return 0;
  }
  const Decision& recorded = decisions_[position_];
  if (recorded.label != where.name || recorded.stream != where.stream || recorded.value >= n) {
    diverge(where, n, &recorded);
    return 0;
  }
  ++position_;
  return recorded.value;
}

// Kept out of choose() so that the matching path, taken at every switch of a
// replayed run, formats nothing.
void ReplayChoiceSource::diverge(Label where, std::uint64_t n, const Decision* recorded) {
  ASGISIM_ASSERT(divergence_.empty());
  const std::string at = first_line_ > 0
                             ? fmt::format("decision {} (line {})", position_, first_line_ + position_)
                             : fmt::format("decision {}", position_);
  const std::string expected = fmt::format("'{}' ({}, n={})", where.name, to_string(where.stream), n);
  if (recorded == nullptr) {
    divergence_ = fmt::format("replay diverged at {}: expected {}, found the end of the log ({} decision{})",
                              at, expected, decisions_.size(), decisions_.size() == 1 ? "" : "s");
  } else {
    const bool labels_match = recorded->label == where.name && recorded->stream == where.stream;
    divergence_ = fmt::format("replay diverged at {}: expected {}, found '{}' ({}, n={}, value={}){}", at,
                              expected, recorded->label, to_string(recorded->stream), recorded->n,
                              recorded->value, labels_match ? ": value out of range" : "");
  }
  ASGISIM_ASSERT(!divergence_.empty());
}

// ---- ByteChoiceSource --------------------------------------------------------

ByteChoiceSource::ByteChoiceSource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

std::uint64_t ByteChoiceSource::choose(Label /*where*/, std::uint64_t n) {
  ASGISIM_ASSERT(n >= 2);
  ASGISIM_ASSERT(offset_ <= bytes_.size());
  // Just enough bytes to cover n-1, so that small choices consume one byte
  // and libFuzzer's byte-level mutations map onto single decisions.
  const auto bits = static_cast<std::size_t>(std::bit_width(n - 1));
  const std::size_t wanted_bytes = (bits + 7) / 8;
  const std::size_t available_bytes = bytes_.size() - offset_;
  const std::size_t taken_bytes = wanted_bytes < available_bytes ? wanted_bytes : available_bytes;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < taken_bytes; ++i) {
    value |= static_cast<std::uint64_t>(bytes_[offset_ + i]) << (8 * i);
  }
  offset_ += taken_bytes;
  ASGISIM_ASSERT(offset_ <= bytes_.size());
  return value % n;
}

// ---- Stream names ------------------------------------------------------------

std::string_view to_string(Stream stream) {
  switch (stream) {
    case Stream::scheduler:
      return "scheduler";
    case Stream::clients:
      return "clients";
    case Stream::faults:
      return "faults";
    case Stream::other:
      return "other";
  }
  return "unknown";
}

bool parse_stream(std::string_view text, Stream& out) {
  for (std::size_t i = 0; i < kStreamCount; ++i) {
    const auto stream = static_cast<Stream>(i);
    if (text == to_string(stream)) {
      out = stream;
      return true;
    }
  }
  return false;
}

}  // namespace asgisim::sim
