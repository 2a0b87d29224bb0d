// Tests of anyio's memory object streams (stream.hpp) under cancellation and
// misuse: cancelled sends and receives (anyio 3.6's quirks included),
// wrong-side use, deadlock reports and teardown.
#include "asgisim/sim/stream.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- cancellation --------------------------------------------------------------------

TEST(MemoryObjectStream, SendIsACheckpointFirst) {
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
