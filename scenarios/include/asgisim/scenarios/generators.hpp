// RapidCheck generators for whole runs: stack descriptions (with the
// BaseHTTPMiddleware behaviours a test allows), client plans, and schedules
// (a seed or a byte string for sim::ByteChoiceSource). Header-only; include
// it from a test that links rapidcheck. Users test their own middleware
// the same way: generate a StackDescription, add their layer, run it.
//
//   RC_GTEST_PROP(MyStack, fixed_stacks_pass, ()) {
//     StackDescription stack = *gen::stack_description({core::BaseHttpBehaviour::fixed});
//     Schedule schedule = *gen::schedule();
//     auto scenario = described_stack_scenario(stack);
//     auto source = make_source(schedule);
//     RC_ASSERT(!run_source(*scenario, ConfigKind::fixed, *source, {}).failed());
//   }
//
// Every field shrinks towards the simplest stack: no middleware, a plain
// async endpoint, one client with one empty request, the client's own
// choices, and the empty schedule (every choice 0).
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "asgisim/scenarios/stack_description.hpp"
#include "asgisim/sim/choice.hpp"

namespace asgisim::scenarios {

// What feeds a run's choices.
struct Schedule {
  // Set: a seeded PrngChoiceSource. Unset: `bytes` through a lenient
  // ByteChoiceSource (an exhausted string answers 0 to every choice).
  std::optional<std::uint64_t> seed{};
  std::vector<std::uint8_t> bytes{};
};

// The source a schedule describes; it refers to `schedule.bytes`, which must
// outlive it.
inline std::unique_ptr<sim::ChoiceSource> make_source(const Schedule& schedule) {
  if (schedule.seed) return std::make_unique<sim::PrngChoiceSource>(*schedule.seed);
  return std::make_unique<sim::ByteChoiceSource>(schedule.bytes);
}

// RapidCheck prints counterexamples through showValue (found by ADL).
inline void showValue(const StackDescription& description, std::ostream& out) {
  out << describe(description);
}
inline void showValue(const Schedule& schedule, std::ostream& out) {
  if (schedule.seed) {
    out << "seed " << *schedule.seed;
    return;
  }
  out << "bytes[" << schedule.bytes.size() << "]:";
  for (std::uint8_t byte : schedule.bytes) out << ' ' << static_cast<unsigned>(byte);
}

namespace gen {

// A duration of 0 to `max_ns`, in steps of a quarter (as draw_stack draws them).
inline rc::Gen<sim::Nanoseconds> duration(sim::Nanoseconds max_ns = 20 * sim::kMillisecond) {
  return rc::gen::map(rc::gen::inRange<sim::Nanoseconds>(0, 5),
                      [max_ns](sim::Nanoseconds quarter) { return quarter * (max_ns / 4); });
}

inline rc::Gen<MiddlewareDescription> middleware(std::vector<core::BaseHttpBehaviour> behaviours) {
  if (behaviours.empty()) throw std::invalid_argument("gen::middleware needs at least one behaviour");
  return rc::gen::apply(
      [](MiddlewareKind kind, core::BaseHttpBehaviour behaviour, bool sync_exit,
         sim::Nanoseconds exit_sleep_ns) {
        MiddlewareDescription middleware{.kind = kind};
        if (is_base_http(kind)) middleware.behaviour = behaviour;
        if (kind == MiddlewareKind::pure_asgi_context) {
          middleware.exit = sync_exit ? core::ContextExit::sync : core::ContextExit::async_awaits;
          if (!sync_exit) middleware.exit_sleep_ns = exit_sleep_ns;
        }
        return middleware;
      },
      rc::gen::cast<MiddlewareKind>(rc::gen::inRange<int>(0, static_cast<int>(kMiddlewareKindCount))),
      rc::gen::elementOf(behaviours), rc::gen::arbitrary<bool>(), duration());
}

// A valid endpoint: the fields are drawn independently, then the ones a
// combination rules out are reset (a sync endpoint reads nothing, a raise
// point the response cannot reach becomes `never`).
inline rc::Gen<EndpointDescription> endpoint(std::uint32_t chunks_max = 4) {
  return rc::gen::apply(
      [](bool sync, bool streaming, std::uint32_t chunks, BodyRead reads_body, RaisePoint raises,
         BackgroundKind background, sim::Nanoseconds background_ns, std::uint32_t background_pauses) {
        EndpointDescription endpoint;
        endpoint.kind = sync ? core::EndpointKind::sync_def : core::EndpointKind::async_def;
        endpoint.response = streaming ? ResponseKind::streaming : ResponseKind::plain;
        endpoint.chunks = streaming ? chunks : 0;
        endpoint.reads_body = sync ? BodyRead::none : reads_body;
        endpoint.background = background;
        if (background != BackgroundKind::none) {
          endpoint.background_ns = background_ns;
          endpoint.background_pauses = background_pauses;
        }
        endpoint.raises = raises;
        if ((raises == RaisePoint::in_stream && !streaming) ||
            (raises == RaisePoint::in_background && background == BackgroundKind::none)) {
          endpoint.raises = RaisePoint::never;
        }
        return endpoint;
      },
      rc::gen::arbitrary<bool>(), rc::gen::arbitrary<bool>(),
      rc::gen::inRange<std::uint32_t>(0, chunks_max + 1),
      rc::gen::cast<BodyRead>(rc::gen::inRange<int>(0, 3)),
      // Mostly `never`, so that most stacks reach their background work.
      rc::gen::weightedElement<RaisePoint>({{6, RaisePoint::never},
                                            {1, RaisePoint::before_start},
                                            {1, RaisePoint::in_stream},
                                            {1, RaisePoint::in_background}}),
      rc::gen::cast<BackgroundKind>(rc::gen::inRange<int>(0, 3)), duration(),
      rc::gen::inRange<std::uint32_t>(1, 4));
}

// Where a client leaves: unset (the client draws it from the choice
// stream) or one explicit point.
inline rc::Gen<std::optional<core::Disconnect>> disconnect() {
  auto explicit_point = rc::gen::apply(
      [](core::DisconnectPoint point, std::size_t count,
         sim::Nanoseconds delay_ns) -> std::optional<core::Disconnect> {
        return core::Disconnect{.point = point, .count = count, .delay_ns = delay_ns};
      },
      rc::gen::cast<core::DisconnectPoint>(rc::gen::inRange<int>(0, 7)), rc::gen::inRange<std::size_t>(0, 4),
      rc::gen::inRange<sim::Nanoseconds>(1, 100 * sim::kMillisecond));
  return rc::gen::oneOf(rc::gen::just(std::optional<core::Disconnect>{}), explicit_point);
}

inline rc::Gen<RequestDescription> request(std::size_t body_bytes_max = 64) {
  return rc::gen::apply(
      [](std::size_t body_bytes, std::optional<core::Disconnect> disconnect) {
        return RequestDescription{.body_bytes = body_bytes, .disconnect = std::move(disconnect)};
      },
      rc::gen::inRange<std::size_t>(0, body_bytes_max + 1), disconnect());
}

// A client plan: one to `requests_max` requests on one keep-alive connection.
inline rc::Gen<ClientDescription> client(std::size_t requests_max = 2) {
  return rc::gen::map(rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, requests_max + 1),
                                      [](std::size_t count) {
                                        return rc::gen::container<std::vector<RequestDescription>>(count,
                                                                                                   request());
                                      }),
                      [](std::vector<RequestDescription> requests) {
                        return ClientDescription{.requests = std::move(requests)};
                      });
}

