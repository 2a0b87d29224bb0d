// The switching hot path, private to the kernel: direct task-to-task switches
// and dispatch, kept inline so they fold into checkpoint(), block() and run().
#pragma once

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/simulation.hpp"
#include "sanitizer.hpp"

namespace asgisim::sim {

namespace detail {

// The Itanium C++ ABI's per-thread exception globals (libstdc++ and libc++
// share this layout on every target we build for). Fibers share the OS
// thread, so each task keeps its own copy across switches.
struct ExceptionGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

[[gnu::always_inline]] inline void swap_exception_state(void* globals_raw, void*& from_caught,
                                                        unsigned int& from_uncaught, void* to_caught,
                                                        unsigned int to_uncaught) {
  auto* globals = static_cast<ExceptionGlobals*>(globals_raw);
  from_caught = globals->caught_exceptions;
  from_uncaught = globals->uncaught_exceptions;
  globals->caught_exceptions = to_caught;
  globals->uncaught_exceptions = to_uncaught;
}

}  // namespace detail

[[gnu::always_inline]] inline void Simulation::switch_to(Task* from, Task* to) {
  ASGISIM_ASSERT(from == current_ && from != to);
  if (from->stack_.canary != nullptr && *from->stack_.canary != kStackCanary) {
    report_stack_overflow(from->name_->c_str(), from->id_, "its stack canary was overwritten");
  }
  trace_.record({now_ns_, to->id_, TraceKind::switch_to, 0, from->id_, steps_});
  previous_ = from;
  current_ = to;
  to->state_ = Task::State::running;
  detail::swap_exception_state(eh_globals_, from->eh_caught_, from->eh_uncaught_, to->eh_caught_,
                               to->eh_uncaught_);
  const bool to_main = to == &main_;
  detail::asan_start_switch(&from->asan_fake_stack_, to_main ? asan_main_bottom_ : to->stack_.bottom(),
                            to_main ? asan_main_size_ : to->stack_.size);
  boost::context::fiber caller = std::move(to->context_).resume();
  after_switch(from, std::move(caller));
}

[[gnu::always_inline]] inline void Simulation::after_switch(Task* self, boost::context::fiber&& caller) {
  const void* bottom_old = nullptr;
  std::size_t size_old = 0;
  detail::asan_finish_switch(self->asan_fake_stack_, &bottom_old, &size_old);
  if (previous_ == &main_) {
    asan_main_bottom_ = const_cast<void*>(bottom_old);
    asan_main_size_ = size_old;
  }
  previous_->context_ = std::move(caller);
  ASGISIM_ASSERT(current_ == self);
  if (self->unwind_requested_ && self != &main_) throw TaskUnwound{};
}

[[gnu::always_inline]] inline void Simulation::dispatch(Task* self) {
  Task* next;
  // The common case, kept inline: fifo with a loop task ready, nothing failed.
  if (options_.strategy == Strategy::fifo && status_ == RunStatus::not_run && live_non_daemon_ != 0 &&
      thread_ready_.empty() && !loop_ready_.empty() && steps_ < options_.steps_max) {
    ++steps_;
    next = loop_ready_.pop_front();
    if (next->poller_)
      --ready_pollers_;
    else
      ++busy_picks_;
  } else {
    next = pick_next();
  }
  if (next == self) {
    self->state_ = Task::State::running;
    trace_.record({now_ns_, self->id_, TraceKind::switch_to, 0, self->id_, steps_});
    return;
  }
  switch_to(self, next);
}

}  // namespace asgisim::sim
