// Tests of Request (request.hpp, Starlette 0.26.1 and 0.28's stream rule): ports of Starlette's
// tests/test_requests.py (each port names its upstream test), plus the
// model's own checks of query parsing on malformed input, the JSON checker,
// the generator semantics of stream() and the zero-time is_disconnected().
// Apps are driven directly, with hand-written receive/send, inside a Simulation.
#include "asgisim/core/request.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/json_text.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "core/starlette_port_support.hpp"

namespace asgisim::core {
namespace {

using test_support::call;
using test_support::Exchange;
using test_support::get;
using test_support::http_scope;
using test_support::in_sim;
using ::testing::ElementsAre;
using ::testing::Pair;

Exchange post(const App& app, Bytes body) { return test_support::post(app, "/", std::move(body)); }

// An app that answers {"body": <text>} with what `read(request)` returns.
App echo(std::function<Bytes(Request&)> read) {
  return [read](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope, receive);
    JSONResponse("{\"body\":" + json_string(read(request)) + "}")(scope, receive, send);
  };
}

// ---- ports of tests/test_requests.py -------------------------------------------------

// Port of test_request_url.
TEST(Request, Url) {
  App app = [](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope, receive);
    PlainTextResponse(request.method() + " " + request.url())(scope, receive, send);
  };
  EXPECT_EQ(get(app, "/123?a=abc").body, "GET http://testserver/123?a=abc");
  Scope https = http_scope("GET", "/", {{"host", "example.org:123"}});
  https.scheme = "https";
  EXPECT_EQ(call(app, https).body, "GET https://example.org:123/");
}

// Port of test_request_query_params.
TEST(Request, QueryParams) {
  Scope scope = http_scope("GET", "/?a=123&b=456");
  Request request(scope);
  EXPECT_THAT(request.query_params().items(), ElementsAre(Pair("a", "123"), Pair("b", "456")));
}

// Port of test_request_headers (the model's own headers instead of httpx's).
TEST(Request, Headers) {
  Scope scope = http_scope("GET", "/", {{"host", "example.org"}, {"user-agent", "testclient"}});
  Request request(scope);
  EXPECT_EQ(request.headers(), (Headers{{"host", "example.org"}, {"user-agent", "testclient"}}));
  EXPECT_EQ(request.header("User-Agent"), "testclient");
  EXPECT_FALSE(request.header("accept"));
}

// Port of test_request_body.
TEST(Request, Body) {
  App app = echo([](Request& request) { return request.body(); });
  EXPECT_EQ(get(app, "/").body, R"({"body":""})");
  EXPECT_EQ(post(app, R"({"a": "123"})").body, R"({"body":"{\"a\": \"123\"}"})");
  EXPECT_EQ(post(app, "abc").body, R"({"body":"abc"})");
}

// Port of test_request_stream.
TEST(Request, Stream) {
  App app = echo([](Request& request) {
    Bytes body;
    Request::Stream stream = request.stream();
    while (auto chunk = stream.next()) body += *chunk;
    return body;
  });
  EXPECT_EQ(get(app, "/").body, R"({"body":""})");
  EXPECT_EQ(post(app, "abc").body, R"({"body":"abc"})");
}

// Port of test_request_body_then_stream: a cached body is replayed.
TEST(Request, BodyThenStream) {
  App app = echo([](Request& request) {
    Bytes body = request.body();
    Bytes chunks;
    Request::Stream stream = request.stream();
    while (auto chunk = stream.next()) chunks += *chunk;
    return body + "|" + chunks;
  });
  EXPECT_EQ(post(app, "abc").body, R"({"body":"abc|abc"})");
}

