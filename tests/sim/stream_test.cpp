// Tests of anyio's memory object streams (stream.hpp): hand-off and
// buffering, clones, and closed / broken / end-of-stream.
#include "asgisim/sim/stream.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- hand-off and buffering --------------------------------------------------------

TEST(MemoryObjectStream, ZeroBufferSendWaitsForAReceiver) {
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
    run_under_schedules([buffer](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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

}  // namespace
}  // namespace asgisim::sim
