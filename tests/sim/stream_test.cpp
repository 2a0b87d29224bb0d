// Tests of anyio's memory object streams (stream.hpp): hand-off and
// buffering, clones, closed / broken / end-of-stream, cancellation while
// waiting (anyio 3.6's quirks included), wrong-side use, deadlock reports and
// teardown.
#include "asgisim/sim/stream.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {
namespace {

std::string describe(const RunResult& result) {
  return std::string(to_string(result.status)) + ": " + result.report;
}

struct Schedule {
  Strategy strategy;
  std::uint64_t seed;
};
constexpr Schedule kSchedules[] = {
    {Strategy::fifo, 0},    {Strategy::random, 1}, {Strategy::random, 7},
    {Strategy::random, 42}, {Strategy::pct, 3},
};

// Runs `scenario(sim)` on a fresh Simulation for fifo and a few random and
// pct seeds (the scenarios order their steps with virtual-time sleeps).
template <class Scenario>
void under_every_schedule(Scenario&& scenario) {
  for (const Schedule& schedule : kSchedules) {
    SCOPED_TRACE(std::string(to_string(schedule.strategy)) + " seed " + std::to_string(schedule.seed));
    Simulation sim({.seed = schedule.seed, .strategy = schedule.strategy});
    scenario(sim);
  }
}

constexpr Nanoseconds ms = kMillisecond;

// ---- hand-off and buffering --------------------------------------------------------

TEST(MemoryObjectStream, ZeroBufferSendWaitsForAReceiver) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>();
    auto& send = streams.first;
    auto& receive = streams.second;
    sim.spawn("sender", [&] {
      send.send(1);
      EXPECT_EQ(sim.now(), 10 * ms);
    });
    sim.spawn("receiver", [&] {
      sim.sleep(5 * ms);
      const MemoryObjectStreamStatistics stats = receive.statistics();
      EXPECT_EQ(stats.current_buffer_used, 0U);
      EXPECT_EQ(stats.max_buffer_size, 0U);
      EXPECT_EQ(stats.tasks_waiting_send, 1U);
      EXPECT_EQ(stats.open_send_streams, 1U);
      EXPECT_EQ(stats.open_receive_streams, 1U);
      sim.sleep(5 * ms);
      EXPECT_EQ(receive.receive(), 1);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(MemoryObjectStream, ReceiverWaitingGetsTheItemDirectly) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<std::string>();
    auto& send = streams.first;
    auto& receive = streams.second;
    sim.spawn("receiver", [&] {
      EXPECT_EQ(receive.receive(), "hello");
      EXPECT_EQ(sim.now(), 3 * ms);
    });
    sim.spawn("sender", [&] {
      sim.sleep(3 * ms);
      EXPECT_EQ(send.statistics().tasks_waiting_receive, 1U);
      send.send_nowait(std::string("hello"));  // a receiver waits: no WouldBlock even with buffer 0
      EXPECT_EQ(send.statistics().tasks_waiting_receive, 0U);
      EXPECT_EQ(send.statistics().current_buffer_used, 0U);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(MemoryObjectStream, BufferFillsThenSendWaits) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>(2);
    auto& send = streams.first;
    auto& receive = streams.second;
    sim.spawn("sender", [&] {
      send.send(1);
      send.send(2);
      EXPECT_EQ(sim.now(), 0);
      EXPECT_THROW(send.send_nowait(3), WouldBlock);
      send.send(3);  // waits for room
      EXPECT_EQ(sim.now(), 10 * ms);
    });
    sim.spawn("receiver", [&] {
      sim.sleep(10 * ms);
      EXPECT_EQ(receive.statistics().current_buffer_used, 2U);
      EXPECT_EQ(receive.statistics().tasks_waiting_send, 1U);
      // The waiting sender's item joins the back of the buffer.
      EXPECT_EQ(receive.receive_nowait(), 1);
      EXPECT_EQ(receive.statistics().current_buffer_used, 2U);
      EXPECT_EQ(receive.statistics().tasks_waiting_send, 0U);
      EXPECT_EQ(receive.receive(), 2);
      EXPECT_EQ(receive.receive(), 3);
      EXPECT_THROW(receive.receive_nowait(), WouldBlock);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(MemoryObjectStream, ItemsArriveInOrderUnderEverySchedule) {
  for (std::size_t buffer : {std::size_t{0}, std::size_t{1}, std::size_t{5}, kUnboundedBuffer}) {
    SCOPED_TRACE("buffer " + std::to_string(buffer));
    under_every_schedule([buffer](Simulation& sim) {
      auto streams = create_memory_object_stream<int>(buffer);
      auto& send = streams.first;
      auto& receive = streams.second;
      std::vector<int> received;
      sim.spawn("producer", [&, send = std::move(send)]() mutable {
        for (int i = 0; i < 50; ++i) send.send(i);
      });  // the handle closes when the task's body is destroyed
      sim.spawn("consumer", [&] { receive.for_each([&](int item) { received.push_back(item); }); });
      const RunResult result = sim.run();
      EXPECT_TRUE(result.ok()) << describe(result);
      ASSERT_EQ(received.size(), 50U);
      for (int i = 0; i < 50; ++i) EXPECT_EQ(received[static_cast<std::size_t>(i)], i);
    });
  }
}

TEST(MemoryObjectStream, WaitingSendersAndReceiversAreServedFifo) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<std::string>();
    auto& send = streams.first;
    auto& receive = streams.second;
    std::vector<std::string> received;
    int delay = 0;
    for (const char* name : {"a", "b", "c"}) {
      ++delay;
      sim.spawn(name, [&, name, delay] {
        sim.sleep(delay * ms);
        send.send(name);
      });
    }
    sim.spawn("receiver", [&] {
      sim.sleep(10 * ms);
      for (int i = 0; i < 3; ++i) received.push_back(receive.receive());
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(received, (std::vector<std::string>{"a", "b", "c"}));
  });
}

TEST(MemoryObjectStream, FifoHopsMatchAnyioOnAsyncio) {
  // The order real anyio 3.6.2 on asyncio produces: send() and receive()
  // checkpoint first; a woken sender passes anyio Event.wait()'s checkpoint.
  Simulation sim({.strategy = Strategy::fifo});
  auto streams = create_memory_object_stream<int>();
  auto& send = streams.first;
  auto& receive = streams.second;
  std::vector<std::string> log;
  sim.spawn("s", [&] {
    log.push_back("s1");
    send.send(1);
    log.push_back("s sent");
  });
  sim.spawn("r", [&] {
    log.push_back("r1");
    EXPECT_EQ(receive.receive(), 1);
    log.push_back("r got");
  });
  sim.spawn("c", [&] {
    for (int step = 1; step <= 4; ++step) {
      log.push_back(std::string("c").append(std::to_string(step)));  // not "c" + ...: GCC bug 105651
      if (step < 4) checkpoint();
    }
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"s1", "r1", "c1", "r got", "c2", "c3", "s sent", "c4"}));
}

TEST(MemoryObjectStream, MoveOnlyItems) {
  Simulation sim;
  auto streams = create_memory_object_stream<std::unique_ptr<int>>(1);
  auto& send = streams.first;
  auto& receive = streams.second;
  sim.spawn("task", [&] {
    auto item = std::make_unique<int>(7);
    send.send_nowait(std::move(item));
    EXPECT_EQ(item, nullptr);
    auto second = std::make_unique<int>(8);
    EXPECT_THROW(send.send_nowait(std::move(second)), WouldBlock);
    EXPECT_NE(second, nullptr);  // not moved from when refused
    EXPECT_EQ(*receive.receive(), 7);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

// ---- closing -------------------------------------------------------------------------

TEST(MemoryObjectStream, EndOfStreamAfterTheLastSendCloneClosesAndTheBufferDrains) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>(kUnboundedBuffer);
    auto& send = streams.first;
    auto& receive = streams.second;
    std::vector<int> received;
    bool ended = false;
    sim.spawn("producers", [&, send = std::move(send)]() mutable {
      MemoryObjectSendStream<int> clone = send.clone();
      EXPECT_EQ(send.statistics().open_send_streams, 2U);
      send.send(1);
      send.close();
      send.close();  // idempotent
      EXPECT_THROW(send.send(9), ClosedResourceError);
      EXPECT_THROW(send.send_nowait(9), ClosedResourceError);
      EXPECT_THROW(send.clone(), ClosedResourceError);
      sim.sleep(5 * ms);
      clone.send(2);
      sim.sleep(5 * ms);
    });  // the clone closes here, at 10 ms
    sim.spawn("consumer", [&] {
      received.push_back(receive.receive());
      received.push_back(receive.receive());
      try {
        receive.receive();
      } catch (const EndOfStream&) {
        ended = true;
      }
      EXPECT_EQ(sim.now(), 10 * ms);
      EXPECT_THROW(receive.receive_nowait(), EndOfStream);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(received, (std::vector<int>{1, 2}));
    EXPECT_TRUE(ended);
  });
}

TEST(MemoryObjectStream, SendToAClosedReceiverIsBrokenAndWaitingSendersAreWoken) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>(1);
    auto& send = streams.first;
    auto& receive = streams.second;
    std::vector<std::string> log;
    sim.spawn("sender", [&] {
      send.send(1);  // buffered
      try {
        send.send(2);  // waits: buffer full
      } catch (const BrokenResourceError&) {
        log.push_back("broken while waiting");
        EXPECT_EQ(sim.now(), 5 * ms);
      }
      EXPECT_THROW(send.send(3), BrokenResourceError);
      EXPECT_THROW(send.send_nowait(3), BrokenResourceError);
      // anyio 3.6.2 does not clear the buffer when the receivers go.
      EXPECT_EQ(send.statistics().current_buffer_used, 1U);
      EXPECT_EQ(send.statistics().open_receive_streams, 0U);
    });
    sim.spawn("receiver", [&, receive = std::move(receive)]() mutable {
      MemoryObjectReceiveStream<int> clone = receive.clone();
      sim.sleep(5 * ms);
      receive.close();
      EXPECT_EQ(clone.statistics().tasks_waiting_send, 1U);  // one clone still open
      clone.close();
      EXPECT_THROW(clone.receive(), ClosedResourceError);
      EXPECT_THROW(clone.receive_nowait(), ClosedResourceError);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(log, std::vector<std::string>{"broken while waiting"});
  });
}

TEST(MemoryObjectStream, WaitingReceiversGetEndOfStreamWhenTheLastSenderCloses) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>();
    auto& send = streams.first;
    auto& receive = streams.second;
    int ended = 0;
    for (int i = 0; i < 2; ++i) {
      sim.spawn("receiver", [&] {
        EXPECT_THROW(receive.receive(), EndOfStream);
        EXPECT_EQ(sim.now(), 4 * ms);
        ++ended;
      });
    }
    sim.spawn("closer", [&] {
      sim.sleep(4 * ms);
      EXPECT_EQ(send.statistics().tasks_waiting_receive, 2U);
      send = MemoryObjectSendStream<int>();  // move-assigning closes the old handle
      EXPECT_TRUE(send.closed());
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(ended, 2);
  });
}

TEST(MemoryObjectStream, MovedFromAndDefaultHandlesAreClosed) {
  MemoryObjectSendStream<int> empty;
  EXPECT_TRUE(empty.closed());
  empty.close();
  auto streams = create_memory_object_stream<int>(1);
  auto& send = streams.first;
  auto& receive = streams.second;
  MemoryObjectSendStream<int> moved = std::move(send);
  EXPECT_TRUE(send.closed());  // NOLINT(bugprone-use-after-move): testing the moved-from state
  EXPECT_FALSE(moved.closed());
  EXPECT_EQ(moved.statistics().open_send_streams, 1U);
  Simulation sim;
  sim.spawn("task", [&] {
    EXPECT_THROW(send.send(1), ClosedResourceError);  // NOLINT(bugprone-use-after-move)
    moved.send(1);
    EXPECT_EQ(receive.receive(), 1);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

// ---- cancellation --------------------------------------------------------------------

TEST(MemoryObjectStream, SendIsACheckpointFirst) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>();
    auto& send = streams.first;
    auto& receive = streams.second;
    sim.spawn("receiver", [&] { EXPECT_TRUE(move_on_after(10 * ms, [&] { receive.receive(); })); });
    sim.spawn("sender", [&] {
      sim.sleep(1 * ms);
      EXPECT_TRUE(cancel_scope([&](CancelScope& scope) {
        scope.cancel();
        send.send(1);  // a receiver waits, but the checkpoint raises first
      }));
      EXPECT_EQ(send.statistics().tasks_waiting_receive, 1U);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(MemoryObjectStream, CancelledSendWithdrawsTheItem) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>();
    auto& send = streams.first;
    auto& receive = streams.second;
    CancelScope* scope = nullptr;
    sim.spawn("timed sender", [&] {
      EXPECT_TRUE(move_on_after(5 * ms, [&] { send.send(1); }));
      EXPECT_EQ(send.statistics().tasks_waiting_send, 1U);  // only the other sender
    });
    sim.spawn("cancelled sender", [&] {
      EXPECT_TRUE(cancel_scope([&](CancelScope& s) {
        scope = &s;
        send.send(2);
      }));
    });
    sim.spawn("other", [&] {
      sim.sleep(6 * ms);
      EXPECT_EQ(send.statistics().tasks_waiting_send, 1U);
      scope->cancel();
      sim.sleep(1 * ms);
      send.send_nowait(3);  // would raise WouldBlock without the receiver below
    });
    sim.spawn("receiver", [&] {
      sim.sleep(6 * ms + 500 * kMicrosecond);  // after the cancelled sender left
      EXPECT_EQ(receive.receive(), 3);         // 1 and 2 were withdrawn
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(MemoryObjectStream, SenderCancelledAfterItsItemWasTakenStillRaisesCancelled) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>();
    auto& send = streams.first;
    auto& receive = streams.second;
    CancelScope* scope = nullptr;
    bool send_returned = false;
    int received = 0;
    sim.spawn("sender", [&] {
      EXPECT_TRUE(cancel_scope([&](CancelScope& s) {
        scope = &s;
        send.send(42);
        send_returned = true;
      }));
    });
    sim.spawn("receiver", [&] {
      sim.sleep(1 * ms);
      received = receive.receive_nowait();  // takes the item, wakes the sender
      scope->cancel();                      // before the sender resumes
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(received, 42);      // delivered ...
    EXPECT_FALSE(send_returned);  // ... yet the sender saw Cancelled (anyio 3.6)
  });
}

TEST(MemoryObjectStream, CancelledReceiveWithoutAnItemRaises) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>();
    auto& send = streams.first;
    auto& receive = streams.second;
    sim.spawn("receiver", [&] {
      EXPECT_TRUE(move_on_after(5 * ms, [&] { receive.receive(); }));
      EXPECT_EQ(receive.statistics().tasks_waiting_receive, 0U);
    });
    sim.spawn("sender", [&] {
      sim.sleep(6 * ms);
      EXPECT_THROW(send.send_nowait(1), WouldBlock);  // nobody waits any more
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(MemoryObjectStream, ReceiverCancelledAfterAnItemWasHandedOverKeepsIt) {
  under_every_schedule([](Simulation& sim) {
    auto streams = create_memory_object_stream<int>();
    auto& send = streams.first;
    auto& receive = streams.second;
    CancelScope* scope = nullptr;
    int received = 0;
    bool raised_at_next_checkpoint = false;
    sim.spawn("receiver", [&] {
      const bool caught = cancel_scope([&](CancelScope& s) {
        scope = &s;
        received = receive.receive();  // the cancellation is ignored here ...
        raised_at_next_checkpoint = true;
        checkpoint();  // ... and hits here
        raised_at_next_checkpoint = false;
      });
      EXPECT_TRUE(caught);
    });
    sim.spawn("sender", [&] {
      sim.sleep(1 * ms);
      send.send_nowait(5);  // hands the item to the waiting receiver
      scope->cancel();      // before it resumes
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(received, 5);
    EXPECT_TRUE(raised_at_next_checkpoint);
  });
}

// ---- wrong side, reports, teardown -------------------------------------------------------

TEST(MemoryObjectStream, WrongSide) {
  auto streams = create_memory_object_stream<int>(1);
  auto& send = streams.first;
  auto& receive = streams.second;
  EXPECT_THROW(send.send(1), WrongSideError);  // outside a run
  Simulation sim;
  sim.spawn_thread("worker", [&] {
    EXPECT_THROW(send.send(1), WrongSideError);
    EXPECT_THROW(send.send_nowait(1), WrongSideError);
    EXPECT_THROW(receive.receive(), WrongSideError);
    EXPECT_THROW(receive.receive_nowait(), WrongSideError);
    EXPECT_THROW(send.close(), WrongSideError);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(send.statistics().current_buffer_used, 0U);
  EXPECT_FALSE(send.closed());
}

TEST(MemoryObjectStream, DeadlockReportShowsASendWithNoReceiver) {
  Simulation sim({.strategy = Strategy::fifo});
  auto streams = create_memory_object_stream<int>(0, "responses");  // the receive end stays open
  auto& send = streams.first;
  TaskId sender = kNoTask;
  sim.spawn("sender", [&] {
    sender = sim.current_task().id();
    send.send(1);
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  ASSERT_EQ(result.blocked.size(), 1U) << result.report;
  EXPECT_EQ(result.blocked[0].task, sender);
  const std::string& waits_on = result.blocked[0].waits_on;
  EXPECT_NE(waits_on.find("MemoryObjectSendStream 'responses'"), std::string::npos) << waits_on;
  EXPECT_NE(waits_on.find("buffer 0/0"), std::string::npos) << waits_on;
  EXPECT_NE(waits_on.find("waiting: 1 send 0 receive"), std::string::npos) << waits_on;
  EXPECT_NE(waits_on.find("no receiver waiting"), std::string::npos) << waits_on;
  // Teardown unwound the sender: nothing waits any more.
  EXPECT_EQ(send.statistics().tasks_waiting_send, 0U);
}

TEST(MemoryObjectStream, HandlesOnUnwoundStacksCloseSafelyDuringTeardown) {
  // The producer owns the only send handle and blocks forever on another
  // stream; the consumer waits to receive. Teardown unwinds the producer
  // first: its handle closes and wakes the consumer mid-teardown.
  Simulation sim({.strategy = Strategy::fifo});
  auto streams = create_memory_object_stream<std::string>(0, "jobs");
  auto& send = streams.first;
  auto& receive = streams.second;
  auto never_streams = create_memory_object_stream<int>(0, "never");  // its send end stays open
  auto& never_receive = never_streams.second;
  sim.spawn("producer", [&, send = std::move(send)]() mutable {
    MemoryObjectSendStream<std::string> mine = std::move(send);
    never_receive.receive();
  });
  sim.spawn("consumer", [&, receive = std::move(receive)]() mutable { receive.receive(); });
  const RunResult result = sim.run();
  EXPECT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_EQ(result.blocked.size(), 2U) << result.report;
  EXPECT_NE(result.report.find("MemoryObjectReceiveStream 'jobs'"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find("no sender waiting"), std::string::npos) << result.report;
}

}  // namespace
}  // namespace asgisim::sim
