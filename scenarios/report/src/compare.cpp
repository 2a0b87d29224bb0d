// Two runs of one seed (buggy and fixed) aligned on their clients' events:
// the k-th event of each client in one run is matched with the k-th event of
// the same client (by task name) in the other while they are of the same
// kind; the matched pairs in the same order in both runs anchor a shared
// time axis (report.js warps each run piecewise-linearly between them), and
// the first place where the runs part is described. When every client sees
// the same, the first difference in what the stack observed of a request
// (its notes and ASGI messages) is the place instead.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "asgisim/report/report.hpp"

namespace asgisim::report {
namespace {

using nlohmann::json;

enum ClientKind : std::int64_t { sent_request = 0, got_start, got_body, got_complete, disconnected };

struct ClientEvent {
  std::int64_t record = 0;
  std::int64_t kind = 0;
  std::string content{};
  std::int64_t request = 0;
};

// One run's trace_data(), read back: its clients' events by client name.
using Observed = std::vector<std::pair<std::int64_t, std::string>>;  // record, what

struct Run {
  std::map<std::string, std::vector<ClientEvent>> clients{};
  std::uint64_t first_record = 0;
  json trace{};

  explicit Run(const std::string& text) : trace(json::parse(text)) {
    first_record = trace.value("first_record", std::uint64_t{0});
    std::map<std::int64_t, std::string> names;
    for (const json& task : trace["tasks"]) names[task["id"].get<std::int64_t>()] = task["name"];
    const json& strings = trace["strings"];
    const std::vector<std::int64_t> flat = trace.value("client", std::vector<std::int64_t>{});
    for (std::size_t k = 0; k + 5 <= flat.size(); k += 5) {
      clients[names[flat[k + 1]]].push_back(
          {flat[k], flat[k + 2], strings[static_cast<std::size_t>(flat[k + 3])], flat[k + 4]});
    }
  }

