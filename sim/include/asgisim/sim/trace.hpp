// The run's trace: every step appended as a fixed-size 32-byte record and
// folded into an incremental hash. The hash is the determinism check (same
// seed, same hash); the records are kept in a ring buffer (a flight recorder
// of the last `records_max` steps) for the timeline and Chrome export.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asgisim/sim/types.hpp"

namespace asgisim::sim {

enum class TraceKind : std::uint16_t {
  run_start = 0,  // value: seed (or 0)
  spawn,          // task: new task, object: parent task, detail: 1 if simulated thread
  switch_to,      // task: task that now runs
  yield,          // task yields at a checkpoint (stays ready)
  block,          // task blocks; object: waitable id
  wake,           // task made ready; object: waitable id; detail: WakeReason
  finish,         // task ended; detail: 1 if it raised
  timer_fire,     // time advanced to a timer; value: new time
  decision,       // value: chosen value; object: n (truncated); detail: stream
  cancel,         // object: cancel scope id
  note,           // a model-level event; object: interned string id; value: payload
  run_end,        // detail: RunStatus
};

// Layout is part of the trace-hash definition: do not reorder fields.
struct TraceRecord {
  Nanoseconds time_ns;  // virtual time of the step
  TaskId task;          // task the step is about
  TraceKind kind;
  std::uint16_t detail;  // kind-specific small value
  std::uint64_t object;  // kind-specific id
  std::uint64_t value;   // kind-specific payload
};
static_assert(sizeof(TraceRecord) == 32, "trace records are fixed-size 32 bytes");

struct TraceOptions {
  // Records kept for export (a ring: older ones are overwritten). Rounded up
  // to a power of two. 0 keeps none (the hash is still computed).
  std::size_t records_max = std::size_t{1} << 16;
};

// Appends `value` in decimal: annotation text is built on the hot path of a
// run whose trace keeps records, where format strings cost more than the
// text is worth.
inline void append_decimal(std::string& out, std::uint64_t value) {
  char digits[20];
  const char* end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

class Trace {
 public:
  explicit Trace(TraceOptions options = {});
  // string_ids_ points into strings_: a copy would point into the original.
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;
  Trace(Trace&&) = default;
  Trace& operator=(Trace&&) = default;

  void record(const TraceRecord& r) {
    // Two independent products per record and one serial step, so the hash
    // costs about one multiply of latency on the scheduler's hot path.
    const std::uint64_t head = static_cast<std::uint64_t>(r.time_ns) ^
                               rotl((static_cast<std::uint64_t>(r.task) << 32) |
                                        (static_cast<std::uint64_t>(r.kind) << 16) | r.detail,
                                    23);
    const std::uint64_t a = (head ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
    const std::uint64_t b = (r.object ^ rotl(r.value, 37) ^ 0x94d049bb133111ebULL) * 0xd6e8feb86659fd93ULL;
    hash_ = (rotl(hash_, 29) ^ a ^ rotl(b, 17)) * 0x9e3779b97f4a7c15ULL;
    if (!ring_.empty()) ring_[count_ & mask_] = r;
    ++count_;
  }

  std::uint64_t hash() const { return hash_; }
  std::uint64_t count() const { return count_; }  // records ever appended
  bool truncated() const { return count_ > ring_.size(); }

  // The retained records, oldest first.
  std::vector<TraceRecord> records() const;

  // Strings for `note` records and task names, interned in first-use order
  // (deterministic ids, starting at 1). string() is empty for an id that
  // intern() never returned.
  std::uint32_t intern(std::string_view text);
  std::string_view string(std::uint32_t id) const;

  // Whether records are kept at all: text for an annotation is only worth
  // building when this is true.
  bool keeps_records() const { return !ring_.empty(); }
  // Attaches text to the last record appended (a message's content, what a
  // task blocks on) for the exports: `write(std::string& out)` appends it to
  // `out`, which holds other records' texts before it (append only).
  // Texts are kept back to back in one buffer that is reused as the ring
  // turns, so a warm trace annotates without allocating. No part of the
  // hash, so it never changes a run; not called when no records are kept.
  // Dropped with its record; a second text for the same record replaces the
  // first.
  template <class Write>
  void annotate_with(Write&& write) {
    if (ring_.empty() || count_ == 0) return;
    open_annotation();
    write(annotation_text_);
    close_annotation();
  }
  void annotate(std::string_view text) {
    annotate_with([text](std::string& out) { out.append(text); });
  }
  // The text attached to record number `index` (counting from 0 over every
  // record ever appended), or empty.
  std::string_view annotation(std::uint64_t index) const;

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  void open_annotation();   // an entry for the last record, its text empty
  void close_annotation();  // drops the entry again when nothing was written

  std::vector<TraceRecord> ring_;
  std::size_t mask_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t hash_ = 0x6a09e667f3bcc908ULL;
  std::deque<std::string> strings_;  // a deque: the keys below point into it
  // Looked up only, never iterated, so its order cannot reach a run.
  std::unordered_map<std::string_view, std::uint32_t> string_ids_;
  // The annotations of retained records, oldest first: each names its record
  // and where its text starts in annotation_text_ (it ends where the next one
  // starts). Entries before annotations_head_ belong to overwritten records
  // and are compacted away in bulk.
  struct Annotation {
    std::uint64_t index;
    std::size_t start;
  };
  std::vector<Annotation> annotations_;
  std::size_t annotations_head_ = 0;
  std::string annotation_text_;
};

}  // namespace asgisim::sim
