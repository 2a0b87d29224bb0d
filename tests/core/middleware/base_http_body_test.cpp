// BaseHTTPMiddleware and the request body (DESIGN.md catalogue entry 4,
// encode/starlette#847): ports of the tests PR #1692 added to
// tests/middleware/test_base.py in 0.28.0 (unchanged in 0.29.0), run under
// every behaviour. Before 0.28 the body dispatch read is gone, and an
// endpoint that reads it again waits for a message that only comes once the
// response is complete: the run deadlocks (pytest would hang).
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/sim/event.hpp"
#include "base_http_test_support.hpp"

namespace asgisim::core::testing {
namespace {

constexpr Outcome passes = Outcome::passes;
constexpr Outcome fails = Outcome::fails;
constexpr Outcome raises = Outcome::raises;

class BaseHttpBodyEra : public BaseHttpEra {};

// `async for chunk in request.stream(): assert chunk == expected.pop(0)`; `assert expected == []`.
void expect_stream(Request& request, std::deque<Bytes> expected) {
  auto stream = request.stream();
  while (std::optional<Bytes> chunk = stream.next()) {
    check(!expected.empty() && *chunk == expected.front(), "chunk == expected.pop(0)");
    expected.pop_front();
  }
  check(expected.empty(), "expected == []");
}

// Starlette(routes=[Route("/", homepage, methods=["POST"])], middleware=[Middleware(ConsumingMiddleware)]).
App post_app(EndpointFunction homepage, DispatchFunction dispatch, BaseHttpOptions options) {
  return starlette_app({{.path = "/", .endpoint = Endpoint(std::move(homepage)), .methods = {"POST"}}},
                       {base_http(std::move(dispatch), options)});
}

// `client.post("/", content=b"a")`; the upstream test asserts status 200.
Outcome post_a(const App& app) {
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.post("/", "a"); });
  return session.outcome(200);
}

