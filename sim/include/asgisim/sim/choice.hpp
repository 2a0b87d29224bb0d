// Every nondeterministic decision of a run goes through a ChoiceSource. A run
// is a pure function of the choices it is given, which is what makes replay,
// shrinking, fuzzing and property testing one mechanism.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/sim/prng.hpp"
#include "asgisim/sim/types.hpp"

namespace asgisim::sim {

// Independent random streams, so that (with the seeded source) changing how
// often faults are injected does not disturb the schedule, and so on.
enum class Stream : std::uint8_t { scheduler = 0, clients = 1, faults = 2, other = 3 };
inline constexpr std::size_t kStreamCount = 4;

// Says what is being decided. `name` must outlive the run (use a string
// literal) and be a token: letters, digits, '.', '_', '-', ':' and '/' only,
// because the decision-log file stores it unquoted.
struct Label {
  std::string_view name;
  Stream stream = Stream::other;
};

bool is_valid_label_name(std::string_view name);

// One decision as recorded: what was asked (label, n) and the answer.
struct Decision {
  std::string_view label;  // points into a literal or into DecisionLog storage
  Stream stream = Stream::other;
  std::uint64_t n = 0;      // number of alternatives, > 1
  std::uint64_t value = 0;  // 0 <= value < n
  // The task that asked (for sched.pick: the task that was running when the
  // scheduler picked the next one); kNoTask for the main context and for a
  // decision read from a file. In memory only, for the shrinker's spans: the
  // file format does not store it, and replay never compares it.
  TaskId task = kNoTask;
};

class ChoiceSource {
 public:
  virtual ~ChoiceSource() = default;
  // Returns a value in [0, n). Precondition: n >= 2 (the Simulation answers
  // n <= 1 itself without asking, so such non-decisions are never logged).
  virtual std::uint64_t choose(Label where, std::uint64_t n) = 0;
  // Non-empty after a strict source met a decision it cannot answer; the
  // Simulation then stops the run with this message.
  virtual const std::string& divergence() const;

 protected:
  std::string divergence_;
};

// The default source: one xoshiro256** generator per Stream, each seeded from
// the run's seed through SplitMix64, so streams are independent.
class PrngChoiceSource final : public ChoiceSource {
 public:
  explicit PrngChoiceSource(std::uint64_t seed);
  std::uint64_t choose(Label where, std::uint64_t n) override;

 private:
  std::vector<Xoshiro256> streams_;
};

enum class ReplayMode {
  // Every label must match and every value be in range; the first mismatch
  // stops the run with an error naming the position and both labels.
  strict,
  // Out-of-range values are reduced into range, an exhausted log answers 0,
  // labels are not compared. Any decision sequence is a valid run.
  lenient,
};

// Replays a recorded sequence of decisions.
class ReplayChoiceSource final : public ChoiceSource {
 public:
  // `decisions` must outlive the source. `first_line` is the file line of
  // decisions[0] (0 when the decisions did not come from a file), used in
  // error messages.
  ReplayChoiceSource(std::span<const Decision> decisions, ReplayMode mode, std::size_t first_line = 0);
  std::uint64_t choose(Label where, std::uint64_t n) override;
  std::size_t position() const { return position_; }
  bool exhausted() const { return position_ >= decisions_.size(); }

 private:
  // Sets divergence_ (strict mode); `recorded` is null when the log is exhausted.
  void diverge(Label where, std::uint64_t n, const Decision* recorded);

  std::span<const Decision> decisions_;
  ReplayMode mode_;
  std::size_t first_line_;
  std::size_t position_ = 0;
};

// Lenient source over raw bytes (libFuzzer's input): each decision consumes
// just enough little-endian bytes to cover n, reduced modulo n; an exhausted
// input answers 0.
class ByteChoiceSource final : public ChoiceSource {
 public:
  explicit ByteChoiceSource(std::span<const std::uint8_t> bytes);
  std::uint64_t choose(Label where, std::uint64_t n) override;
  std::size_t consumed() const { return offset_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
};

std::string_view to_string(Stream stream);
bool parse_stream(std::string_view text, Stream& out);

}  // namespace asgisim::sim
