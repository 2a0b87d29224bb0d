// libFuzzer target for the ASGI protocol validator (core/validator.hpp). The
// input bytes are the run's choice stream (sim::ByteChoiceSource, lenient).
// They choose one to three concurrent conversations (http or lifespan scopes,
// HEAD or not, request bodies in chunks, clients that leave early, responses
// with or without Content-Length, 304s), each through its own chain of
// validate_boundary()s with up to two pass-through middlewares, all reporting
// to one Observer with a ProtocolValidator; the scheduler's interleaving of
// the conversations comes from the same bytes. Each conversation is legal by
// construction, or carries exactly one mutation made by one chosen layer (the
// server, a middleware or the endpoint):
//
//   second start, body before start, body after the final one, a body longer
//   or shorter than Content-Length, a HEAD response with a body, a message of
//   the wrong type (either direction), http.request after http.disconnect or
//   after the final http.request, a send after the app saw http.disconnect.
//
// Properties (a violation aborts with the property's name):
//   legal      a legal conversation produces no violation at all
//   exact      a mutated one produces exactly one violation: the mutation's
//              invariant id, blaming the layer that made it, for its request
//              (a warning for a send after disconnect unless configured)
//   arbitrary  in a third mode the messages are arbitrary: the validator
//              never crashes and only reports known ids, known layers and
//              known requests
//
// Replay a finding with any build: fuzz_validator_replay CRASH_FILE.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/validator.hpp"
#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/simulation.hpp"
#include "fuzz_support.hpp"
#include "validator_plan.hpp"