// Port of test_request_stream_then_body: "Stream consumed".
TEST(Request, StreamThenBody) {
  App app = echo([](Request& request) {
    Bytes chunks;
    Request::Stream stream = request.stream();
    while (auto chunk = stream.next()) chunks += *chunk;
    Bytes body;
    try {
      body = request.body();
    } catch (const std::runtime_error& error) {
      EXPECT_STREQ(error.what(), "Stream consumed");
      body = "<stream consumed>";
    }
    return body + "|" + chunks;
  });
  EXPECT_EQ(post(app, "abc").body, R"({"body":"<stream consumed>|abc"})");
}

// Port of test_request_json.
TEST(Request, Json) {
  App app = [](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope, receive);
    JSONResponse("{\"json\":" + request.json() + "}")(scope, receive, send);
  };
  EXPECT_EQ(post(app, R"({"a":"123"})").body, R"({"json":{"a":"123"}})");
  const Exchange invalid = post(app, "{oops");
  ASSERT_TRUE(invalid.error);
  EXPECT_THROW(std::rethrow_exception(invalid.error), JSONDecodeError);
}

// Port of test_request_without_setting_receive.
TEST(Request, WithoutSettingReceive) {
  App app = [](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope);
    std::string data;
    try {
      data = request.json();
    } catch (const std::runtime_error& error) {
      EXPECT_STREQ(error.what(), "Receive channel has not been made available");
      data = json_string("Receive channel not available");
    }
    JSONResponse("{\"json\":" + data + "}")(scope, receive, send);
  };
  EXPECT_EQ(post(app, R"({"a":"123"})").body, R"({"json":"Receive channel not available"})");
}

// Port of test_request_disconnect: http.disconnect while reading the body.
TEST(Request, Disconnect) {
  bool raised = false;
  ASSERT_TRUE(in_sim([&] {
                Scope scope = http_scope("POST", "/");
                Request request(scope, [] { return Message::disconnect(); });
                try {
                  request.body();
                } catch (const ClientDisconnect&) {
                  raised = true;
                }
                EXPECT_TRUE(request.is_disconnected());
              }).ok());
  EXPECT_TRUE(raised);
}

// Port of test_request_is_disconnected.
TEST(Request, IsDisconnected) {
  std::optional<bool> disconnected_after_response;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    Request request(scope, receive);
    request.body();
    const bool disconnected = request.is_disconnected();
    JSONResponse(disconnected ? R"({"disconnected":true})" : R"({"disconnected":false})")(scope, receive,
                                                                                          send);
    disconnected_after_response = request.is_disconnected();
  };
  EXPECT_EQ(get(app, "/").body, R"({"disconnected":false})");
  EXPECT_EQ(disconnected_after_response, true);
}

// Port of test_request_state.
TEST(Request, State) {
  Scope scope = http_scope("GET", "/123?a=abc");
  Request request(scope);
  request.state()["example"] = "123";
  EXPECT_EQ(scope.state.at("example"), "123");
}

// Port of test_chunked_encoding: several http.request messages.
TEST(Request, ChunkedEncoding) {
  App app = echo([](Request& request) { return request.body(); });
  const Exchange response =
      call(app, http_scope("POST", "/"), {Message::request("foo", true), Message::request("bar", false)});
  EXPECT_EQ(response.body, R"({"body":"foobar"})");
}

// ---- the model's own checks ---------------------------------------------------------

// stream() is a generator: non-empty chunks, then one b"" after more_body=false;
// nothing is received before the first next().
TEST(RequestStream, YieldsChunksThenOneEmptyChunk) {
  ASSERT_TRUE(in_sim([] {
                std::vector<Message> incoming{Message::request("a", true), Message::request("", true),
                                              Message::request("b", true), Message::request("", false)};
                std::size_t received = 0;
                Scope scope = http_scope("POST", "/");
                Request request(scope, [&] { return incoming.at(received++); });
                Request::Stream stream = request.stream();
                EXPECT_EQ(received, 0U);
                std::vector<Bytes> chunks;
                while (auto chunk = stream.next()) chunks.push_back(*chunk);
                EXPECT_THAT(chunks, ElementsAre("a", "b", ""));
                EXPECT_FALSE(stream.next());
                Request::Stream again = request.stream();
                EXPECT_THROW(again.next(), std::runtime_error);
                EXPECT_FALSE(again.next());  // the generator ended with the exception
              }).ok());
}

