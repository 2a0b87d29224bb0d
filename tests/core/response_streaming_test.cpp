// Tests of StreamingResponse (response.hpp, Starlette 0.26.1; the 0.42+ branch):
// ports of its tests in Starlette's tests/test_responses.py, and the model's
// own checks of its two disconnect behaviours. Apps are driven directly, with
// hand-written receive/send, inside a Simulation.
#include "asgisim/core/response.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/json_text.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/threading.hpp"
#include "core/starlette_port_support.hpp"

namespace asgisim::core {
namespace {

using test_support::call;
using test_support::Exchange;
using test_support::get;
using test_support::in_sim;
using test_support::ThreadPerCall;

// ---- StreamingResponse -----------------------------------------------------------

// An async generator of "1, 2, ..., max", checkpointing after each number.
BodyIterator numbers(int minimum, int maximum) {
  auto next = std::make_shared<int>(minimum);
  auto separator = std::make_shared<bool>(false);
  return [=]() -> std::optional<Bytes> {
    if (*separator) {
      *separator = false;
      return Bytes(", ");
    }
    if (*next > maximum) return std::nullopt;
    const int value = (*next)++;
    if (value != maximum) *separator = true;
    sim::checkpoint();  // await anyio.sleep(0)
    return std::to_string(value);
  };
}

// Port of test_streaming_response.
TEST(StreamingResponse, StreamsThenRunsBackground) {
  std::string filled_by_background;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    BackgroundTask cleanup("numbers_for_cleanup", [&] {
      BodyIterator more = numbers(6, 9);
      while (auto thing = more()) filled_by_background += *thing;
    });
    StreamingResponse(numbers(1, 5), {.media_type = "text/plain", .background = cleanup})(scope, receive,
                                                                                          send);
  };
  EXPECT_EQ(filled_by_background, "");
  const Exchange response = get(app, "/");
  EXPECT_EQ(response.body, "1, 2, 3, 4, 5");
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(filled_by_background, "6, 7, 8, 9");
}

// Port of test_streaming_response_custom_iterator.
TEST(StreamingResponse, CustomIterator) {
  auto called = std::make_shared<int>(0);
  BodyIterator iterator = [called]() -> std::optional<Bytes> {
    if (*called == 5) return std::nullopt;
    return std::to_string(++*called);
  };
  EXPECT_EQ(get(StreamingResponse(iterator, {.media_type = "text/plain"}), "/").body, "12345");
}

// Port of test_sync_streaming_response: a sync iterator goes through the thread pool.
TEST(StreamingResponse, SyncIteratorRunsInThreadpool) {
  ThreadPerCall pool;
  auto remaining = std::make_shared<std::vector<Bytes>>(std::vector<Bytes>{"1", ", ", "2", ", ", "3"});
  BodyIterator sync_iterator = [remaining]() -> std::optional<Bytes> {
    if (remaining->empty()) return std::nullopt;
    Bytes chunk = remaining->front();
    remaining->erase(remaining->begin());
    return chunk;
  };
  const Exchange response = get(StreamingResponse(iterate_in_threadpool(sync_iterator, pool)), "/");
  EXPECT_EQ(response.body, "1, 2, 3");
  EXPECT_EQ(pool.calls, 6);  // five chunks and the StopIteration
}

// Ports of test_streaming_response_unknown_size and test_streaming_response_known_size.
TEST(StreamingResponse, ContentLengthOnlyWhenGiven) {
  auto chunks = [] {
    auto left = std::make_shared<int>(2);
    return BodyIterator([left]() -> std::optional<Bytes> {
      if (*left == 0) return std::nullopt;
      return (*left)-- == 2 ? Bytes("hello") : Bytes("world");
    });
  };
  const Exchange unknown = get(StreamingResponse(chunks()), "/");
  EXPECT_FALSE(unknown.header("content-length"));
  EXPECT_EQ(unknown.body, "helloworld");
  const Exchange known =
      get(StreamingResponse(chunks(), {.headers = Headers{{"content-length", "10"}}}), "/");
  EXPECT_EQ(known.header("content-length"), "10");
}

// An endless body: "chunk " after a checkpoint, forever.
BodyIterator stream_indefinitely(Bytes chunk = "chunk ") {
  return [chunk]() -> std::optional<Bytes> {
    sim::checkpoint();  // "Need a sleep for the event loop to switch to another task"
    return chunk;
  };
}

// Port of test_streaming_response_stops_if_receiving_http_disconnect (listen):
// the listener sees http.disconnect and cancels the endless body.
TEST(StreamingResponse, StopsIfReceivingHttpDisconnect) {
  for (StreamingBehaviour behaviour : {StreamingBehaviour::listen, StreamingBehaviour::by_spec_version}) {
    std::size_t streamed = 0;
    bool cancel_called = true;
    ASSERT_TRUE(in_sim([&] {
                  sim::Event disconnected;
                  const Receive receive_disconnect = [&] {
                    disconnected.wait();
                    return Message::disconnect();
                  };
                  const Send send = [&](Message message) {
                    if (message.type != MessageType::http_response_body) return;
                    streamed += message.body.size();
                    if (streamed >= 16) disconnected.set();  // the download has started
                  };
                  StreamingResponse response(stream_indefinitely(), {}, behaviour);
                  Scope scope;
                  scope.spec_version = "2.0";  // Starlette's default for a scope without "asgi"
                  cancel_called =
                      sim::move_on_after(sim::kSecond, [&] { response(scope, receive_disconnect, send); });
                }).ok());
    EXPECT_FALSE(cancel_called) << "Content streaming should stop itself (" << to_string(behaviour) << ")";
    EXPECT_GE(streamed, 16U);
  }
}

// Port of test_streaming_response_on_client_disconnects (Starlette 0.42+,
// spec_version 2.4): no listener; the error send raises becomes ClientDisconnect.
TEST(StreamingResponse, NoListenTurnsSendErrorIntoClientDisconnect) {
  for (StreamingBehaviour behaviour : {StreamingBehaviour::no_listen, StreamingBehaviour::by_spec_version}) {
    Bytes chunks;
    bool streamed = false;
    bool raised = false;
    bool cancel_called = true;
    ASSERT_TRUE(in_sim([&] {
                  const Receive receive_disconnect = []() -> Message {
                    throw std::logic_error("NotImplementedError: receive must not be called");
                  };
                  const Send send = [&](Message message) {
                    if (message.type != MessageType::http_response_body) return;
                    if (streamed) throw ClientDisconnected();  // the OSError
                    chunks += message.body;
                    streamed = true;
                  };
                  StreamingResponse response(stream_indefinitely("chunk"), {}, behaviour);
                  Scope scope;
                  scope.spec_version = "2.4";
                  cancel_called = sim::move_on_after(sim::kSecond, [&] {
                    try {
                      response(scope, receive_disconnect, send);
                    } catch (const ClientDisconnect&) {
                      raised = true;
                    }
                  });
                }).ok());
    EXPECT_TRUE(raised) << to_string(behaviour);
    EXPECT_FALSE(cancel_called) << "Content streaming should stop itself.";
    EXPECT_EQ(chunks, "chunk");
  }
}

// The model's scenario 8: no listener behind a server that drops sends after
// a disconnect: nothing stops the body. With a body that takes time, only an
// outer deadline ends it; with one that only checkpoints, virtual time never
// moves and the run ends as a liveness failure (the step budget).
TEST(StreamingResponse, NoListenWithSilentlyDroppedSendsNeverStops) {
  const Receive receive = [] { return Message::disconnect(); };
  const Send drop = [](const Message&) {};
  bool cancel_called = false;
  ASSERT_TRUE(in_sim([&] {
                BodyIterator slow_forever = [] {
                  sim::sleep(sim::kMillisecond);
                  return std::optional<Bytes>("chunk");
                };
                StreamingResponse response(slow_forever, {}, StreamingBehaviour::no_listen);
                Scope scope;
                cancel_called = sim::move_on_after(sim::kSecond, [&] { response(scope, receive, drop); });
              }).ok());
  EXPECT_TRUE(cancel_called);

  const sim::RunResult run = in_sim(
      [&] {
        StreamingResponse response(stream_indefinitely(), {}, StreamingBehaviour::no_listen);
        Scope scope;
        response(scope, receive, drop);
      },
      {.seed = 1, .steps_max = 10'000});
  EXPECT_EQ(run.status, sim::RunStatus::liveness_steps);
}

// A malformed spec_version is a clear error, as int() would raise.
TEST(StreamingResponse, MalformedSpecVersionRaises) {
  Scope scope;
  scope.spec_version = "2.x";
  const Exchange result =
      call(StreamingResponse(stream_indefinitely(), {}, StreamingBehaviour::by_spec_version), scope);
  ASSERT_TRUE(result.error);
  EXPECT_THROW(std::rethrow_exception(result.error), std::invalid_argument);
}

// With `listen`, a disconnect stops the stream but the background still runs
// (it is outside the task group).
TEST(Background, RunsAfterStreamStoppedByDisconnect) {
  bool ran = false;
  ASSERT_TRUE(in_sim([&] {
                int sent = 0;
                sim::Event gone;
                const Receive receive = [&] {
                  gone.wait();
                  return Message::disconnect();
                };
                const Send send = [&](const Message&) {
                  if (++sent == 3) gone.set();
                };
                StreamingResponse response(stream_indefinitely(),
                                           {.background = BackgroundTask("bg", [&] { ran = true; })});
                Scope scope;
                response(scope, receive, send);
              }).ok());
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace asgisim::core
