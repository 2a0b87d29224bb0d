// The trace's flight-recorder ring and its string table. record() itself is
// inline in the header because it sits on the hot path.
#include "asgisim/sim/trace.hpp"

#include <algorithm>
#include <bit>
#include <limits>

#include "asgisim/sim/assert.hpp"

namespace asgisim::sim {

Trace::Trace(TraceOptions options) {
  if (options.records_max == 0) return;  // hash only
  // A power of two lets record() wrap with a mask instead of a division.
  ASGISIM_ASSERT(options.records_max <= (std::numeric_limits<std::size_t>::max() >> 1) + 1);
  const std::size_t size = std::bit_ceil(options.records_max);
  ring_.resize(size);
  mask_ = size - 1;
  ASGISIM_ASSERT(std::has_single_bit(ring_.size()));
  ASGISIM_ASSERT(ring_.size() >= options.records_max);
}

std::vector<TraceRecord> Trace::records() const {
  std::vector<TraceRecord> out;
  if (ring_.empty()) return out;
  if (count_ <= ring_.size()) {
    out.assign(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(count_));
    return out;
  }
  // Full ring: the oldest retained record is the one the next append overwrites.
  const auto oldest = static_cast<std::ptrdiff_t>(count_ & mask_);
  out.reserve(ring_.size());
  out.insert(out.end(), ring_.begin() + oldest, ring_.end());
  out.insert(out.end(), ring_.begin(), ring_.begin() + oldest);
  ASGISIM_ASSERT(out.size() == ring_.size());
  return out;
}

std::uint32_t Trace::intern(std::string_view text) {
  const auto found = string_ids_.find(text);
  if (found != string_ids_.end()) return found->second;
  ASGISIM_ASSERT(strings_.size() < std::numeric_limits<std::uint32_t>::max());
  strings_.emplace_back(text);
  const auto id = static_cast<std::uint32_t>(strings_.size());  // ids start at 1
  string_ids_.emplace(std::string_view(strings_.back()), id);
  ASGISIM_ASSERT(string_ids_.size() == strings_.size());
  return id;
}

void Trace::open_annotation() {
  const std::uint64_t index = count_ - 1;
  if (annotations_.size() > annotations_head_ && annotations_.back().index == index) {
    annotation_text_.resize(annotations_.back().start);  // replaced
    return;
  }
  // Forget the annotations of records the ring has overwritten, and once they
  // are half the entries, their text and entries in one move.
  const std::uint64_t oldest = count_ > ring_.size() ? count_ - ring_.size() : 0;
  while (annotations_head_ < annotations_.size() && annotations_[annotations_head_].index < oldest)
    ++annotations_head_;
  if (annotations_head_ >= 64 && annotations_head_ * 2 >= annotations_.size()) {
    const std::size_t cut = annotations_head_ < annotations_.size() ? annotations_[annotations_head_].start
                                                                    : annotation_text_.size();
    annotation_text_.erase(0, cut);
    annotations_.erase(annotations_.begin(),
                       annotations_.begin() + static_cast<std::ptrdiff_t>(annotations_head_));
    for (Annotation& a : annotations_) a.start -= cut;
    annotations_head_ = 0;
  }
  annotations_.push_back({index, annotation_text_.size()});
}

void Trace::close_annotation() {
  ASGISIM_ASSERT(annotations_.size() > annotations_head_ &&
                 annotation_text_.size() >= annotations_.back().start);
  if (annotation_text_.size() == annotations_.back().start) annotations_.pop_back();  // nothing written
}

std::string_view Trace::annotation(std::uint64_t index) const {
  const std::uint64_t oldest = count_ > ring_.size() ? count_ - ring_.size() : 0;
  if (index < oldest || index >= count_) return {};
  const auto first = annotations_.begin() + static_cast<std::ptrdiff_t>(annotations_head_);
  const auto found = std::lower_bound(first, annotations_.end(), index,
                                      [](const Annotation& a, std::uint64_t i) { return a.index < i; });
  if (found == annotations_.end() || found->index != index) return {};
  const std::size_t end = found + 1 != annotations_.end() ? (found + 1)->start : annotation_text_.size();
  return std::string_view(annotation_text_).substr(found->start, end - found->start);
}

std::string_view Trace::string(std::uint32_t id) const {
  // Lenient on purpose: exporters read ids out of records and should show a
  // placeholder rather than crash on a record that was not a note.
  if (id == 0 || id > strings_.size()) return {};
  return strings_[id - 1];
}

}  // namespace asgisim::sim
