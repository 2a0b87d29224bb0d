// Fiber stacks: guarded mappings, canary stacks carved from slabs, the pool
// that reuses them across runs, and the stack-overflow reports.
#include "asgisim/sim/stack_pool.hpp"

#include "asgisim/sim/runner_options.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/stack_context.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include "asgisim/sim/simulation.hpp"
#include "sanitizer.hpp"

namespace asgisim::sim {

namespace {

std::size_t round_up(std::size_t value, std::size_t unit) { return (value + unit - 1) / unit * unit; }

void* map_or_throw(std::size_t bytes) {
  void* base =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    throw std::runtime_error("asgisim: could not map " + std::to_string(bytes) +
                             " bytes for fiber stacks: " + std::strerror(errno) +
                             " (too many guarded stacks? lower StackPoolOptions::guarded_stacks_max)");
  }
  return base;
}

// Every guard page of this thread's pool, for the SIGSEGV handler.
thread_local const StackPool* tls_pool = nullptr;  // set once this thread lends a stack

void write_stderr(const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Runs on the alternate signal stack. Only async-signal-safe calls.
void on_segv(int signal_number, siginfo_t* info, void*) {
  const Simulation* sim = Simulation::current_or_null();
  const Task* task = sim != nullptr ? const_cast<Simulation*>(sim)->current_task_or_null() : nullptr;
  if (task != nullptr && tls_pool != nullptr) {
    const char* fault = static_cast<const char*>(info->si_addr);
    const char* guard_begin = static_cast<const char*>(task->stack().guard_begin);
    const char* guard_end = static_cast<const char*>(task->stack().guard_end);
    if (guard_begin != nullptr && fault >= guard_begin && fault < guard_end) {
      write_stderr("asgisim: stack overflow in task '");
      write_stderr(task->name().c_str());
      write_stderr(
          "': it ran into its guard page. Give tasks bigger stacks "
          "(StackPoolOptions::guarded_stack_bytes) or recurse less.\n");
    }
  }
  // Fall back to the default action: the faulting access repeats and kills
  // the process with SIGSEGV, as it would have without us.
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(signal_number, &action, nullptr);
  // A SIGSEGV sent by kill() has no faulting access to repeat.
  if (info->si_code <= 0) ::raise(signal_number);
}

void install_overflow_handler() {
  if constexpr (detail::kAsan) return;  // ASan reports stack overflows itself
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, nullptr);
  });
  // Each thread needs its own alternate stack: the overflowing one is unusable.
  thread_local struct AltStack {
    AltStack() {
      stack_t current{};
      if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;
      const std::size_t bytes = 64 * 1024;
      memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (memory == MAP_FAILED) return;
      stack_t alt{};
      alt.ss_sp = memory;
      alt.ss_size = bytes;
      sigaltstack(&alt, nullptr);
    }
    void* memory = nullptr;
  } alt_stack;
  (void)alt_stack;
}

}  // namespace

[[noreturn]] void report_stack_overflow(const char* task_name, std::uint32_t task_id, const char* how) {
  std::fprintf(stderr,
               "asgisim: stack overflow in task #%u '%s': %s. Give tasks bigger stacks "
               "(StackPoolOptions::canary_stack_bytes) or recurse less.\n",
               task_id, task_name, how);
  std::fflush(stderr);
  std::abort();
}

StackPool::StackPool(StackPoolOptions options)
    : options_(options), page_bytes_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))) {
  options_.guarded_stack_bytes = round_up(options_.guarded_stack_bytes, page_bytes_);
  options_.canary_stack_bytes = round_up(options_.canary_stack_bytes, page_bytes_);
  if (options_.canary_stacks_per_slab == 0) options_.canary_stacks_per_slab = 1;
}

StackPool::~StackPool() {
  if (tls_pool == this) tls_pool = nullptr;
  for (auto [base, bytes] : mappings_) munmap(base, bytes);
}

Stack StackPool::acquire() {
  Stack stack;
  if (!free_guarded_.empty()) {
    stack = free_guarded_.back();
    free_guarded_.pop_back();
  } else if (guarded_created_ < options_.guarded_stacks_max) {
    stack = create_guarded();
  } else if (!free_canary_.empty()) {
    stack = free_canary_.back();
    free_canary_.pop_back();
  } else {
    stack = create_canary();
  }
  if (stack.canary != nullptr) *stack.canary = kStackCanary;
  tls_pool = this;
  return stack;
}

void StackPool::release(const Stack& stack) {
  // A finished fiber leaves ASan's poisoned redzones behind on its stack.
  detail::asan_unpoison(stack.bottom(), stack.size);
  (stack.canary != nullptr ? free_canary_ : free_guarded_).push_back(stack);
}

Stack StackPool::create_guarded() {
  const std::size_t bytes = page_bytes_ + options_.guarded_stack_bytes;
  char* base = static_cast<char*>(map_or_throw(bytes));
  if (mprotect(base, page_bytes_, PROT_NONE) != 0) {
    munmap(base, bytes);
    throw std::runtime_error(std::string("asgisim: could not protect a stack guard page: ") +
                             std::strerror(errno));
  }
  mappings_.emplace_back(base, bytes);
  ++guarded_created_;
  Stack stack;
  stack.top = base + bytes;
  stack.size = options_.guarded_stack_bytes;
  stack.guard_begin = base;
  stack.guard_end = base + page_bytes_;
  return stack;
}

Stack StackPool::create_canary() {
  // Each slab holds `canary_stacks_per_slab` stacks of [red zone | stack]. The
  // red zone is one untouched page that absorbs a frame skipping the canary.
  const std::size_t stride = page_bytes_ + options_.canary_stack_bytes;
  const std::size_t in_slab = canary_created_ % options_.canary_stacks_per_slab;
  if (in_slab == 0) {
    const std::size_t bytes = stride * options_.canary_stacks_per_slab;
    mappings_.emplace_back(map_or_throw(bytes), bytes);
    slab_ = static_cast<char*>(mappings_.back().first);
  }
  ++canary_created_;
  char* base = slab_ + in_slab * stride;
  Stack stack;
  stack.guard_begin = base;
  stack.guard_end = base + page_bytes_;
  stack.top = base + stride;
  stack.size = options_.canary_stack_bytes;
  stack.canary = reinterpret_cast<std::uint64_t*>(base + page_bytes_);
  return stack;
}

Runner::Runner(StackPoolOptions options) : stacks_(options) { install_overflow_handler(); }

namespace {
thread_local StackPoolOptions this_thread_options{};
}  // namespace

Runner& Runner::this_thread() {
  thread_local Runner runner(this_thread_options);
  return runner;
}

void configure_this_thread_runner(const StackPoolOptions& options) { this_thread_options = options; }

// ---- the allocator boost::context uses ------------------------------------------

boost::context::stack_context StackAllocatorAdapter::allocate() {
  stack_ = sim_->runner_.stacks().acquire();
  task_->stack_ = stack_;
  boost::context::stack_context context;
  context.sp = stack_.top;
  context.size = stack_.size;
  return context;
}

void StackAllocatorAdapter::deallocate(boost::context::stack_context&) noexcept {
  // Runs on the next context right after the task ended; the copy of this
  // adapter inside the fiber's record still knows which stack it lent.
  sim_->runner_.stacks().release(stack_);
}

}  // namespace asgisim::sim