// ClientDisconnect is Starlette's Exception, not a RuntimeError.
TEST(RequestStream, ClientDisconnectIsNotARuntimeError) {
  ASSERT_TRUE(in_sim([] {
                Scope scope = http_scope("POST", "/");
                Request request(scope, [] { return Message::disconnect(); });
                bool caught_as_runtime_error = false;
                try {
                  try {
                    request.body();
                  } catch (const std::runtime_error&) {
                    caught_as_runtime_error = true;
                  }
                } catch (const ClientDisconnect&) {
                }
                EXPECT_FALSE(caught_as_runtime_error);
                // The stream is consumed even though the body was never cached.
                EXPECT_THROW(request.body(), std::runtime_error);
              }).ok());
}

// StreamConsumedRule::on_last (requests.py 0.28+, dispatch's _CachedRequest):
// a second stream() may start while the first reads, and the first ends once
// the second took the last message; under on_start the second raises.
TEST(RequestStream, OnLastRuleLetsASecondStreamFinishTheBody) {
  ASSERT_TRUE(
      in_sim([] {
        const std::vector<Message> incoming{Message::request("a", true), Message::request("b")};
        for (const StreamConsumedRule rule : {StreamConsumedRule::on_start, StreamConsumedRule::on_last}) {
          std::size_t received = 0;
          Scope scope = http_scope("POST", "/");
          Request request(
              scope, [&] { return incoming.at(received++); }, {}, rule);
          Request::Stream first = request.stream();
          EXPECT_EQ(first.next(), Bytes("a"));
          Request::Stream second = request.stream();
          if (rule == StreamConsumedRule::on_start) {
            EXPECT_THROW(second.next(), std::runtime_error);
            continue;
          }
          EXPECT_EQ(second.next(), Bytes("b"));
          EXPECT_EQ(second.next(), Bytes(""));
          EXPECT_EQ(first.next(), Bytes(""));  // `while not self._stream_consumed` ends
          EXPECT_FALSE(first.next());
          EXPECT_EQ(received, 2U);
        }
      }).ok());
}

// Under on_last a ClientDisconnect leaves the stream unconsumed: the next
// body() receives again (and gets the disconnect again).
TEST(RequestStream, OnLastRuleReadsAgainAfterClientDisconnect) {
  ASSERT_TRUE(in_sim([] {
                Scope scope = http_scope("POST", "/");
                Request request(
                    scope, [] { return Message::disconnect(); }, {}, StreamConsumedRule::on_last);
                EXPECT_THROW(request.body(), ClientDisconnect);
                EXPECT_THROW(request.body(), ClientDisconnect);
                EXPECT_TRUE(request.is_disconnected());
              }).ok());
}

// is_disconnected() never waits: a receive() that would block is cancelled
// at once, and a message that was ready is taken (and lost), as in Starlette.
TEST(RequestStream, IsDisconnectedIsAZeroTimePeek) {
  ASSERT_TRUE(in_sim([] {
                sim::Event never;
                Scope scope = http_scope("POST", "/");
                Request waiting(scope, [&] {
                  never.wait();
                  return Message::disconnect();
                });
                const sim::Nanoseconds before = sim::now();
                EXPECT_FALSE(waiting.is_disconnected());
                EXPECT_EQ(sim::now(), before);

                int calls = 0;
                Request ready(scope, [&] {
                  ++calls;
                  return Message::request("lost");
                });
                EXPECT_FALSE(ready.is_disconnected());
                EXPECT_EQ(calls, 1);
              }).ok());
}

TEST(RequestStream, RequestNeedsAnHttpScope) {
  Scope scope;
  scope.type = "lifespan";
  EXPECT_THROW(Request{scope}, std::invalid_argument);
}

