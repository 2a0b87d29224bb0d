// Tests of the trace (trace.hpp): the hash covers every field, the ring keeps
// the newest records, strings intern in first-use order and annotations stay
// out of the hash.
#include "asgisim/sim/trace.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asgisim::sim {
namespace {

constexpr TraceRecord kBase{1000, 3, TraceKind::block, 2, 77, 5};

std::uint64_t hash_of(const std::vector<TraceRecord>& records) {
  Trace trace(TraceOptions{0});
  for (const TraceRecord& record : records) trace.record(record);
  return trace.hash();
}

TEST(TraceTest, HashIsDeterministic) {
  EXPECT_EQ(hash_of({kBase, kBase}), hash_of({kBase, kBase}));
  EXPECT_NE(hash_of({}), hash_of({kBase}));
  EXPECT_NE(hash_of({kBase}), hash_of({kBase, kBase}));
}

TEST(TraceTest, HashChangesWithEveryField) {
  const std::uint64_t base = hash_of({kBase});
  std::vector<TraceRecord> changed(6, kBase);
  changed[0].time_ns += 1;
  changed[1].task += 1;
  changed[2].kind = TraceKind::wake;
  changed[3].detail += 1;
  changed[4].object += 1;
  changed[5].value += 1;
  for (std::size_t i = 0; i < changed.size(); ++i) {
    EXPECT_NE(hash_of({changed[i]}), base) << "field " << i;
    for (std::size_t j = i + 1; j < changed.size(); ++j)
      EXPECT_NE(hash_of({changed[i]}), hash_of({changed[j]}));
  }
  // High bits count too.
  TraceRecord high = kBase;
  high.value ^= std::uint64_t{1} << 63;
  EXPECT_NE(hash_of({high}), base);
  // And so does the order of records.
  TraceRecord other = kBase;
  other.task = 4;
  EXPECT_NE(hash_of({kBase, other}), hash_of({other, kBase}));
}

TraceRecord numbered(std::uint64_t i) {
  return TraceRecord{static_cast<Nanoseconds>(i), 1, TraceKind::note, 0, 1, i};
}

TEST(TraceTest, RingBelowCapacityKeepsEverything) {
  Trace trace(TraceOptions{8});
  for (std::uint64_t i = 0; i < 3; ++i) trace.record(numbered(i));
  const auto records = trace.records();
  ASSERT_EQ(records.size(), 3u);
  for (std::uint64_t i = 0; i < 3; ++i) EXPECT_EQ(records[i].value, i);
  EXPECT_FALSE(trace.truncated());
  EXPECT_EQ(trace.count(), 3u);
}

TEST(TraceTest, RingWrapKeepsNewestOldestFirst) {
  Trace trace(TraceOptions{5});  // rounded up to 8
  for (std::uint64_t i = 0; i < 20; ++i) trace.record(numbered(i));
  const auto records = trace.records();
  ASSERT_EQ(records.size(), 8u);
  for (std::uint64_t i = 0; i < 8; ++i) EXPECT_EQ(records[i].value, 12 + i);
  EXPECT_TRUE(trace.truncated());
  EXPECT_EQ(trace.count(), 20u);

  Trace exact(TraceOptions{8});  // exactly full is not truncated
  for (std::uint64_t i = 0; i < 8; ++i) exact.record(numbered(i));
  EXPECT_FALSE(exact.truncated());
  EXPECT_EQ(exact.records().front().value, 0u);
  exact.record(numbered(8));
  EXPECT_TRUE(exact.truncated());
  EXPECT_EQ(exact.records().front().value, 1u);
  EXPECT_EQ(exact.records().back().value, 8u);
}

TEST(TraceTest, NoRingStillHashes) {
  Trace without(TraceOptions{0});
  Trace with(TraceOptions{4});
  for (std::uint64_t i = 0; i < 10; ++i) {
    without.record(numbered(i));
    with.record(numbered(i));
  }
  EXPECT_TRUE(without.records().empty());
  EXPECT_EQ(without.hash(), with.hash());
  EXPECT_EQ(without.count(), 10u);
}

TEST(TraceTest, InternIdsInFirstUseOrder) {
  Trace trace;
  EXPECT_EQ(trace.intern("request.start"), 1u);
  EXPECT_EQ(trace.intern("request.end"), 2u);
  EXPECT_EQ(trace.intern("request.start"), 1u);
  EXPECT_EQ(trace.intern(""), 3u);
  EXPECT_EQ(trace.string(1), "request.start");
  EXPECT_EQ(trace.string(2), "request.end");
  EXPECT_EQ(trace.string(3), "");
  EXPECT_EQ(trace.string(0), "");
  EXPECT_EQ(trace.string(4), "");
  // Views stay valid while more strings are added.
  const std::string_view first = trace.string(1);
  // Appended, not `"s" + std::to_string(i)`: GCC 12 at -O3 reports a false
  // -Wrestrict in that operator+ (GCC bug 105651).
  for (int i = 0; i < 1000; ++i) trace.intern(std::string("s").append(std::to_string(i)));
  EXPECT_EQ(first, "request.start");
  EXPECT_EQ(trace.intern("s999"), 1003u);
}

TEST(TraceTest, AnnotationsAreKeptApartFromTheHash) {
  Trace plain(TraceOptions{4});
  Trace annotated(TraceOptions{4});
  for (std::uint64_t i = 0; i < 6; ++i) {
    TraceRecord record = kBase;
    record.value = i;
    plain.record(record);
    annotated.record(record);
    annotated.annotate("record " + std::to_string(i));
  }
  EXPECT_EQ(plain.hash(), annotated.hash());
  EXPECT_EQ(annotated.annotation(5), "record 5");
  EXPECT_EQ(annotated.annotation(2), "record 2");
  EXPECT_EQ(annotated.annotation(1), "") << "the ring dropped record 1: its annotation goes too";
  EXPECT_EQ(annotated.annotation(6), "");
  annotated.record(kBase);  // record 6 reuses record 2's slot and says nothing
  EXPECT_EQ(annotated.annotation(6), "") << "a slot's older text is not the new record's";
  EXPECT_EQ(annotated.annotation(2), "");
  annotated.annotate_with([](std::string& out) { out.append("written in place"); });
  EXPECT_EQ(annotated.annotation(6), "written in place");
  annotated.annotate("replaced");
  EXPECT_EQ(annotated.annotation(6), "replaced");
  EXPECT_EQ(annotated.annotation(5), "record 5");
  Trace none(TraceOptions{0});
  none.record(kBase);
  EXPECT_FALSE(none.keeps_records());
  none.annotate("kept nowhere");
  EXPECT_EQ(none.annotation(0), "");
  bool written = false;
  none.annotate_with([&written](std::string&) { written = true; });
  EXPECT_FALSE(written) << "no text is built for a trace that keeps no records";
}

TEST(TraceTest, AnnotationsFollowTheRingOverManyTurns) {
  Trace trace(TraceOptions{128});
  const auto text = [](std::uint64_t i) { return std::string("record ").append(std::to_string(i)); };
  for (std::uint64_t i = 0; i < 10'000; ++i) {
    trace.record(kBase);
    if (i % 3 != 0) trace.annotate(text(i));  // every third record says nothing
  }
  for (std::uint64_t i = 0; i < 10'000 - 128; i += 97) EXPECT_EQ(trace.annotation(i), "") << i;
  for (std::uint64_t i = 10'000 - 128; i < 10'000; ++i)
    EXPECT_EQ(trace.annotation(i), i % 3 != 0 ? text(i) : "") << i;
}

}  // namespace
}  // namespace asgisim::sim
