// Fiber stacks, pooled per OS thread and reused across runs. The first
// `guarded_stacks_max` stacks each get their own mapping with a PROT_NONE
// guard page (an overflow faults and is reported by a SIGSEGV handler on an
// alternate signal stack). Linux allows about 65,530 mappings and a guarded
// stack costs two, so past that count stacks are carved from large slabs
// without guard pages: each has an untouched red zone at its low end and a
// canary word above it that the scheduler checks on every switch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace asgisim::sim {

struct StackPoolOptions {
  // Usable bytes of a guarded stack (the guard page comes on top).
  std::size_t guarded_stack_bytes = 256 * 1024;
  // Guarded stacks created before switching to canary stacks.
  std::size_t guarded_stacks_max = 30'000;
  // Usable bytes of a canary stack (the red zone comes on top).
  std::size_t canary_stack_bytes = 64 * 1024;
  // Canary stacks per slab mapping.
  std::size_t canary_stacks_per_slab = 256;
};

// One stack lent to a task.
struct Stack {
  void* top = nullptr;              // highest address (stacks grow down)
  std::size_t size = 0;             // usable bytes below `top`
  std::uint64_t* canary = nullptr;  // null for guarded stacks
  void* guard_begin = nullptr;      // guard page or red zone [begin, end)
  void* guard_end = nullptr;
  void* bottom() const { return static_cast<char*>(top) - size; }
};

inline constexpr std::uint64_t kStackCanary = 0xa5915c0ffee15a5aULL;

class StackPool {
 public:
  explicit StackPool(StackPoolOptions options = {});
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  Stack acquire();
  void release(const Stack& stack);

  const StackPoolOptions& options() const { return options_; }
  std::size_t guarded_created() const { return guarded_created_; }
  std::size_t canary_created() const { return canary_created_; }
  std::size_t free_count() const { return free_guarded_.size() + free_canary_.size(); }

 private:
  Stack create_guarded();
  Stack create_canary();

  StackPoolOptions options_;
  std::size_t page_bytes_;
  std::vector<Stack> free_guarded_;
  std::vector<Stack> free_canary_;
  std::vector<std::pair<void*, std::size_t>> mappings_;
  char* slab_ = nullptr;  // the slab canary stacks are being carved from
  std::size_t guarded_created_ = 0;
  std::size_t canary_created_ = 0;
};

// Owns what one OS thread reuses from run to run (the stack pool) and sets up
// that thread's alternate signal stack for overflow reports. Create one per
// OS thread and lend it to each Simulation on that thread, or use
// Runner::this_thread().
class Runner {
 public:
  explicit Runner(StackPoolOptions options = {});
  StackPool& stacks() { return stacks_; }
  // A runner for the calling OS thread, created on first use. It is a cache
  // of memory only: no state of a run lives in it.
  static Runner& this_thread();

 private:
  StackPool stacks_;
};

// Prints a clear stack-overflow message for `task_name` and aborts. Called
// by the scheduler when a canary is found overwritten.
[[noreturn]] void report_stack_overflow(const char* task_name, std::uint32_t task_id, const char* how);

}  // namespace asgisim::sim
