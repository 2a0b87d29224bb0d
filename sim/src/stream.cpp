// The type-independent half of anyio's memory object streams: clone counts,
// the waiting protocol of send() and receive(), invariants and descriptions.
#include "asgisim/sim/stream.hpp"

#include <string>
#include <utility>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/trace.hpp"

namespace asgisim::sim::detail {

StreamSide::StreamSide(const StreamCore& core, bool send_side, std::string name)
    : Waitable(std::move(name)), core_(core), send_side_(send_side) {}

std::string_view StreamSide::kind() const {
  return send_side_ ? "MemoryObjectSendStream" : "MemoryObjectReceiveStream";
}

void StreamSide::append_state(std::string& out) const { core_.describe(out); }

StreamCore::StreamCore(std::size_t max_buffer_size, std::string name)
    : max_buffer_size_(max_buffer_size), send_side_(*this, true, name), receive_side_(*this, false, name) {}

StreamCore::~StreamCore() {
  // Every task inside send()/receive() holds a reference to this state.
  ASGISIM_ASSERT(waiting_senders.empty() && waiting_receivers.empty());
}

MemoryObjectStreamStatistics StreamCore::statistics() const {
  return MemoryObjectStreamStatistics{
      .current_buffer_used = buffer_used(),
      .max_buffer_size = max_buffer_size_,
      .open_send_streams = open_send_,
      .open_receive_streams = open_receive_,
      .tasks_waiting_send = waiting_senders.size(),
      .tasks_waiting_receive = waiting_receivers.size(),
  };
}

void StreamCore::describe(std::string& text) const {
  // Appended piece by piece: every block on a stream writes this into the
  // trace when records are kept.
  text.append("buffer ");
  append_decimal(text, buffer_used());
  text.append(1, '/');
  if (max_buffer_size_ == kUnboundedBuffer) {
    text.append("inf");
  } else {
    append_decimal(text, max_buffer_size_);
  }
  text.append(", open clones: ");
  append_decimal(text, open_send_);
  text.append(" send ");
  append_decimal(text, open_receive_);
  text.append(" receive, waiting: ");
  append_decimal(text, waiting_senders.size());
  text.append(" send ");
  append_decimal(text, waiting_receivers.size());
  text.append(" receive");
  // Spell out the situations a deadlock report is usually about.
  if (!waiting_senders.empty() && waiting_receivers.empty()) {
    text += open_receive_ == 0 ? " (senders woken: every receive clone is closed)"
                               : " (a send waits: buffer full and no receiver waiting)";
  } else if (!waiting_receivers.empty() && waiting_senders.empty() && buffer_used() == 0) {
    text += " (a receive waits: buffer empty and no sender waiting)";
  }
}

void StreamCore::open_send_stream() {
  ++open_send_;
  check_invariants();
}

void StreamCore::open_receive_stream() {
  ++open_receive_;
  check_invariants();
}

void StreamCore::close_send_stream() noexcept {
  ASGISIM_ASSERT(open_send_ > 0);
  --open_send_;
  if (open_send_ == 0 && !waiting_receivers.empty()) {
    // No item will ever come: every waiting receiver leaves the queue with an
    // empty slot and raises EndOfStream.
    Simulation& sim = Simulation::current();
    while (Waiter* receiver = waiting_receivers.pop_front()) sim.wake(*receiver->task);
  }
  check_invariants();
}

void StreamCore::close_receive_stream() noexcept {
  ASGISIM_ASSERT(open_receive_ > 0);
  --open_receive_;
  if (open_receive_ == 0 && !waiting_senders.empty()) {
    // anyio sets the senders' events but leaves them queued; a sender that
    // finds itself still queued raises BrokenResourceError.
    Simulation& sim = Simulation::current();
    waiting_senders.for_each([&sim](Waiter& sender) { sim.wake(*sender.task); });
  }
  check_invariants();
}

void StreamCore::hand_over(Waiter& waiter) {
  ASGISIM_ASSERT(!waiter.linked && !waiter.handed);
  waiter.handed = true;
  Simulation::current().wake(*waiter.task);
}

void StreamCore::wait_to_send(Simulation& sim, Waiter& waiter) {
  try {
    const WakeReason reason = sim.block(send_side_);
    finish_event_wait(sim, reason, /*trailing_checkpoint=*/true);
  } catch (...) {
    // anyio: waiting_senders.pop(send_event, None); raise. The item is
    // withdrawn if no receiver took it; if one did, the exception stands.
    waiting_senders.remove(waiter);
    check_invariants();
    throw;
  }
  if (waiter.linked) {
    // Woken by the last receive clone's close; the item was never taken.
    ASGISIM_ASSERT(open_receive_ == 0);
    waiting_senders.remove(waiter);
    check_invariants();
    throw BrokenResourceError(
        "the receive clones of this memory object stream were all closed during send()");
  }
  ASGISIM_ASSERT(waiter.handed);
}

bool StreamCore::wait_to_receive(Simulation& sim, Waiter& waiter) {
  try {
    const WakeReason reason = sim.block(receive_side_);
    finish_event_wait(sim, reason, /*trailing_checkpoint=*/true);
  } catch (const Cancelled&) {
    waiting_receivers.remove(waiter);
    check_invariants();
    // anyio ignores this cancellation if an item was already handed over, so
    // as not to lose it; the scope is still cancelled and the next
    // checkpoint raises.
    if (waiter.handed) return true;
    throw;
  } catch (...) {
    waiting_receivers.remove(waiter);
    check_invariants();
    throw;
  }
  // A sender unlinks the receiver it serves, and so does the last send
  // clone's close; nothing else wakes a receiver normally.
  ASGISIM_ASSERT(!waiter.linked);
  check_invariants();
  return waiter.handed;
}

void StreamCore::check_invariants() const {
  const std::size_t used = buffer_used();
  ASGISIM_ASSERT(used <= max_buffer_size_);
  // Items wait in the buffer only while nobody waits to receive them.
  ASGISIM_ASSERT(used == 0 || waiting_receivers.empty());
  // Senders wait only behind a full buffer and never alongside receivers.
  ASGISIM_ASSERT(waiting_senders.empty() || used == max_buffer_size_);
  ASGISIM_ASSERT(waiting_senders.empty() || waiting_receivers.empty());
  // Nobody waits to receive from a stream that can never send again.
  ASGISIM_ASSERT(open_send_ > 0 || waiting_receivers.empty());
}

}  // namespace asgisim::sim::detail
