// The validator fuzz target's legal conversations (validator_fuzz.cpp): the
// mutations a tampering layer can make and the invariant each must trip, and
// how the choice stream plans a legal conversation (the data tables) and the
// app that follows the plan.
#pragma once
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

namespace asgisim::fuzz::validator {

using core::App;
using core::Message;
using core::MessageType;
using core::Receive;
using core::Send;
namespace id = core::invariant_id;

inline constexpr std::string_view kTarget = "validator";

enum class Mutation : std::uint8_t {
  none,
  second_start,
  body_before_start,
  body_after_final,
  length_long,
  length_short,
  head_with_body,
  wrong_type_sent,
  wrong_type_received,
  request_after_disconnect,
  request_after_final,
  send_after_disconnect,
  count,
};

inline std::string_view to_string(Mutation mutation) {
  constexpr std::array<std::string_view, static_cast<std::size_t>(Mutation::count)> kNames{
      "none",
      "second_start",
      "body_before_start",
      "body_after_final",
      "length_long",
      "length_short",
      "head_with_body",
      "wrong_type_sent",
      "wrong_type_received",
      "request_after_disconnect",
      "request_after_final",
      "send_after_disconnect"};
  return kNames[static_cast<std::size_t>(mutation)];
}

// Which side a mutation is made on: the app's sends or the messages an
// outer layer's receive() hands inwards.
inline bool on_receive_side(Mutation mutation) {
  return mutation == Mutation::wrong_type_received || mutation == Mutation::request_after_disconnect ||
         mutation == Mutation::request_after_final;
}

inline std::string_view expected_invariant(Mutation mutation) {
  switch (mutation) {
    case Mutation::second_start:
      return id::kStartOnce;
    case Mutation::body_before_start:
    case Mutation::body_after_final:
      return id::kBodyAfterStart;
    case Mutation::length_long:
    case Mutation::length_short:
      return id::kContentLength;
    case Mutation::head_with_body:
      return "";  // legal at a boundary: the server keeps it off the wire (head-no-body is judged there)
    case Mutation::wrong_type_sent:
    case Mutation::wrong_type_received:
      return id::kMessageType;
    case Mutation::request_after_disconnect:
      return id::kDisconnectSticky;
    case Mutation::request_after_final:
      return id::kReceiveOrder;
    case Mutation::send_after_disconnect:
      return id::kNoSendAfterDisconnect;
    default:
      return "";
  }
}

// ---- a legal conversation -------------------------------------------------------------

struct Plan {
  bool lifespan = false;
  std::string method = "GET";
  std::vector<Message> incoming{};  // what the server's receive() hands out, then http.disconnect
  std::size_t receives_before = 0;  // the app's receive() calls before it responds
  bool startup_fails = false;       // lifespan
  int status = 200;
  core::Headers headers{};
  std::vector<core::Bytes> chunks{};  // the last one has more_body=false
  std::size_t receives_after = 0;     // receive() calls after the response
};

// What a mutation needs of the legal conversation it is made in.
struct Needs {
  bool respond = false;            // the app sends a response
  bool length = false;             // ... with a judged Content-Length (not HEAD, not 304)
  bool head = false;               // a HEAD request
  bool complete_request = false;   // the client sends the whole body
  bool sees_disconnect = false;    // the app's receive() returns http.disconnect before it would respond
  std::size_t receives_after = 0;  // at least this many receive() calls after the response
  bool read_past_body = false;     // ... and enough to read past the whole request body
};

inline Needs needs_of(Mutation mutation) {
  switch (mutation) {
    case Mutation::second_start:
    case Mutation::body_before_start:
    case Mutation::body_after_final:
      return {.respond = true};
    case Mutation::length_long:
    case Mutation::length_short:
      return {.respond = true, .length = true};
    case Mutation::head_with_body:
      return {.respond = true, .head = true};
    // The first receive() says http.disconnect; the app must call it again.
    case Mutation::request_after_disconnect:
      return {.complete_request = true, .receives_after = 2};
    case Mutation::request_after_final:
      return {.complete_request = true, .read_past_body = true};
    case Mutation::wrong_type_received:
      return {.receives_after = 1};
    case Mutation::send_after_disconnect:
      return {.sees_disconnect = true};
    default:
      return {};
  }
}

inline constexpr std::array<std::string_view, 6> kChunks{"", "a", "hello", "0123456789", "\n", "\xff\xfe"};

inline Plan choose_plan(bool lifespan, Needs needs) {
  Plan plan;
  plan.lifespan = lifespan;
  if (lifespan) {
    plan.incoming = {Message{.type = MessageType::lifespan_startup},
                     Message{.type = MessageType::lifespan_shutdown}};
    plan.startup_fails = pick("lifespan.fails", 4) == 0;
    return plan;
  }
  constexpr std::array<std::string_view, 4> kMethods{"GET", "HEAD", "POST", "PUT"};
  plan.method = needs.head ? "HEAD" : std::string(pick_from("http.method", kMethods));
  if (needs.length && plan.method == "HEAD") plan.method = "GET";

  const std::size_t request_chunks = 1 + pick("http.request_chunks", 3);
  const bool leaves =
      !needs.complete_request && (needs.sees_disconnect || pick("http.client_leaves", 4) == 0);
  for (std::size_t i = 0; i < request_chunks; ++i) {
    const bool last = i + 1 == request_chunks;
    if (last && leaves) break;  // the client is gone before the final chunk
    plan.incoming.push_back(Message::request(std::string(pick_from("http.request_chunk", kChunks)), !last));
  }
  plan.receives_before = needs.sees_disconnect ? plan.incoming.size() + 1 : pick("http.receives_before", 5);
  const bool sees_disconnect = plan.receives_before > plan.incoming.size();
  if (needs.respond && sees_disconnect) plan.receives_before = plan.incoming.size();
  plan.receives_after = needs.receives_after + (needs.read_past_body ? plan.incoming.size() + 1 : 0) +
                        pick("http.receives_after", 3);

  constexpr std::array<int, 5> kStatuses{200, 200, 404, 304, 500};
  plan.status = needs.length ? 200 : pick_from("http.status", kStatuses);
  const std::size_t body_chunks = pick("http.body_chunks", 4);
  std::size_t total = 0;
  for (std::size_t i = 0; i <= body_chunks; ++i) {
    std::string chunk(pick_from("http.body_chunk", kChunks));
    total += chunk.size();
    plan.chunks.push_back(plan.method == "HEAD" ? "" : std::move(chunk));
  }
  if (needs.length || pick("http.declare_length", 2) == 0) {
    // A 304 or HEAD response declares the length it would have had.
    const std::string value = std::to_string(total);
    switch (needs.length ? 0 : pick("http.length_form", 4)) {
      case 1:
        plan.headers.emplace_back("content-length", " " + value + "\t");
        break;
      case 2:
        plan.headers.emplace_back("Content-Length", "nonsense");
        break;  // not lower-case: not judged
      default:
        plan.headers.emplace_back("content-length", value);
        break;
    }
  }
  if (pick("http.other_header", 2) == 0) plan.headers.emplace_back("content-type", "text/plain");
  return plan;
}

// The well-behaved app for a plan: reads, answers unless it saw the client
// go, reads again.
inline App legal_app(std::shared_ptr<const Plan> plan) {
  return [plan](core::Scope&, const Receive& receive, const Send& send) {
    if (plan->lifespan) {
      receive();
      if (plan->startup_fails) {
        send(Message{.type = MessageType::lifespan_startup_failed, .text = "boom"});
        return;
      }
      send(Message{.type = MessageType::lifespan_startup_complete});
      receive();
      send(Message{.type = MessageType::lifespan_shutdown_complete});
      return;
    }
    bool disconnected = false;
    for (std::size_t i = 0; i < plan->receives_before && !disconnected; ++i) {
      disconnected = receive().type == MessageType::http_disconnect;
    }
    if (!disconnected) {
      send(Message::start(plan->status, plan->headers));
      for (std::size_t i = 0; i < plan->chunks.size(); ++i) {
        send(Message::body_chunk(plan->chunks[i], i + 1 < plan->chunks.size()));
      }
    }
    for (std::size_t i = 0; i < plan->receives_after; ++i) receive();
  };
}

}  // namespace asgisim::fuzz::validator