  // What the stack observed of each request, in order: notes and messages.
  std::map<std::int64_t, Observed> observed() const {
    std::map<std::int64_t, Observed> out;
    const json& strings = trace.at("strings");
    const json& layers = trace.at("layers");
    const std::vector<std::int64_t> events = trace.at("events");
    for (std::size_t k = 0; k + 6 <= events.size(); k += 6) {
      const std::string text = strings[static_cast<std::size_t>(events[k + 3])];
      if (events[k + 5] != 0 && !text.starts_with("client_"))
        out[events[k + 5]].emplace_back(events[k], text);
    }
    const std::vector<std::int64_t> messages = trace.at("messages");
    for (std::size_t k = 0; k + 7 <= messages.size(); k += 7) {
      if (messages[k + 6] == 0) continue;
      out[messages[k + 6]].emplace_back(
          messages[k],
          fmt::format("{} {} -> {}", strings[static_cast<std::size_t>(messages[k + 4])].get<std::string>(),
                      layers[static_cast<std::size_t>(messages[k + 2])].get<std::string>(),
                      layers[static_cast<std::size_t>(messages[k + 3])].get<std::string>()));
    }
    for (auto& [request, seen] : out) std::sort(seen.begin(), seen.end());
    return out;
  }
};

const std::vector<ClientEvent>& events_of(const Run& run, const std::string& client) {
  static const std::vector<ClientEvent> kNone;
  const auto found = run.clients.find(client);
  return found == run.clients.end() ? kNone : found->second;
}

std::string ordinal(std::size_t n) {
  const std::size_t tens = n % 100;
  const char* suffix = tens >= 11 && tens <= 13 ? "th"
                       : n % 10 == 1            ? "st"
                       : n % 10 == 2            ? "nd"
                       : n % 10 == 3            ? "rd"
                                                : "th";
  return fmt::format("{}{}", n, suffix);
}

// "receives the response start (status 200)": what a client event is.
std::string describe(const ClientEvent& e) {
  const std::string_view first_line = std::string_view(e.content).substr(0, e.content.find('\n'));
  const std::string value =
      first_line.starts_with("value ") ? std::string(first_line.substr(6)) : std::string();
  switch (e.kind) {
    case sent_request:
      return value.empty() ? "sends its request" : fmt::format("sends its request ({} body bytes)", value);
    case got_start:
      return fmt::format("receives the response start{}", value.empty() ? "" : " (status " + value + ")");
    case got_body:
      return fmt::format("receives body bytes{}", value.empty() ? "" : " (" + value + ")");
    case got_complete:
      return "receives the end of the response (more_body=false)";
    case disconnected:
      return fmt::format("disconnects{}", first_line.empty() ? "" : " (" + std::string(first_line) + ")");
    default:
      return "?";
  }
}

// The first observation of each sequence outside a longest common
// subsequence of the two (their size when none is): what one run has that
// the other has not, or has elsewhere. Only the first kMax of each count.
std::pair<std::size_t, std::size_t> first_unmatched(const Observed& a, const Observed& b) {
  constexpr std::size_t kMax = 500;
  const std::size_t n = std::min(a.size(), kMax);
  const std::size_t m = std::min(b.size(), kMax);
  // common[i][j]: the longest common subsequence of a[i..] and b[j..].
  std::vector<std::vector<std::uint32_t>> common(n + 1, std::vector<std::uint32_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      common[i][j] = a[i].second == b[j].second ? common[i + 1][j + 1] + 1
                                                : std::max(common[i + 1][j], common[i][j + 1]);
    }
  }
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n && j < m && a[i].second == b[j].second) {
    ++i;
    ++j;
  }
  if (i == n || j == m) return {i == n ? a.size() : i, j == m ? b.size() : j};
  // The first item off the common subsequence in each, walking it from here.
  std::size_t off_a = a.size();
  std::size_t off_b = b.size();
  while (i < n && j < m && (off_a == a.size() || off_b == b.size())) {
    if (a[i].second == b[j].second) {
      ++i;
      ++j;
    } else if (common[i + 1][j] >= common[i][j + 1]) {
      off_a = std::min(off_a, i++);
    } else {
      off_b = std::min(off_b, j++);
    }
  }
  if (off_a == a.size() && i < a.size()) off_a = i;
  if (off_b == b.size() && j < b.size()) off_b = j;
  return {off_a, off_b};
}

struct Pair {
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::int64_t kind = 0;
  bool anchor = false;
};

// The place where the runs part: a record of each (-1: the run has none).
struct Divergence {
  std::string kind{};  // "client" or "stack"
  std::int64_t a = -1;
  std::int64_t b = -1;
  std::string text{};
};

// The shared axis in steps: anchor j of the runs is at u[j], the segment
// between two anchors as long as the longer of the two runs' segments, a
// run's records spread evenly over it; after the last anchor one step per
// unit (report.js draws the same with either of its axes).
class Warp {
 public:
  explicit Warp(const std::vector<Pair>& pairs) {
    at_[0].push_back(0);
    at_[1].push_back(0);
    u_.push_back(0);
    for (const Pair& p : pairs) {
      if (!p.anchor) continue;
      const double grow =
          std::max(static_cast<double>(p.a) - at_[0].back(), static_cast<double>(p.b) - at_[1].back());
      at_[0].push_back(static_cast<double>(p.a));
      at_[1].push_back(static_cast<double>(p.b));
      u_.push_back(u_.back() + grow);
    }
  }
  double operator()(int run, std::int64_t record) const {
    const std::vector<double>& at = at_[static_cast<std::size_t>(run)];
    const auto x = static_cast<double>(record);
    const std::size_t j =
        static_cast<std::size_t>(std::upper_bound(at.begin(), at.end(), x) - at.begin()) - 1;
    if (j + 1 == at.size()) return u_[j] + (x - at[j]);
    const double span = at[j + 1] - at[j];
    return span <= 0 ? u_[j] : u_[j] + (x - at[j]) * (u_[j + 1] - u_[j]) / span;
  }

 private:
  std::array<std::vector<double>, 2> at_{};
  std::vector<double> u_{};
};

