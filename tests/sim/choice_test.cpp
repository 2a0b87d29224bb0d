// Tests of the choice sources: the seeded generators' known answers and
// independence, strict and lenient replay, and the fuzzer byte source.
#include "asgisim/sim/choice.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

namespace asgisim::sim {
namespace {

constexpr Label kPick{"sched.pick", Stream::scheduler};
constexpr Label kDisconnect{"client.disconnect", Stream::clients};
constexpr Label kSlow{"fault.slow", Stream::faults};

TEST(SplitMix64Test, KnownAnswersFromSeedZero) {
  SplitMix64 generator(0);
  EXPECT_EQ(generator.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(generator.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(generator.next(), 0x06c45d188009454fULL);
}

TEST(Xoshiro256Test, KnownAnswersFromSeedZero) {
  // Reference xoshiro256** with its state filled by SplitMix64(0).
  Xoshiro256 generator(0);
  EXPECT_EQ(generator.next(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(generator.next(), 0xbf6e1f784956452aULL);
  EXPECT_EQ(generator.next(), 0x1a5f849d4933e6e0ULL);
}

TEST(Xoshiro256Test, BelowStaysInRange) {
  Xoshiro256 generator(7);
  const std::array<std::uint64_t, 7> bounds = {1,
                                               2,
                                               3,
                                               1000,
                                               (std::uint64_t{1} << 63) + 1,
                                               std::numeric_limits<std::uint64_t>::max() - 1,
                                               std::numeric_limits<std::uint64_t>::max()};
  for (const std::uint64_t n : bounds) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(generator.below(n), n) << "n=" << n;
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(generator.below(1), 0u);
}

TEST(Xoshiro256Test, BelowIsRoughlyUniform) {
  Xoshiro256 generator(42);
  constexpr int kBuckets = 3;
  constexpr int kDraws = 30'000;
  std::array<int, kBuckets> counts{};
  for (int i = 0; i < kDraws; ++i) ++counts[generator.below(kBuckets)];
  for (const int count : counts) {
    EXPECT_GT(count, kDraws / kBuckets * 95 / 100);
    EXPECT_LT(count, kDraws / kBuckets * 105 / 100);
  }
  // With n about two thirds of 2^64, a plain `next() % n` would land in the
  // lower half of [0, n) two times out of three.
  constexpr std::uint64_t kTwoThirds = 0xaaaa'aaaa'aaaa'aaaaULL;
  int lower_half = 0;
  for (int i = 0; i < 10'000; ++i) lower_half += generator.below(kTwoThirds) < kTwoThirds / 2 ? 1 : 0;
  EXPECT_GT(lower_half, 4'700);
  EXPECT_LT(lower_half, 5'300);
}

std::vector<std::uint64_t> draw(ChoiceSource& source, Label where, std::uint64_t n, int count) {
  std::vector<std::uint64_t> values;
  for (int i = 0; i < count; ++i) values.push_back(source.choose(where, n));
  return values;
}

TEST(PrngChoiceSourceTest, SameSeedSameChoices) {
  PrngChoiceSource a(1234);
  PrngChoiceSource b(1234);
  for (int i = 0; i < 200; ++i) {
    const Label where = i % 3 == 0 ? kPick : (i % 3 == 1 ? kDisconnect : kSlow);
    const auto n = static_cast<std::uint64_t>(2 + i);
    ASSERT_EQ(a.choose(where, n), b.choose(where, n)) << "decision " << i;
  }
  EXPECT_TRUE(a.divergence().empty());
}

TEST(PrngChoiceSourceTest, DifferentSeedsDiffer) {
  PrngChoiceSource a(1);
  PrngChoiceSource b(2);
  EXPECT_NE(draw(a, kPick, 1'000'000, 8), draw(b, kPick, 1'000'000, 8));
}

TEST(PrngChoiceSourceTest, StreamsAreIndependent) {
  // Drawing more (or fewer) faults must not move the schedule.
  PrngChoiceSource quiet(99);
  PrngChoiceSource noisy(99);
  std::vector<std::uint64_t> quiet_schedule;
  std::vector<std::uint64_t> noisy_schedule;
  for (int i = 0; i < 100; ++i) {
    quiet_schedule.push_back(quiet.choose(kPick, 1'000'000));
    for (int j = 0; j <= i % 4; ++j) noisy.choose(kSlow, 2);
    noisy.choose(kDisconnect, 17);
    noisy_schedule.push_back(noisy.choose(kPick, 1'000'000));
  }
  EXPECT_EQ(quiet_schedule, noisy_schedule);

  // And the streams are not copies of one another.
  std::array<std::vector<std::uint64_t>, kStreamCount> per_stream;
  PrngChoiceSource source(99);
  for (std::size_t s = 0; s < kStreamCount; ++s) {
    per_stream[s] =
        draw(source, Label{"x", static_cast<Stream>(s)}, std::numeric_limits<std::uint64_t>::max(), 4);
  }
  for (std::size_t s = 0; s < kStreamCount; ++s) {
    for (std::size_t t = s + 1; t < kStreamCount; ++t) EXPECT_NE(per_stream[s], per_stream[t]);
  }
}

const std::vector<Decision> kRecorded = {
    {"sched.pick", Stream::scheduler, 2, 1},
    {"client.disconnect", Stream::clients, 4, 3},
    {"fault.slow", Stream::faults, 2, 1},
};

TEST(ReplayChoiceSourceTest, StrictReplaysMatchingRun) {
  ReplayChoiceSource source(kRecorded, ReplayMode::strict);
  EXPECT_EQ(source.choose(kPick, 2), 1u);
  EXPECT_EQ(source.choose(kDisconnect, 4), 3u);
  EXPECT_EQ(source.choose(kSlow, 2), 1u);
  EXPECT_TRUE(source.divergence().empty());
  EXPECT_TRUE(source.exhausted());
  EXPECT_EQ(source.position(), 3u);
}

TEST(ReplayChoiceSourceTest, StrictLabelMismatchNamesPositionLineAndBothLabels) {
  ReplayChoiceSource source(kRecorded, ReplayMode::strict, 7);
  EXPECT_EQ(source.choose(kPick, 2), 1u);
  EXPECT_EQ(source.choose(kSlow, 4), 0u);
  const std::string& message = source.divergence();
  EXPECT_NE(message.find("decision 1 (line 8)"), std::string::npos) << message;
  EXPECT_NE(message.find("expected 'fault.slow'"), std::string::npos) << message;
  EXPECT_NE(message.find("found 'client.disconnect'"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(source.position(), 1u);

  // The first divergence is the one reported.
  EXPECT_EQ(source.choose(kSlow, 2), 0u);
  EXPECT_EQ(source.divergence(), message);
}

TEST(ReplayChoiceSourceTest, StrictStreamMismatchIsALabelMismatch) {
  ReplayChoiceSource source(kRecorded, ReplayMode::strict);
  EXPECT_EQ(source.choose(Label{"sched.pick", Stream::faults}, 2), 0u);
  const std::string& message = source.divergence();
  EXPECT_NE(message.find("decision 0:"), std::string::npos) << message;
  EXPECT_NE(message.find("'sched.pick' (faults"), std::string::npos) << message;
  EXPECT_NE(message.find("'sched.pick' (scheduler"), std::string::npos) << message;
}

TEST(ReplayChoiceSourceTest, StrictValueOutOfRange) {
  ReplayChoiceSource source(kRecorded, ReplayMode::strict);
  EXPECT_EQ(source.choose(kPick, 2), 1u);
  EXPECT_EQ(source.choose(kDisconnect, 3), 0u);  // recorded value 3 does not fit n=3
  const std::string& message = source.divergence();
  EXPECT_NE(message.find("decision 1"), std::string::npos) << message;
  EXPECT_NE(message.find("value=3"), std::string::npos) << message;
  EXPECT_NE(message.find("out of range"), std::string::npos) << message;
}

TEST(ReplayChoiceSourceTest, StrictExhaustedLog) {
  ReplayChoiceSource source(std::span<const Decision>(kRecorded).first(1), ReplayMode::strict, 10);
  EXPECT_EQ(source.choose(kPick, 2), 1u);
  EXPECT_EQ(source.choose(kPick, 5), 0u);
  const std::string& message = source.divergence();
  EXPECT_NE(message.find("decision 1 (line 11)"), std::string::npos) << message;
  EXPECT_NE(message.find("expected 'sched.pick'"), std::string::npos) << message;
  EXPECT_NE(message.find("end of the log"), std::string::npos) << message;
}

TEST(ReplayChoiceSourceTest, LenientReducesIgnoresLabelsAndAnswersZeroWhenExhausted) {
  ReplayChoiceSource source(kRecorded, ReplayMode::lenient);
  EXPECT_EQ(source.choose(kSlow, 2), 1u);        // label differs: not compared
  EXPECT_EQ(source.choose(kPick, 3), 0u);        // 3 % 3
  EXPECT_EQ(source.choose(kDisconnect, 5), 1u);  // 1 % 5
  EXPECT_TRUE(source.exhausted());
  EXPECT_EQ(source.choose(kPick, 9), 0u);
  EXPECT_EQ(source.choose(kPick, 9), 0u);
  EXPECT_TRUE(source.divergence().empty());
}

TEST(ByteChoiceSourceTest, ConsumesJustEnoughLittleEndianBytes) {
  const std::vector<std::uint8_t> bytes = {0x05, 0xff, 0x34, 0x12, 0x01, 0x02, 0x03, 0x04, 0x09};
  ByteChoiceSource source(bytes);
  EXPECT_EQ(source.choose(kPick, 2), 1u);  // one byte, 5 % 2
  EXPECT_EQ(source.consumed(), 1u);
  EXPECT_EQ(source.choose(kPick, 256), 0xffu);  // still one byte: 255 fits in 8 bits
  EXPECT_EQ(source.consumed(), 2u);
  EXPECT_EQ(source.choose(kPick, 0x10000), 0x1234u);  // two bytes, little-endian
  EXPECT_EQ(source.consumed(), 4u);
  EXPECT_EQ(source.choose(kPick, 0x1000000), 0x030201u % 0x1000000);  // three bytes
  EXPECT_EQ(source.consumed(), 7u);
  // Wants eight bytes, two are left: uses what is there.
  EXPECT_EQ(source.choose(kPick, std::numeric_limits<std::uint64_t>::max()), 0x0904u);
  EXPECT_EQ(source.consumed(), bytes.size());
  EXPECT_EQ(source.choose(kPick, 7), 0u);
  EXPECT_EQ(source.consumed(), bytes.size());
  EXPECT_TRUE(source.divergence().empty());
}

TEST(ByteChoiceSourceTest, ReducesModuloN) {
  const std::vector<std::uint8_t> bytes = {200, 7};
  ByteChoiceSource source(bytes);
  EXPECT_EQ(source.choose(kPick, 3), 200u % 3);
  EXPECT_EQ(source.choose(kPick, 257), 7u);  // 257 needs two bytes; one is left
}

TEST(ByteChoiceSourceTest, EmptyInputAnswersZero) {
  ByteChoiceSource source({});
  EXPECT_EQ(source.choose(kPick, 2), 0u);
  EXPECT_EQ(source.choose(kSlow, 1000), 0u);
}

TEST(StreamTest, NamesRoundTrip) {
  for (std::size_t i = 0; i < kStreamCount; ++i) {
    const auto stream = static_cast<Stream>(i);
    Stream parsed = Stream::other;
    ASSERT_TRUE(parse_stream(to_string(stream), parsed));
    EXPECT_EQ(parsed, stream);
  }
  EXPECT_EQ(to_string(Stream::scheduler), "scheduler");
  EXPECT_EQ(to_string(Stream::clients), "clients");
  EXPECT_EQ(to_string(Stream::faults), "faults");
  EXPECT_EQ(to_string(Stream::other), "other");
  Stream untouched = Stream::faults;
  EXPECT_FALSE(parse_stream("Scheduler", untouched));
  EXPECT_FALSE(parse_stream("", untouched));
  EXPECT_FALSE(parse_stream("scheduler ", untouched));
  EXPECT_EQ(untouched, Stream::faults);
}

TEST(LabelTest, ValidNames) {
  EXPECT_TRUE(is_valid_label_name("sched.pick"));
  EXPECT_TRUE(is_valid_label_name("a"));
  EXPECT_TRUE(is_valid_label_name("Client-3:disconnect/early_9"));
  EXPECT_FALSE(is_valid_label_name(""));
  EXPECT_FALSE(is_valid_label_name("two words"));
  EXPECT_FALSE(is_valid_label_name("tab\there"));
  EXPECT_FALSE(is_valid_label_name("new\nline"));
  EXPECT_FALSE(is_valid_label_name("#comment"));
  EXPECT_FALSE(is_valid_label_name("quote'"));
  EXPECT_FALSE(is_valid_label_name("caf\xc3\xa9"));
}

}  // namespace
}  // namespace asgisim::sim