// Upstream (0.28.0): test_read_request_stream_in_app_after_middleware_calls_stream.
TEST_P(BaseHttpBodyEra, ReadRequestStreamInAppAfterMiddlewareCallsStream) {
  const App app = post_app(
      [](Request& request) {
        expect_stream(request, {""});
        return PlainTextResponse("Homepage");
      },
      [](Request& request, const CallNext& call_next) {
        expect_stream(request, {"a", ""});
        return call_next(request);
      },
      options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// Upstream (0.28.0): test_read_request_stream_in_app_after_middleware_calls_body.
TEST_P(BaseHttpBodyEra, ReadRequestStreamInAppAfterMiddlewareCallsBody) {
  const App app = post_app(
      [](Request& request) {
        expect_stream(request, {"a", ""});
        return PlainTextResponse("Homepage");
      },
      [](Request& request, const CallNext& call_next) {
        check(request.body() == "a", "await request.body() == b'a'");
        return call_next(request);
      },
      options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// Upstream (0.28.0): test_read_request_body_in_app_after_middleware_calls_stream.
TEST_P(BaseHttpBodyEra, ReadRequestBodyInAppAfterMiddlewareCallsStream) {
  const App app = post_app(
      [](Request& request) {
        check(request.body().empty(), "await request.body() == b''");
        return PlainTextResponse("Homepage");
      },
      [](Request& request, const CallNext& call_next) {
        expect_stream(request, {"a", ""});
        return call_next(request);
      },
      options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// Upstream (0.28.0): test_read_request_body_in_app_after_middleware_calls_body.
TEST_P(BaseHttpBodyEra, ReadRequestBodyInAppAfterMiddlewareCallsBody) {
  const App app = post_app(
      [](Request& request) {
        check(request.body() == "a", "await request.body() == b'a'");
        return PlainTextResponse("Homepage");
      },
      [](Request& request, const CallNext& call_next) {
        check(request.body() == "a", "await request.body() == b'a'");
        return call_next(request);
      },
      options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// dispatch after call_next: `with pytest.raises(RuntimeError, match="Stream consumed")`.
Response expect_stream_consumed_after_call_next(Request& request, const CallNext& call_next) {
  Response response = call_next(request);
  bool raised = false;
  try {
    request.stream().next();
  } catch (const std::runtime_error& error) {
    raised = std::string(error.what()) == "Stream consumed";
  }
  check(raised, "pytest.raises(RuntimeError, match='Stream consumed')");
  return response;
}

// Upstream (0.28.0): test_read_request_stream_in_dispatch_after_app_calls_stream.
TEST_P(BaseHttpBodyEra, ReadRequestStreamInDispatchAfterAppCallsStream) {
  const App app = post_app(
      [](Request& request) {
        expect_stream(request, {"a", ""});
        return PlainTextResponse("Homepage");
      },
      expect_stream_consumed_after_call_next, options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// Upstream (0.28.0): test_read_request_stream_in_dispatch_after_app_calls_body.
TEST_P(BaseHttpBodyEra, ReadRequestStreamInDispatchAfterAppCallsBody) {
  const App app = post_app(
      [](Request& request) {
        check(request.body() == "a", "await request.body() == b'a'");
        return PlainTextResponse("Homepage");
      },
      expect_stream_consumed_after_call_next, options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// Upstream's `rcv()` async generators: the messages in order, then either
// AssertionError ("Should not be called, would hang") or anyio.sleep(inf).
Receive scripted_receive(std::vector<Message> messages, bool then_sleep_forever,
                         const std::shared_ptr<sim::Event>& never) {
  auto index = std::make_shared<std::size_t>(0);
  return [messages = std::move(messages), then_sleep_forever, never, index]() -> Message {
    if (*index < messages.size()) return messages[(*index)++];
    if (!then_sleep_forever) throw AssertionError("Should not be called, would hang");
    never->wait();
    throw std::logic_error("unreachable");
  };
}

// Upstream (0.28.0): test_read_request_stream_in_dispatch_wrapping_app_calls_body.
// dispatch calls call_next in the middle of its own stream() loop. Passes from
// 0.20.1; 0.15 to 0.20.0 forward an empty body chunk (fixed by PR #1609).
TEST_P(BaseHttpBodyEra, ReadRequestStreamInDispatchWrappingAppCallsBody) {
  constexpr EraOutcomes kUpstream{{fails, passes, passes, passes, passes, passes}};
  const App endpoint = [](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope, receive);
    auto stream = request.stream();
    check(stream.next() == Bytes("2"), "chunk == b'2'");  // then `break`
    Response()(scope, receive, send);
  };
  const DispatchFunction consuming = [](Request& request, const CallNext& call_next) {
    Bytes expected = "1";
    std::optional<Response> response;
    auto stream = request.stream();
    while (std::optional<Bytes> chunk = stream.next()) {
      check(*chunk == expected, "chunk == expected");
      if (expected != "1") break;
      response = call_next(request);
      expected = "3";
    }
    check(response.has_value(), "response is not None");
    return *response;
  };
  const App app = base_http_middleware(endpoint, consuming, options());
  auto never = std::make_shared<sim::Event>("anyio.sleep(inf)");
  const Receive receive = scripted_receive(
      {Message::request("1", true), Message::request("2", true), Message::request("3")}, true, never);
  std::vector<Message> sent;
  const Send send = [&](Message message) { sent.push_back(std::move(message)); };
  Scope scope = http_scope();
  const sim::RunResult result = run_app_call(app, scope, receive, send);
  const bool as_expected = sent.size() == 2 && sent[0].type == MessageType::http_response_start &&
                           sent[0].status == 200 && sent[0].headers == Headers{{"content-length", "0"}} &&
                           sent[1].type == MessageType::http_response_body && sent[1].body.empty() &&
                           !sent[1].more_body;
  EXPECT_EQ(outcome_of(result, as_expected), kUpstream[behaviour()])
      << describe(result) << " sent " << sent.size();
}

// Upstream (0.28.0):
// test_read_request_stream_in_dispatch_after_app_calls_body_with_middleware_calling_body_before_call_next.
TEST_P(BaseHttpBodyEra, ReadRequestStreamInDispatchAfterAppCallsBodyWithBodyBeforeCallNext) {
  const App app = post_app(
      [](Request& request) {
        check(request.body() == "a", "await request.body() == b'a'");
        return PlainTextResponse("Homepage");
      },
      [](Request& request, const CallNext& call_next) {
        check(request.body() == "a", "await request.body() == b'a'");  // buffers the body
        Response response = call_next(request);
        auto stream = request.stream();
        while (std::optional<Bytes> chunk = stream.next())
          check(chunk->empty() || *chunk == "a", "chunk == b'a'");
        return response;
      },
      options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// Upstream (0.28.0):
// test_read_request_body_in_dispatch_after_app_calls_body_with_middleware_calling_body_before_call_next.
TEST_P(BaseHttpBodyEra, ReadRequestBodyInDispatchAfterAppCallsBodyWithBodyBeforeCallNext) {
  const App app = post_app(
      [](Request& request) {
        check(request.body() == "a", "await request.body() == b'a'");
        return PlainTextResponse("Homepage");
      },
      [](Request& request, const CallNext& call_next) {
        check(request.body() == "a", "await request.body() == b'a'");
        Response response = call_next(request);
        check(request.body() == "a", "await request.body() == b'a'  # no problem here");
        return response;
      },
      options());
  EXPECT_EQ(post_a(app), kHangsBefore028[behaviour()]);
}

// Upstream (0.28.0): test_read_request_disconnected_client. Before 0.28
// the endpoint takes the only http.disconnect, and dispatch's
// is_disconnected() calls the receive that must not be called again.
TEST_P(BaseHttpBodyEra, ReadRequestDisconnectedClient) {
  constexpr EraOutcomes kUpstream{{raises, raises, raises, raises, passes, passes}};
  const App endpoint = [](Scope& scope, const Receive& receive, const Send& send) {
    check(receive().type == MessageType::http_disconnect, "msg['type'] == 'http.disconnect'");
    Response()(scope, receive, send);
  };
  const DispatchFunction consuming = [](Request& request, const CallNext& call_next) {
    Response response = call_next(request);
    check(request.is_disconnected(), "disconnected is True");
    return response;
  };
  const App app = base_http_middleware(endpoint, consuming, options());
  const Receive receive = scripted_receive({Message::disconnect()}, false, nullptr);
  int status = 0;
  const Send send = [&](Message message) {
    if (message.type == MessageType::http_response_start) status = message.status;
  };
  Scope scope = http_scope("POST");
  const sim::RunResult result = run_app_call(app, scope, receive, send);
  EXPECT_EQ(outcome_of(result, status == 200), kUpstream[behaviour()]) << describe(result);
}

// Upstream (0.28.0): test_read_request_disconnected_after_consuming_steam.
// Before 0.28 the endpoint's receive() is the one that must not be called again.
TEST_P(BaseHttpBodyEra, ReadRequestDisconnectedAfterConsumingStream) {
  constexpr EraOutcomes kUpstream{{raises, raises, raises, raises, passes, passes}};
  const App endpoint = [](Scope& scope, const Receive& receive, const Send& send) {
    const Message first = receive();
    check(first.type == MessageType::http_request && first.body == "hi" && !first.more_body,
          "msg == {'type': 'http.request', 'body': b'hi'}");
    check(receive().type == MessageType::http_disconnect, "msg == {'type': 'http.disconnect'}");
    Response()(scope, receive, send);
  };
  const DispatchFunction consuming = [](Request& request, const CallNext& call_next) {
    request.body();
    check(request.is_disconnected(), "disconnected is True");
    return call_next(request);
  };
  const App app = base_http_middleware(endpoint, consuming, options());
  const Receive receive = scripted_receive({Message::request("hi"), Message::disconnect()}, false, nullptr);
  int status = 0;
  const Send send = [&](Message message) {
    if (message.type == MessageType::http_response_start) status = message.status;
  };
  Scope scope = http_scope("POST");
  const sim::RunResult result = run_app_call(app, scope, receive, send);
  EXPECT_EQ(outcome_of(result, status == 200), kUpstream[behaviour()]) << describe(result);
}

// Upstream (0.28.0): test_downstream_middleware_modifies_receive. A pure
// ASGI middleware below doubles every body; the endpoint sees the double.
TEST_P(BaseHttpBodyEra, DownstreamMiddlewareModifiesReceive) {
  const App endpoint = [](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope, receive);
    check(request.body() == "foo foo ", "body == b'foo foo '");
    Response()(scope, receive, send);
  };
  const DispatchFunction consuming = [](Request& request, const CallNext& call_next) {
    check(request.body() == "foo ", "body == b'foo '");
    return call_next(request);
  };
  const App modifying = pure_asgi_middleware(endpoint, {.on_receive = [](Message message) {
                                               if (message.type == MessageType::http_request) {
                                                 message.body += message.body;
                                               }
                                               return message;
                                             }});
  const App app = base_http_middleware(modifying, consuming, options());
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.post("/", "foo "); });
  EXPECT_EQ(session.outcome(200), kHangsBefore028[behaviour()]) << describe(session.result);
}

// Upstream (0.28.0): test_pr_1519_comment_1236166180_example. A middleware
// that logs the body size, above one that appends "-foo" to every body.
TEST_P(BaseHttpBodyEra, Pr1519Comment1236166180Example) {
  std::vector<Bytes> bodies;
  const App starlette = starlette_app({{.path = "/",
                                        .endpoint = Endpoint([&](Request& request) {
                                          bodies.push_back(request.body());
                                          return Response();
                                        }),
                                        .methods = {"POST"}}});
  const App replace_body = pure_asgi_middleware(starlette, {.on_receive = [](Message message) {
                                                  message.body += "-foo";
                                                  return message;
                                                }});
  const DispatchFunction log_request_body_size = [](Request& request, const CallNext& call_next) {
    request.body();  // print(len(await request.body()))
    return call_next(request);
  };
  const App app = base_http_middleware(replace_body, log_request_body_size, options());
  const ClientSession session =
      with_test_client(app, [](TestClient& client) { client.post("/", "Hello, World!"); });
  const bool as_expected = bodies == std::vector<Bytes>{"Hello, World!-foo"};
  EXPECT_EQ(session.outcome(200, as_expected), kHangsBefore028[behaviour()]) << describe(session.result);
}

INSTANTIATE_TEST_SUITE_P(Eras, BaseHttpBodyEra, ::testing::ValuesIn(kAllBehaviours), behaviour_name);

}  // namespace
}  // namespace asgisim::core::testing