// Query strings as parse_qsl(latin-1 text, keep_blank_values=True) parses them.
TEST(QueryParams, MalformedAndEdgeInput) {
  const QueryParams params("a=1&a=2&b&&c=%zz%4&d=x+y%20z&e=%C3%A9&f=%C3&g=\xE9&=v");
  EXPECT_EQ(params.get("a"), "2");
  EXPECT_THAT(params.getlist("a"), ElementsAre("1", "2"));
  EXPECT_EQ(params.get("b"), "");
  EXPECT_EQ(params.get("c"), "%zz%4");
  EXPECT_EQ(params.get("d"), "x y z");
  EXPECT_EQ(params.get("e"), "\xC3\xA9");
  EXPECT_EQ(params.get("f"), "\xEF\xBF\xBD");  // U+FFFD for the broken UTF-8
  EXPECT_EQ(params.get("g"), "\xC3\xA9");      // a raw latin-1 byte
  EXPECT_EQ(params.get(""), "v");
  EXPECT_EQ(params.items().front(), std::make_pair(std::string("a"), std::string("2")));
  EXPECT_EQ(params.size(), 8U);
}

TEST(Urllib, QuoteAndUnquote) {
  EXPECT_EQ(quote("/a b/\xE2\x99\xA5?x"), "/a%20b/%E2%99%A5%3Fx");
  EXPECT_EQ(unquote("%41%2"), "A%2");
  EXPECT_EQ(unquote("%E2%99%A5-\xC3\xA9-%FF"), "\xE2\x99\xA5-\xC3\xA9-\xEF\xBF\xBD");
  EXPECT_EQ(utf8_decode_replace("\xE2\x99"), "\xEF\xBF\xBD");  // one U+FFFD for a truncated sequence
  EXPECT_EQ(utf8_decode_replace("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Url, QueryStringMustBeUtf8) {
  Scope scope = http_scope("GET", "/x");
  scope.query_string = "a=\xFF";
  EXPECT_THROW(url_from_scope(scope), UnicodeDecodeError);
  scope.headers.clear();
  scope.query_string = "a=1";
  EXPECT_EQ(url_from_scope(scope), "/x?a=1");
}

// What json.loads accepts and rejects.
TEST(Json, AcceptsWhatPythonAccepts) {
  for (const char* text : {"null", " [1, 2.5e-3, -0, \"x\\u00e9\"] ", "{\"a\":{\"b\":[]}}", "NaN",
                           "-Infinity", "\xEF\xBB\xBF{}", "\"\xED\xA0\x80\""}) {
    EXPECT_NO_THROW(check_json(text)) << text;
  }
  for (const char* text : {"", "01", "1.", "[1,]", "{\"a\":1,}", "{'a':1}", "\"\t\"", "\"\\x\"", "[1] x",
                           "\"\xFF\"", "nul", "-", "{\"a\" 1}", "[1 2]"}) {
    EXPECT_THROW(check_json(text), JSONDecodeError) << text;
  }
  EXPECT_THROW(check_json(std::string(5000, '[') + std::string(5000, ']')), JSONDecodeError);
  EXPECT_EQ(check_json("\xEF\xBB\xBF[]"), "[]");
}

TEST(Json, DumpsPieces) {
  EXPECT_EQ(json_string("a\"b\\c\n\x01\xC3\xA9"), "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9\"");
  EXPECT_EQ(json_float(25.5), "25.5");
  EXPECT_EQ(json_float(1e16), "1e+16");
  EXPECT_EQ(json_float(100.0), "100.0");
  EXPECT_EQ(json_float(0.0001), "0.0001");
  EXPECT_EQ(json_float(1e-5), "1e-05");
  EXPECT_EQ(json_float(-0.0), "-0.0");
  EXPECT_EQ(json_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(json_float(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_THROW(json_float(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  EXPECT_EQ(json_integer(-42), "-42");
}

}  // namespace
}  // namespace asgisim::core