// Marks as anchors the most pairs whose records increase in both runs (the
// longest increasing subsequence of b over the pairs sorted by a).
void choose_anchors(std::vector<Pair>& pairs) {
  std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.a < y.a; });
  std::vector<std::size_t> tails;  // tails[k]: index of the pair ending the best chain of length k + 1
  std::vector<std::size_t> before(pairs.size(), std::numeric_limits<std::size_t>::max());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto at = std::lower_bound(tails.begin(), tails.end(), pairs[i].b,
                                     [&pairs](std::size_t t, std::int64_t b) { return pairs[t].b < b; });
    if (at != tails.begin()) before[i] = *(at - 1);
    if (at == tails.end()) {
      tails.push_back(i);
    } else {
      *at = i;
    }
  }
  for (std::size_t i = tails.empty() ? before.size() : tails.back(); i < pairs.size(); i = before[i]) {
    pairs[i].anchor = true;
  }
}

struct Parting {
  std::string client{};
  std::size_t index = 0;  // the client's index-th event
  std::int64_t a = -1;    // its record in each run (-1: the run has no such event)
  std::int64_t b = -1;
};

// Where the runs part at a client's event, in words.
std::string client_parting(const std::array<Run, 2>& runs, const std::array<std::string, 2>& labels,
                           const Parting& p) {
  const auto event = [&runs, &p](int run) -> const ClientEvent& {
    return events_of(runs[static_cast<std::size_t>(run)], p.client)[p.index];
  };
  std::string text;
  if (p.a < 0 || p.b < 0) {
    const int has = p.a < 0 ? 1 : 0;
    const int lacks = 1 - has;
    const std::vector<ClientEvent>& seen = events_of(runs[static_cast<std::size_t>(lacks)], p.client);
    text =
        fmt::format("Here the runs part: in the {} run, {} never {}{}; in the {} run it does, at step #{}.",
                    labels[static_cast<std::size_t>(lacks)], p.client, describe(event(has)),
                    p.index > 0 ? fmt::format(" after it {}", describe(seen[p.index - 1])) : std::string(),
                    labels[static_cast<std::size_t>(has)], has == 0 ? p.a : p.b);
  } else {
    text = fmt::format(
        "Here the runs part: the {} event of {} is that it {} in the {} run (step #{}), {} in the {} "
        "run (step #{}).",
        ordinal(p.index + 1), p.client, describe(event(0)), labels[0], p.a, describe(event(1)), labels[1],
        p.b);
  }
  return text;
}

// Where the runs part inside the stack when the clients see the same: the
// request (matched by the clients' events) whose observations first differ,
// the earliest on the shared axis (`where`).
template <typename Where>
std::optional<Divergence> stack_parting(const std::array<Run, 2>& runs,
                                        const std::map<std::int64_t, std::int64_t>& request_in_b,
                                        const std::array<std::string, 2>& labels, const Where& where) {
  std::optional<Divergence> divergence;
  const std::array<std::map<std::int64_t, Observed>, 2> observed{runs[0].observed(), runs[1].observed()};
  for (const auto& [request_a, request_b] : request_in_b) {
    static const Observed kNothing;
    const auto seen = [&observed](std::size_t run, std::int64_t request) -> const Observed& {
      const auto found = observed[run].find(request);
      return found == observed[run].end() ? kNothing : found->second;
    };
    const Observed& seen_a = seen(0, request_a);
    const Observed& seen_b = seen(1, request_b);
    const auto [i, j] = first_unmatched(seen_a, seen_b);
    if (i == seen_a.size() && j == seen_b.size()) continue;
    const auto side = [](const auto& seen, std::size_t k, const std::string& label) {
      return k < seen.size()
                 ? fmt::format("the {} run has \"{}\" (step #{})", label, seen[k].second, seen[k].first)
                 : fmt::format("the {} run has nothing more", label);
    };
    const std::int64_t a = i < seen_a.size() ? seen_a[i].first : -1;
    const std::int64_t b = j < seen_b.size() ? seen_b[j].first : -1;
    if (divergence && where({"", 0, divergence->a, divergence->b}) <= where({"", 0, a, b})) continue;
    const bool moved = a >= 0 && b >= 0 && seen_a[i].second == seen_b[j].second;
    const std::string what =
        moved ? fmt::format(
                    "\"{}\" comes in another order: at step #{} in the {} run, at step #{} in the {} run",
                    seen_a[i].second, a, labels[0], b, labels[1])
              : fmt::format("{}, where {}", side(seen_a, i, labels[0]), side(seen_b, j, labels[1]));
    divergence =
        Divergence{"stack", a, b,
                   fmt::format("The clients see the same in both runs; the runs part inside the stack, in "
                               "request {}: {}.",
                               request_a, what)};
  }
  return divergence;
}

}  // namespace

