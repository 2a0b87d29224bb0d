// The scheduler's ready set: a growable ring buffer of tasks with O(1)
// push_back, pop_front (fifo) and take(i) (random / pct pick by index).
#pragma once

#include <cstddef>
#include <vector>

#include "asgisim/sim/assert.hpp"

namespace asgisim::sim {

class Task;

class ReadyQueue {
 public:
  ReadyQueue() : slots_(64), mask_(63) {}

  bool empty() const { return head_ == tail_; }
  std::size_t size() const { return tail_ - head_; }
  Task* at(std::size_t i) const { return slots_[(head_ + i) & mask_]; }

  void push_back(Task* task) {
    if (size() == slots_.size()) grow();
    slots_[tail_++ & mask_] = task;
  }
  Task* pop_front() {
    ASGISIM_ASSERT(!empty());
    return slots_[head_++ & mask_];
  }
  // Removes and returns the i-th task, moving the last one into its place.
  // The order this leaves is deterministic, which is all random/pct need.
  Task* take(std::size_t i) {
    ASGISIM_ASSERT(i < size());
    Task*& slot = slots_[(head_ + i) & mask_];
    Task* task = slot;
    slot = slots_[--tail_ & mask_];
    return task;
  }
  // Removes the i-th task keeping the others in order (O(n); rare paths).
  Task* erase(std::size_t i) {
    ASGISIM_ASSERT(i < size());
    Task* task = at(i);
    for (std::size_t j = i; j + 1 < size(); ++j) slots_[(head_ + j) & mask_] = at(j + 1);
    --tail_;
    return task;
  }

 private:
  void grow() {
    std::vector<Task*> bigger(slots_.size() * 2);
    for (std::size_t i = 0; i < size(); ++i) bigger[i] = at(i);
    tail_ = size();
    head_ = 0;
    slots_.swap(bigger);
    mask_ = slots_.size() - 1;
  }

  std::vector<Task*> slots_;
  std::size_t mask_;
  std::size_t head_ = 0;  // monotonically increasing; indices are masked
  std::size_t tail_ = 0;
};

}  // namespace asgisim::sim