inline rc::Gen<std::vector<ClientDescription>> clients(std::size_t clients_max = 3) {
  return rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, clients_max + 1), [](std::size_t count) {
    return rc::gen::container<std::vector<ClientDescription>>(count, client());
  });
}

// A whole stack whose base_http middleware take their behaviour from
// `behaviours` (default: every era's).
inline rc::Gen<StackDescription> stack_description(
    std::vector<core::BaseHttpBehaviour> behaviours = all_base_http_behaviours(),
    std::size_t middleware_max = 4) {
  auto chain =
      rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, middleware_max + 1), [behaviours](std::size_t depth) {
        return rc::gen::container<std::vector<MiddlewareDescription>>(depth, middleware(behaviours));
      });
  return rc::gen::apply(
      [](std::vector<MiddlewareDescription> middleware, EndpointDescription endpoint,
         std::vector<ClientDescription> clients) {
        return StackDescription{
            .middleware = std::move(middleware), .endpoint = endpoint, .clients = std::move(clients)};
      },
      chain, endpoint(), clients());
}

// A seeded schedule.
inline rc::Gen<Schedule> seed_schedule() {
  return rc::gen::map(rc::gen::arbitrary<std::uint64_t>(),
                      [](std::uint64_t seed) { return Schedule{.seed = seed}; });
}
// A byte-string schedule of up to `bytes_max` bytes; RapidCheck shrinks it
// shorter and towards zeros, which is the decision-log shrinker's order too.
inline rc::Gen<Schedule> byte_schedule(std::size_t bytes_max = 512) {
  return rc::gen::map(
      rc::gen::resize(static_cast<int>(bytes_max), rc::gen::arbitrary<std::vector<std::uint8_t>>()),
      [](std::vector<std::uint8_t> bytes) { return Schedule{.seed = {}, .bytes = std::move(bytes)}; });
}
// Either kind.
inline rc::Gen<Schedule> schedule() { return rc::gen::oneOf(seed_schedule(), byte_schedule()); }

}  // namespace gen
}  // namespace asgisim::scenarios

// rc::gen::arbitrary<T>() for the description types: every behaviour allowed.
namespace rc {
template <>
struct Arbitrary<asgisim::scenarios::StackDescription> {
  static Gen<asgisim::scenarios::StackDescription> arbitrary() {
    return asgisim::scenarios::gen::stack_description();
  }
};
template <>
struct Arbitrary<asgisim::scenarios::ClientDescription> {
  static Gen<asgisim::scenarios::ClientDescription> arbitrary() { return asgisim::scenarios::gen::client(); }
};
template <>
struct Arbitrary<asgisim::scenarios::Schedule> {
  static Gen<asgisim::scenarios::Schedule> arbitrary() { return asgisim::scenarios::gen::schedule(); }
};
}  // namespace rc
