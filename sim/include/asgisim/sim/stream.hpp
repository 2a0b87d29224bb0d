// anyio's memory object streams (anyio 3.6.2) for event-loop tasks: a typed
// channel with an optional buffer, cloneable ends, and close semantics.
//
//   auto [send, receive] = create_memory_object_stream<Message>();  // buffer 0
//   sim.spawn("producer", [send = std::move(send)]() mutable { send.send(Message{...}); });
//   receive.for_each([](Message m) { ... });   // async for m in receive: ...
//
// Handles are move-only and close themselves when destroyed (`with stream:`).
#pragma once

#include <cstddef>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

// math.inf as a buffer size: send() never waits.
inline constexpr std::size_t kUnboundedBuffer = std::numeric_limits<std::size_t>::max();

struct MemoryObjectStreamStatistics {
  std::size_t current_buffer_used = 0;    // items stored in the buffer
  std::size_t max_buffer_size = 0;        // kUnboundedBuffer for math.inf
  std::size_t open_send_streams = 0;      // unclosed send clones
  std::size_t open_receive_streams = 0;   // unclosed receive clones
  std::size_t tasks_waiting_send = 0;     // tasks blocked in send()
  std::size_t tasks_waiting_receive = 0;  // tasks blocked in receive()
};

namespace detail {

class StreamCore;

// One end of a stream as the deadlock report shows it: a blocked sender
// waits on the send side, a blocked receiver on the receive side.
class StreamSide final : public Waitable {
 public:
  StreamSide(const StreamCore& core, bool send_side, std::string name);
  std::string_view kind() const override;
  void append_state(std::string& out) const override;

 private:
  const StreamCore& core_;
  bool send_side_;
};

// The type-independent half of a stream's shared state: clone counts, the
// queues of waiting tasks, anyio's waiting protocol and the invariants.
// Waiting senders have `slot` -> their item (T); waiting receivers have
// `slot` -> an empty std::optional<T> that a sender fills.
class StreamCore {
 public:
  StreamCore(std::size_t max_buffer_size, std::string name);
  virtual ~StreamCore();
  StreamCore(const StreamCore&) = delete;
  StreamCore& operator=(const StreamCore&) = delete;

  virtual std::size_t buffer_used() const = 0;
  std::size_t max_buffer_size() const { return max_buffer_size_; }
  std::size_t open_send_streams() const { return open_send_; }
  std::size_t open_receive_streams() const { return open_receive_; }
  MemoryObjectStreamStatistics statistics() const;
  void describe(std::string& text) const;  // appends

  void open_send_stream();
  void open_receive_stream();
  // Closing the last send clone wakes every waiting receiver with nothing
  // (they raise EndOfStream). Closing the last receive clone wakes every
  // waiting sender but leaves it queued (it raises BrokenResourceError); the
  // buffer keeps its items, as in anyio 3.6.2.
  void close_send_stream() noexcept;
  void close_receive_stream() noexcept;

  // Marks a popped waiter as served and makes its task ready.
  static void hand_over(Waiter& waiter);
  // Blocks a sender already queued in waiting_senders until a receiver takes
  // its item. Raises Cancelled or BrokenResourceError (see MemoryObjectSendStream::send).
  void wait_to_send(Simulation& sim, Waiter& waiter);
  // Blocks a receiver already queued in waiting_receivers. Returns true if an
  // item was put into its slot, false at end of stream; raises Cancelled.
  bool wait_to_receive(Simulation& sim, Waiter& waiter);

  void check_invariants() const;

  WaitQueue waiting_senders;
  WaitQueue waiting_receivers;

 private:
  std::size_t max_buffer_size_;
  std::size_t open_send_ = 0;
  std::size_t open_receive_ = 0;
  StreamSide send_side_;
  StreamSide receive_side_;
};

template <class T>
class StreamState final : public StreamCore {
 public:
  using StreamCore::StreamCore;
  std::size_t buffer_used() const override { return buffer.size(); }
  std::deque<T> buffer;
};

struct StreamFactory;

}  // namespace detail

// anyio.streams.memory.MemoryObjectSendStream.
//
// send() is a checkpoint first (raises Cancelled in a cancelled scope), then
// hands the item to the longest-waiting receiver, or appends it to the buffer
// if there is room, or waits. Waiting senders are served FIFO.
//
// Cancelled while waiting in send(): if no receiver took the item, it is
// withdrawn (destroyed) and Cancelled is raised. If a receiver had already
// taken it (the sender was woken, then cancelled before it resumed or during
// the trailing checkpoint), Cancelled is raised all the same although the
// item was delivered: anyio 3.6's behaviour, so the caller cannot tell.
// Not modelled: anyio 3.6.2 checks "still queued" by the item's truthiness,
// so a falsy item (0, "", None) whose receivers all closed is silently
// dropped instead of raising BrokenResourceError; here it always raises.
template <class T>
class MemoryObjectSendStream {
 public:
  // A closed handle; every operation but close() raises ClosedResourceError.
  MemoryObjectSendStream() = default;
  MemoryObjectSendStream(MemoryObjectSendStream&& other) noexcept
      : state_(std::move(other.state_)), closed_(other.closed_) {
    other.closed_ = true;
  }
  MemoryObjectSendStream& operator=(MemoryObjectSendStream&& other) noexcept {
    if (this != &other) {
      close_quietly();
      state_ = std::move(other.state_);
      closed_ = other.closed_;
      other.closed_ = true;
    }
    return *this;
  }
  ~MemoryObjectSendStream() { close_quietly(); }

