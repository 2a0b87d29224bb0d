// RapidCheck properties of the ASGI protocol validator (validator.hpp):
// arbitrary message sequences never crash it and only produce known ids;
// well-formed conversations produce no violations.
#include "asgisim/core/validator.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "asgisim/sim/simulation.hpp"

#include "core/validator_test_support.hpp"

namespace asgisim::core {
namespace {

using namespace validator_test_support;

// ---- properties ------------------------------------------------------------------------

// Mostly the message types that belong to the direction, sometimes any.
Message gen_message(bool app_sends) {
  Message message;
  const auto any = rc::gen::cast<MessageType>(rc::gen::inRange(0, 10));
  const auto http = app_sends
                        ? rc::gen::element(MessageType::http_response_start, MessageType::http_response_body)
                        : rc::gen::element(MessageType::http_request, MessageType::http_disconnect);
  message.type = *rc::gen::weightedOneOf<MessageType>({{1, any}, {6, http}});
  message.body = std::string(*rc::gen::inRange<std::size_t>(0, 4), 'x');
  message.more_body = *rc::gen::arbitrary<bool>();
  message.status = *rc::gen::element(200, 204, 304, 500);
  if (*rc::gen::arbitrary<bool>()) {
    message.headers.push_back({"content-length", *rc::gen::element<std::string>("0", "3", "7", " 4 ", "x")});
  }
  return message;
}

RC_GTEST_PROP(ValidatorProperty, ArbitrarySequencesNeverCrashAndUseKnownIds, ()) {
  Scope scope;
  scope.type = *rc::gen::element<std::string>("http", "http", "http", "lifespan", "websocket");
  scope.method = *rc::gen::element<std::string>("GET", "HEAD", "POST");
  scope.request_id = *rc::gen::inRange<RequestId>(0, 3);
  const auto steps = *rc::gen::container<std::vector<Step>>(rc::gen::exec([] {
    const bool app_sends = *rc::gen::arbitrary<bool>();
    return Step{.app_sends = app_sends, .message = gen_message(app_sends)};
  }));
  FakeServer server;
  for (const Step& step : steps) {
    if (!step.app_sends) server.incoming.push_back(step.message);
  }
  Observer observer;
  observer.emplace<ProtocolValidator>(
      ProtocolValidatorOptions{.send_after_disconnect_is_error = *rc::gen::arbitrary<bool>()});
  const App app = validated_chain({{"Middle", pass_through}}, scripted(steps), observer);
  run_calls(app, {{scope, &server}});
  RC_ASSERT(server.sent.size() + server.next == steps.size());
  int failures = 0;
  for (const Violation& violation : observer.violations()) {
    RC_ASSERT(std::find(kProtocolInvariantIds.begin(), kProtocolInvariantIds.end(), violation.invariant) !=
              kProtocolInvariantIds.end());
    RC_ASSERT(violation.request == scope.request_id);
    // A pass-through middleware is never blamed: what it forwards is an echo.
    RC_ASSERT(violation.layer == "server" || violation.layer == "endpoint");
    failures += violation.warning ? 0 : 1;
  }
  // Both boundaries see the same messages, so they fail at the same one, and
  // the second report is an echo of the first.
  RC_ASSERT(failures <= 1);
  for (const Violation& violation : observer.violations()) RC_TAG(violation.invariant);
}

// HEAD responses declare a Content-Length but carry no bytes; the client may
// leave mid-body; the app may read past the body (then it sees http.disconnect).
RC_GTEST_PROP(ValidatorProperty, WellFormedConversationsHaveNoViolations, ()) {
  const bool head = *rc::gen::arbitrary<bool>();
  const auto request_chunks = *rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>());
  const auto response_chunks = *rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>());
  const bool client_leaves_mid_body = *rc::gen::arbitrary<bool>();
  const bool declare_length = *rc::gen::arbitrary<bool>();
  const std::size_t extra_receives = *rc::gen::inRange<std::size_t>(0, 3);

  FakeServer server;
  for (std::size_t i = 0; i < request_chunks.size(); ++i) {
    const bool last = i + 1 == request_chunks.size();
    if (last && client_leaves_mid_body) break;  // then receive() says http.disconnect
    server.incoming.push_back(Message::request(request_chunks[i], !last));
  }
  if (request_chunks.empty()) server.incoming.push_back(Message::request(""));
  std::size_t length = 0;
  for (const std::string& chunk : response_chunks) length += chunk.size();

  Observer observer;
  observer.emplace<ProtocolValidator>();
  const App endpoint = [&](Scope&, const Receive& receive, const Send& send) {
    for (std::size_t i = 0; i < server.incoming.size() + extra_receives; ++i) {
      if (receive().type == MessageType::http_disconnect) return;  // a well-behaved app stops
    }
    Headers headers;
    if (declare_length) headers.push_back({"content-length", std::to_string(length)});
    send(Message::start(200, headers));
    for (const std::string& chunk : response_chunks) send(Message::body_chunk(head ? "" : chunk, true));
    send(Message::body_chunk(""));
  };
  const App app = validated_chain({{"A", pass_through}, {"B", pass_through}}, endpoint, observer);
  run_calls(app, {{http_scope(1, head ? "HEAD" : "GET"), &server}});
  for (const Violation& violation : observer.violations())
    RC_FAIL(violation.invariant + ": " + violation.detail);
}

}  // namespace
}  // namespace asgisim::core
