// The per-request ledger the checkers share (one instance per checker).
#include "request_facts.hpp"

#include <algorithm>
#include <map>

namespace asgisim::scenarios::detail {

using core::ObservationKind;

bool split_boundary(const std::string& layer, std::string& outer, std::string& inner) {
  const std::size_t arrow = layer.find("->");
  if (arrow == std::string::npos) return false;
  outer = layer.substr(0, arrow);
  inner = layer.substr(arrow + 2);
  return true;
}

Moment RequestLedger::record(const core::Observation& o) {
  const Moment now{.sequence = ++sequence_, .time_ns = o.time_ns};
  last_time_ns_ = std::max(last_time_ns_, o.time_ns);
  if (o.request == 0) return now;
  RequestFacts& facts = requests_[o.request];
  switch (o.kind) {
    case ObservationKind::request_started:
      facts.started = now;
      facts.what = o.detail;
      break;
    case ObservationKind::client_disconnected:
      if (!facts.client_left) facts.client_left = now;
      break;
    case ObservationKind::client_got_complete:
      if (!facts.client_complete) facts.client_complete = now;
      break;
    case ObservationKind::client_got_start:
      facts.client_status = static_cast<int>(o.value);
      break;
    case ObservationKind::response_completed:
      if (!facts.server_complete) facts.server_complete = now;
      break;
    case ObservationKind::app_raised:
      if (!facts.app_raised) facts.app_raised = now;
      break;
    case ObservationKind::server_500:
      if (!facts.server_500) facts.server_500 = now;
      break;
    case ObservationKind::connection_closed:
      if (!facts.connection_closed) {
        facts.connection_closed = now;
        facts.closed_why = o.detail;
      }
      break;
    case ObservationKind::sent:
      if (std::ranges::find(facts.boundaries, o.layer) == facts.boundaries.end())
        facts.boundaries.push_back(o.layer);
      if (o.message && o.message->type == core::MessageType::http_response_start &&
          o.message->status >= 400) {
        facts.error_response_sent = true;
      }
      if (o.message && o.message->type == core::MessageType::http_response_body && !o.message->more_body) {
        facts.final_body.emplace(o.layer, now);
      }
      break;
    case ObservationKind::received:
      if (std::ranges::find(facts.boundaries, o.layer) == facts.boundaries.end())
        facts.boundaries.push_back(o.layer);
      break;
    default:
      break;
  }
  return now;
}

RequestFacts* RequestLedger::find(core::RequestId request) {
  auto it = requests_.find(request);
  return it == requests_.end() ? nullptr : &it->second;
}

std::string RequestLedger::layer_holding_final_body(const RequestFacts& facts,
                                                    std::optional<std::uint64_t> before) {
  for (const std::string& boundary : facts.boundaries) {
    std::string outer, inner;
    if (!split_boundary(boundary, outer, inner)) continue;
    const auto late = facts.final_body.find(boundary);
    if (late != facts.final_body.end() && (!before || late->second.sequence < *before)) continue;
    // This boundary's final body is late or missing: did the one inside it send in time?
    for (const auto& [inside, moment] : facts.final_body) {
      std::string inside_outer, inside_inner;
      if (split_boundary(inside, inside_outer, inside_inner) && inside_outer == inner &&
          (!before || moment.sequence < *before)) {
        return inner;
      }
    }
  }
  return {};
}

std::string RequestLedger::caller_of(const RequestFacts& facts, const std::string& layer) {
  for (const std::string& boundary : facts.boundaries) {
    std::string outer, inner;
    if (split_boundary(boundary, outer, inner) && inner == layer) return outer;
  }
  return {};
}

std::string RequestLedger::innermost(const RequestFacts& facts) {
  std::vector<std::string> outers, inners;
  for (const std::string& boundary : facts.boundaries) {
    std::string outer, inner;
    if (!split_boundary(boundary, outer, inner)) continue;
    outers.push_back(outer);
    inners.push_back(inner);
  }
  for (const std::string& inner : inners) {
    if (std::ranges::find(outers, inner) == outers.end()) return inner;
  }
  return {};
}

std::string RequestLedger::chain(const RequestFacts& facts) {
  // Boundaries are seen in message order, not nesting order: follow the
  // links from the outermost layer (an outer side that is nobody's inner).
  std::map<std::string, std::string> inner_of;
  std::vector<std::string> inners;
  for (const std::string& boundary : facts.boundaries) {
    std::string outer, inner;
    if (!split_boundary(boundary, outer, inner)) continue;
    inner_of.emplace(outer, inner);
    inners.push_back(inner);
  }
  std::string layer;
  for (const auto& [outer, inner] : inner_of) {
    if (std::ranges::find(inners, outer) == inners.end()) layer = outer;
  }
  std::string out = layer;
  for (std::size_t hops = 0; hops <= inner_of.size() && inner_of.contains(layer); ++hops) {
    layer = inner_of[layer];
    out += " -> " + layer;
  }
  return out;
}

}  // namespace asgisim::scenarios::detail