  // Raises ClosedResourceError (this handle closed), BrokenResourceError
  // (every receive clone closed, also while waiting) or Cancelled. Loop side only.
  void send(T item);
  // As send() without the checkpoint; raises WouldBlock instead of waiting.
  // The item is moved from only if it was accepted.
  void send_nowait(T&& item);
  void send_nowait(const T& item) {
    T copy(item);
    send_nowait(std::move(copy));
  }
  // Idempotent. When the last send clone closes, waiting receivers get EndOfStream.
  void close() {
    detail::require_loop_if_in_task("MemoryObjectSendStream.close");
    close_quietly();
  }
  bool closed() const { return closed_ || !state_; }
  // Another open handle on the same stream; ClosedResourceError if this one is closed.
  MemoryObjectSendStream clone() const {
    if (closed()) throw ClosedResourceError("clone() of a closed MemoryObjectSendStream");
    return MemoryObjectSendStream(state_);
  }
  MemoryObjectStreamStatistics statistics() const {
    return state_ ? state_->statistics() : MemoryObjectStreamStatistics{};
  }

 private:
  friend struct detail::StreamFactory;
  using State = detail::StreamState<T>;

  explicit MemoryObjectSendStream(std::shared_ptr<State> state) : state_(std::move(state)), closed_(false) {
    state_->open_send_stream();
  }
  // send_nowait's logic; false instead of WouldBlock, `item` untouched then.
  bool offer(T& item);
  void close_quietly() noexcept {
    if (closed_ || !state_) return;
    closed_ = true;
    state_->close_send_stream();
  }

  std::shared_ptr<State> state_;
  bool closed_ = true;
};

// anyio.streams.memory.MemoryObjectReceiveStream.
//
// receive() is a checkpoint first (raises Cancelled in a cancelled scope),
// then takes the oldest item (refilling the buffer from the longest-waiting
// sender), or raises EndOfStream once every send clone is closed and the
// buffer is drained, or waits. Waiting receivers are served FIFO.
//
// Cancelled while waiting in receive(): if no item had been handed to the
// task, Cancelled is raised. If a sender had already handed it an item, the
// cancellation is ignored and the item is returned; the scope stays
// cancelled, so the task's next checkpoint raises Cancelled.
template <class T>
class MemoryObjectReceiveStream {
 public:
  MemoryObjectReceiveStream() = default;
  MemoryObjectReceiveStream(MemoryObjectReceiveStream&& other) noexcept
      : state_(std::move(other.state_)), closed_(other.closed_) {
    other.closed_ = true;
  }
  MemoryObjectReceiveStream& operator=(MemoryObjectReceiveStream&& other) noexcept {
    if (this != &other) {
      close_quietly();
      state_ = std::move(other.state_);
      closed_ = other.closed_;
      other.closed_ = true;
    }
    return *this;
  }
  ~MemoryObjectReceiveStream() { close_quietly(); }

  // Raises ClosedResourceError (this handle closed), EndOfStream or
  // Cancelled. Loop side only.
  T receive() {
    std::optional<T> item = receive_or_end();
    if (!item) throw EndOfStream();
    return std::move(*item);
  }
  // receive() with the end of the stream as a value (nullopt) instead of
  // EndOfStream, for the models' own `async for` loops: the same waits,
  // checkpoints and wake-ups, without unwinding. Other errors still raise.
  std::optional<T> receive_or_end();
  // As receive() without the checkpoint; raises WouldBlock instead of waiting.
  T receive_nowait() {
    detail::require_loop_if_in_task("MemoryObjectReceiveStream.receive_nowait");
    bool ended = false;
    std::optional<T> item = poll(ended);
    if (ended) throw EndOfStream();
    if (!item) throw WouldBlock();
    return std::move(*item);
  }
  // `async for item in stream: fn(item)`: receives until the end of the stream.
  template <class Fn>
  void for_each(Fn&& fn) {
    while (std::optional<T> item = receive_or_end()) fn(std::move(*item));
  }
  // Idempotent. When the last receive clone closes, waiting senders get
  // BrokenResourceError and later sends raise it at once.
  void close() {
    detail::require_loop_if_in_task("MemoryObjectReceiveStream.close");
    close_quietly();
  }
  bool closed() const { return closed_ || !state_; }
  MemoryObjectReceiveStream clone() const {
    if (closed()) throw ClosedResourceError("clone() of a closed MemoryObjectReceiveStream");
    return MemoryObjectReceiveStream(state_);
  }
  MemoryObjectStreamStatistics statistics() const {
    return state_ ? state_->statistics() : MemoryObjectStreamStatistics{};
  }