namespace asgisim::fuzz::validator {
namespace {

// ---- the layer that makes the mutation ------------------------------------------------

// Wraps `inner` so that the messages crossing this layer carry `mutation`.
// Inside a validated boundary this layer is what that boundary blames.
App tamper(App inner, Mutation mutation) {
  return [inner, mutation](core::Scope& scope, const Receive& receive, const Send& send) {
    bool request_done = false;
    bool injected = false;
    bool saw_disconnect = false;
    bool first_body = true;
    const Receive tampered_receive = [&]() -> Message {
      if (!injected) {
        if (mutation == Mutation::wrong_type_received) {
          injected = true;
          return scope.type == "lifespan" ? Message::request("")
                                          : Message{.type = MessageType::lifespan_startup};
        }
        if (mutation == Mutation::request_after_disconnect) {
          injected = true;
          return Message::disconnect();
        }
        if (mutation == Mutation::request_after_final && request_done) {
          injected = true;
          return Message::request("late");
        }
      }
      Message message = receive();
      if (message.type == MessageType::http_request && !message.more_body) request_done = true;
      if (message.type == MessageType::http_disconnect) saw_disconnect = true;
      return message;
    };
    const Send tampered_send = [&](Message message) {
      switch (mutation) {
        case Mutation::body_before_start:
          if (message.type == MessageType::http_response_start && !std::exchange(injected, true)) {
            send(Message::body_chunk("early", true));
          }
          break;
        case Mutation::length_short:
          if (message.type == MessageType::http_response_start) {
            for (auto& [name, value] : message.headers) {
              if (name == "content-length") value = std::to_string(std::stoull(value) + 1);
            }
          }
          break;
        case Mutation::length_long:
          if (message.type == MessageType::http_response_body && !message.more_body) message.body += "x";
          break;
        case Mutation::head_with_body:
          if (message.type == MessageType::http_response_body && std::exchange(first_body, false)) {
            message.body += "x";
          }
          break;
        default:
          break;
      }
      const bool start = message.type == MessageType::http_response_start;
      const bool final_body = message.type == MessageType::http_response_body && !message.more_body;
      send(std::move(message));
      if (mutation == Mutation::second_start && start && !std::exchange(injected, true)) {
        send(Message::start(201));
      }
      if (mutation == Mutation::body_after_final && final_body && !std::exchange(injected, true)) {
        send(Message::body_chunk(""));
      }
    };
    if (mutation == Mutation::wrong_type_sent) {
      send(scope.type == "lifespan" ? Message::start(200) : Message::request("from the app"));
    }
    inner(scope, tampered_receive, tampered_send);
    if (mutation == Mutation::send_after_disconnect && saw_disconnect) {
      send(Message::start(200));
      send(Message::body_chunk(""));
    }
  };
}

// A pass-through middleware that lets other conversations run at each message.
App pass_through(App inner) {
  return [inner](core::Scope& scope, const Receive& receive, const Send& send) {
    inner(
        scope,
        [&receive] {
          sim::checkpoint();
          return receive();
        },
        [&send](Message message) {
          sim::checkpoint();
          send(std::move(message));
        });
  };
}

// ---- conversations --------------------------------------------------------------------

struct Expected {
  std::string invariant{};
  std::string layer{};
  core::RequestId request = 0;
  bool warning = false;
  friend bool operator<(const Expected& a, const Expected& b) {
    return std::tie(a.invariant, a.layer, a.request, a.warning) <
           std::tie(b.invariant, b.layer, b.request, b.warning);
  }
  friend bool operator==(const Expected& a, const Expected& b) {
    return std::tie(a.invariant, a.layer, a.request, a.warning) ==
           std::tie(b.invariant, b.layer, b.request, b.warning);
  }
};

std::string describe(const Expected& e) {
  return e.invariant + " at " + e.layer + " (request " + std::to_string(e.request) +
         (e.warning ? ", warning)" : ")");
}

constexpr std::array<std::string_view, 2> kMiddlewareNames{"A", "B"};

struct Conversation {
  core::Scope scope{};
  App app{};  // the validated chain (with the server-side tamper around it, if any)
  std::vector<Message> incoming{};
  std::size_t next = 0;
  std::string summary{};
  std::optional<Expected> expected{};
};

// One legal or singly-mutated conversation.
Conversation make_conversation(core::RequestId request, core::Observer& observer,
                               bool send_after_disconnect_is_error) {
  const bool lifespan = pick("conversation.lifespan", 5) == 0;
  // About one conversation in four is legal.
  const std::uint64_t kinds = static_cast<std::uint64_t>(Mutation::count);
  const std::uint64_t kind = pick("conversation.mutation", kinds + kinds / 3);
  Mutation mutation = kind < kinds ? static_cast<Mutation>(kind) : Mutation::none;
  if (lifespan && mutation != Mutation::wrong_type_sent && mutation != Mutation::wrong_type_received) {
    mutation = Mutation::none;
  }
  const auto plan = std::make_shared<const Plan>(choose_plan(lifespan, needs_of(mutation)));
  const std::size_t middleware = pick("conversation.middleware", 3);

  // Who makes the mutation: 0 = server (receive side only), 1..middleware =
  // a middleware, middleware + 1 = the endpoint (send side only).
  std::size_t culprit = 0;
  if (mutation != Mutation::none) {
    const bool receive_side = on_receive_side(mutation);
    culprit = receive_side ? pick("conversation.culprit", middleware + 1)
                           : 1 + pick("conversation.culprit", middleware + 1);
  }
  std::vector<core::NamedMiddleware> chain;
  for (std::size_t i = 0; i < middleware; ++i) {
    const bool guilty = mutation != Mutation::none && culprit == i + 1;
    chain.push_back({.name = std::string(kMiddlewareNames[i]), .wrap = [guilty, mutation](App inner) {
                       return guilty ? tamper(pass_through(std::move(inner)), mutation)
                                     : pass_through(std::move(inner));
                     }});
  }
  App endpoint = legal_app(plan);
  if (mutation != Mutation::none && culprit == middleware + 1) {
    endpoint = tamper(std::move(endpoint), mutation);
  }
  App app = core::validated_chain(std::move(chain), std::move(endpoint), observer);
  if (mutation != Mutation::none && culprit == 0) app = tamper(std::move(app), mutation);

  Conversation conversation;
  conversation.scope.type = lifespan ? "lifespan" : "http";
  conversation.scope.method = plan->method;
  conversation.scope.request_id = request;
  conversation.app = std::move(app);
  conversation.incoming = plan->incoming;
  const std::string blamed = culprit == 0                ? "server"
                             : culprit == middleware + 1 ? "endpoint"
                                                         : std::string(kMiddlewareNames[culprit - 1]);
  count("conversation: " + std::string(to_string(mutation)) + (lifespan ? " (lifespan)" : ""));
  conversation.summary = "request " + std::to_string(request) + ": " + conversation.scope.type + " " +
                         plan->method + ", " + std::to_string(middleware) + " middleware, mutation " +
                         std::string(to_string(mutation)) +
                         (mutation == Mutation::none ? "" : " by " + blamed);
  if (mutation != Mutation::none && !expected_invariant(mutation).empty()) {
    conversation.expected =
        Expected{.invariant = std::string(expected_invariant(mutation)),
                 .layer = blamed,
                 .request = request,
                 .warning = mutation == Mutation::send_after_disconnect && !send_after_disconnect_is_error};
  }
  return conversation;
}

void run_conversation(Conversation& conversation) {
  const Receive receive = [&conversation] {
    if (conversation.next < conversation.incoming.size()) return conversation.incoming[conversation.next++];
    return Message::disconnect();
  };
  const Send send = [](Message) {};
  conversation.app(conversation.scope, receive, send);
}

void check_judged(const core::Observer& observer, const std::vector<Conversation>& conversations) {
  std::vector<Expected> expected;
  std::string context;
  for (const Conversation& conversation : conversations) {
    if (conversation.expected) expected.push_back(*conversation.expected);
    context += "\n    " + conversation.summary;
  }
  std::vector<Expected> actual;
  for (const core::Violation& violation : observer.violations()) {
    actual.push_back({.invariant = violation.invariant,
                      .layer = violation.layer,
                      .request = violation.request,
                      .warning = violation.warning});
  }
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  if (expected == actual) return;
  std::string detail = "expected:";
  for (const Expected& e : expected) detail += " [" + describe(e) + "]";
  if (expected.empty()) detail += " nothing";
  detail += "; reported:";
  for (const core::Violation& v : observer.violations()) {
    detail += " [" + v.invariant + " at " + v.layer + ": " + v.detail + "]";
  }
  if (actual.empty()) detail += " nothing";
  property_failed(kTarget, expected.empty() ? "legal" : "exact", detail + context);
}

// ---- arbitrary messages ---------------------------------------------------------------

Message arbitrary_message() {
  constexpr std::array<MessageType, 10> kTypes{MessageType::http_request,
                                               MessageType::http_disconnect,
                                               MessageType::http_response_start,
                                               MessageType::http_response_body,
                                               MessageType::lifespan_startup,
                                               MessageType::lifespan_startup_complete,
                                               MessageType::lifespan_startup_failed,
                                               MessageType::lifespan_shutdown,
                                               MessageType::lifespan_shutdown_complete,
                                               MessageType::lifespan_shutdown_failed};
  Message message{.type = pick_from("arbitrary.type", kTypes)};
  message.body = std::string(pick_from("arbitrary.body", kChunks));
  message.more_body = pick("arbitrary.more_body", 2) == 0;
  message.status = pick_from("arbitrary.status", std::array<int, 4>{200, 304, 0, 999});
  if (pick("arbitrary.length", 2) == 0) {
    message.headers.emplace_back(
        "content-length",
        std::string(pick_from("arbitrary.length_value",
                              std::array<std::string_view, 5>{"0", "5", "-1", "", "18446744073709551616"})));
  }
  return message;
}

void arbitrary_run(core::Observer& observer) {
  constexpr std::array<std::string_view, 3> kTypes{"http", "lifespan", "websocket"};
  constexpr std::array<std::string_view, 3> kMethods{"GET", "HEAD", "POST"};
  const std::size_t calls = 1 + pick("arbitrary.calls", 2);
  for (std::size_t call = 0; call < calls; ++call) {
    core::Scope scope;
    scope.type = pick_from("arbitrary.scope", kTypes);
    scope.method = pick_from("arbitrary.method", kMethods);
    scope.request_id = 1 + pick("arbitrary.request", 2);
    std::vector<std::pair<bool, Message>> steps(pick("arbitrary.steps", 8));
    std::vector<Message> incoming;
    for (auto& [sends, message] : steps) {
      sends = pick("arbitrary.direction", 2) == 0;
      message = arbitrary_message();
      if (!sends) incoming.push_back(message);
    }
    const App endpoint = [&steps](core::Scope&, const Receive& receive, const Send& send) {
      for (const auto& [sends, message] : steps) sends ? send(message) : void(receive());
    };
    std::vector<core::NamedMiddleware> chain;
    const std::size_t middleware = pick("arbitrary.middleware", 3);
    for (std::size_t i = 0; i < middleware; ++i) {
      chain.push_back({.name = std::string(kMiddlewareNames[i]), .wrap = pass_through});
    }
    const App app = core::validated_chain(std::move(chain), endpoint, observer);
    std::size_t next = 0;
    app(
        scope, [&] { return next < incoming.size() ? incoming[next++] : Message::disconnect(); },
        [](Message) {});
  }
  for (const core::Violation& violation : observer.violations()) {
    count("arbitrary: " + violation.invariant);
    const auto& ids = core::kProtocolInvariantIds;
    if (std::find(ids.begin(), ids.end(), violation.invariant) == ids.end()) {
      property_failed(kTarget, "arbitrary", "unknown invariant id " + violation.invariant);
    }
    const bool known_layer = violation.layer == "server" || violation.layer == "endpoint" ||
                             violation.layer == "A" || violation.layer == "B";
    if (!known_layer) property_failed(kTarget, "arbitrary", "unknown layer " + violation.layer);
    if (violation.request < 1 || violation.request > 2) {
      property_failed(kTarget, "arbitrary", "unknown request " + std::to_string(violation.request));
    }
  }
}

}  // namespace
}  // namespace asgisim::fuzz::validator

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sim = asgisim::sim;
  namespace core = asgisim::core;
  using namespace asgisim::fuzz;
  using namespace asgisim::fuzz::validator;
  sim::ByteChoiceSource source(std::span<const std::uint8_t>(data, size));
  sim::Simulation simulation(
      {.strategy = sim::Strategy::random, .trace = {.records_max = 0}, .record_decisions = false}, source);
  core::Observer observer;
  observer.set_keep_log(false);
  std::vector<Conversation> conversations;
  bool arbitrary = false;
  simulation.spawn("validator-fuzz", [&] {
    arbitrary = pick("mode.arbitrary", 4) == 0;
    const bool send_after_disconnect_is_error = pick("mode.send_after_disconnect_is_error", 2) == 0;
    observer.emplace<core::ProtocolValidator>(
        core::ProtocolValidatorOptions{.send_after_disconnect_is_error = send_after_disconnect_is_error});
    if (arbitrary) {
      arbitrary_run(observer);
      return;
    }
    const std::size_t count = 1 + pick("conversations", 3);
    conversations.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      conversations.push_back(make_conversation(i + 1, observer, send_after_disconnect_is_error));
    }
    for (Conversation& conversation : conversations) {
      sim::Simulation::current().spawn("conversation", [&conversation] { run_conversation(conversation); });
    }
  });
  const sim::RunResult result = simulation.run();
  if (!result.ok()) {
    property_failed("validator", "run completes",
                    std::string(sim::to_string(result.status)) + ": " + result.report);
  }
  if (!arbitrary) check_judged(observer, conversations);
  return 0;
}