std::string compare_data(const std::string& trace_a, const std::string& trace_b, const std::string& label_a,
                         const std::string& label_b) {
  const std::array<Run, 2> runs{Run(trace_a), Run(trace_b)};
  const std::array<std::string, 2> labels{label_a, label_b};
  std::vector<Pair> pairs;
  std::map<std::int64_t, std::int64_t> request_in_b;  // request of run a -> the same client's in run b
  std::vector<Parting> partings;
  std::map<std::string, int> clients;
  for (const Run& run : runs)
    for (const auto& [name, events] : run.clients) clients[name] += 0;
  for (const auto& [name, unused] : clients) {
    const std::vector<ClientEvent>& a = events_of(runs[0], name);
    const std::vector<ClientEvent>& b = events_of(runs[1], name);
    std::size_t i = 0;
    bool parted = false;
    for (; i < a.size() && i < b.size() && a[i].kind == b[i].kind; ++i) {
      pairs.push_back({a[i].record, b[i].record, a[i].kind});
      if (a[i].request != 0 && b[i].request != 0) request_in_b.emplace(a[i].request, b[i].request);
      if (!parted && a[i].content != b[i].content) {
        partings.push_back({name, i, a[i].record, b[i].record});
        parted = true;
      }
    }
    if (!parted && (i < a.size() || i < b.size()))
      partings.push_back({name, i, i < a.size() ? a[i].record : -1, i < b.size() ? b[i].record : -1});
  }
  choose_anchors(pairs);
  const Warp warp(pairs);
  const auto where = [&warp](const Parting& p) {
    return std::min(p.a >= 0 ? warp(0, p.a) : std::numeric_limits<double>::infinity(),
                    p.b >= 0 ? warp(1, p.b) : std::numeric_limits<double>::infinity());
  };
  std::optional<Divergence> divergence;
  const auto first =
      std::min_element(partings.begin(), partings.end(),
                       [&where](const Parting& x, const Parting& y) { return where(x) < where(y); });
  if (first != partings.end()) {
    const Parting& p = *first;
    divergence = Divergence{"client", p.a, p.b, client_parting(runs, labels, p)};
  } else {
    divergence = stack_parting(runs, request_in_b, labels, where);
  }
  json flat = json::array();
  std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.a < y.a; });
  std::size_t anchors = 0;
  for (const Pair& p : pairs) {
    flat.insert(flat.end(), {p.a, p.b, p.anchor ? 1 : 0, p.kind});
    anchors += p.anchor ? 1 : 0;
  }
  std::string summary =
      fmt::format("{} client event{} of {} client{} matched", pairs.size(), pairs.size() == 1 ? "" : "s",
                  clients.size(), clients.size() == 1 ? "" : "s");
  if (anchors < pairs.size())
    summary += fmt::format(" ({} in the same order in both runs align the axis)", anchors);
  for (std::size_t run = 0; run < 2; ++run) {
    if (runs[run].first_record > 0)
      summary += fmt::format(
          "; the {} run's trace kept its last records only (from #{}): earlier client events "
          "are not compared",
          labels[run], runs[run].first_record);
  }
  json out = {{"labels", labels}, {"pairs", std::move(flat)}, {"summary", summary + "."}};
  out["divergence"] = divergence ? json{{"kind", divergence->kind},
                                        {"a", divergence->a},
                                        {"b", divergence->b},
                                        {"text", divergence->text}}
                                 : json();
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace asgisim::report