 private:
  friend struct detail::StreamFactory;
  using State = detail::StreamState<T>;

  explicit MemoryObjectReceiveStream(std::shared_ptr<State> state)
      : state_(std::move(state)), closed_(false) {
    state_->open_receive_stream();
  }
  // receive_nowait's logic; nullopt instead of WouldBlock, and `ended` set
  // instead of EndOfStream.
  std::optional<T> poll(bool& ended);
  void close_quietly() noexcept {
    if (closed_ || !state_) return;
    closed_ = true;
    state_->close_receive_stream();
  }

  std::shared_ptr<State> state_;
  bool closed_ = true;
};

namespace detail {
struct StreamFactory {
  template <class T>
  static std::pair<MemoryObjectSendStream<T>, MemoryObjectReceiveStream<T>> create(
      std::size_t max_buffer_size, std::string name) {
    auto state = std::make_shared<StreamState<T>>(max_buffer_size, std::move(name));
    return {MemoryObjectSendStream<T>(state), MemoryObjectReceiveStream<T>(state)};
  }
};
}  // namespace detail

// anyio.create_memory_object_stream(max_buffer_size): with the default 0 a
// send completes only when a receiver takes the item. `name` labels the
// stream in deadlock reports and traces.
template <class T>
std::pair<MemoryObjectSendStream<T>, MemoryObjectReceiveStream<T>> create_memory_object_stream(
    std::size_t max_buffer_size = 0, std::string name = {}) {
  return detail::StreamFactory::create<T>(max_buffer_size, std::move(name));
}

// ---- templates --------------------------------------------------------------

template <class T>
void MemoryObjectSendStream<T>::send(T item) {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "MemoryObjectSendStream.send");
  // Keeps the state alive while waiting, whatever happens to this handle.
  std::shared_ptr<State> state = state_;
  sim.checkpoint();
  if (offer(item)) return;
  Waiter waiter{.task = &sim.current_task(), .slot = &item};
  state->waiting_senders.push_back(waiter);
  state->check_invariants();
  state->wait_to_send(sim, waiter);
}

template <class T>
void MemoryObjectSendStream<T>::send_nowait(T&& item) {
  detail::require_loop_if_in_task("MemoryObjectSendStream.send_nowait");
  if (!offer(item)) throw WouldBlock();
}

template <class T>
bool MemoryObjectSendStream<T>::offer(T& item) {
  if (closed()) throw ClosedResourceError("send on a closed MemoryObjectSendStream");
  State& state = *state_;
  if (state.open_receive_streams() == 0) {
    throw BrokenResourceError("send on a MemoryObjectSendStream whose receive clones are all closed");
  }
  if (Waiter* receiver = state.waiting_receivers.pop_front()) {
    static_cast<std::optional<T>*>(receiver->slot)->emplace(std::move(item));
    detail::StreamCore::hand_over(*receiver);
  } else if (state.buffer.size() < state.max_buffer_size()) {
    state.buffer.push_back(std::move(item));
  } else {
    return false;
  }
  state.check_invariants();
  return true;
}

template <class T>
std::optional<T> MemoryObjectReceiveStream<T>::receive_or_end() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "MemoryObjectReceiveStream.receive");
  std::shared_ptr<State> state = state_;
  sim.checkpoint();
  bool ended = false;
  if (std::optional<T> item = poll(ended)) return item;
  if (ended) return std::nullopt;
  std::optional<T> slot;
  Waiter waiter{.task = &sim.current_task(), .slot = &slot};
  state->waiting_receivers.push_back(waiter);
  state->check_invariants();
  if (!state->wait_to_receive(sim, waiter)) return std::nullopt;
  return slot;
}

template <class T>
std::optional<T> MemoryObjectReceiveStream<T>::poll(bool& ended) {
  if (closed()) throw ClosedResourceError("receive on a closed MemoryObjectReceiveStream");
  State& state = *state_;
  // The longest-waiting sender's item joins the back of the buffer first.
  if (Waiter* sender = state.waiting_senders.pop_front()) {
    state.buffer.push_back(std::move(*static_cast<T*>(sender->slot)));
    detail::StreamCore::hand_over(*sender);
  }
  if (!state.buffer.empty()) {
    std::optional<T> item(std::move(state.buffer.front()));
    state.buffer.pop_front();
    state.check_invariants();
    return item;
  }
  ended = state.open_send_streams() == 0;
  return std::nullopt;
}

}  // namespace asgisim::sim
