// A run's trace as the report page's JSON: tasks, the stretches each ran
// and was blocked, its events, and the ASGI messages between the layers,
// as flat number arrays over a string table (a 100,000-step run stays a few
// megabytes and loads fast).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "asgisim/report/report.hpp"
#include "asgisim/sim/choice.hpp"
#include "message_layers.hpp"

namespace asgisim::report {
namespace {

using nlohmann::json;

// Event classes, as report.js knows them.
enum class EventClass : int { note = 0, cancel, disconnect, error, spawn, finish, decision };

EventClass classify_note(std::string_view text) {
  if (text.find("disconnect") != std::string_view::npos ||
      text.find("connection_closed") != std::string_view::npos)
    return EventClass::disconnect;
  if (text.find("cancel") != std::string_view::npos) return EventClass::cancel;
  for (const std::string_view error : {"app_raised", "error_raised", "server_500", "protocol_error"}) {
    if (text.starts_with(error)) return EventClass::error;
  }
  return EventClass::note;
}

// The client's observations, in the order the comparison of two runs knows
// them (compare.cpp): the note's first word.
constexpr std::array<std::string_view, 5> kClientEvents = {"client_sent_request", "client_got_start",
                                                           "client_got_body", "client_got_complete",
                                                           "client_disconnected"};

std::optional<std::int64_t> client_event(std::string_view note) {
  const std::string_view kind = note.substr(0, note.find(' '));
  const auto* found = std::find(kClientEvents.begin(), kClientEvents.end(), kind);
  if (found == kClientEvents.end()) return std::nullopt;
  return found - kClientEvents.begin();
}

class Builder {
 public:
  Builder(const sim::Trace& trace, const std::vector<std::string>& names) : trace_(trace), names_(names) {}

  json build() {
    const std::vector<sim::TraceRecord> records = trace_.records();
    first_ = trace_.count() - records.size();
    std::size_t shown = 0;
    // What follows run_end is the teardown (unwinding daemons and blocked
    // tasks), not the run.
    while (shown < records.size() && (shown == 0 || records[shown - 1].kind != sim::TraceKind::run_end)) {
      add(records[shown], static_cast<std::int64_t>(shown));
      ++shown;
    }
    const auto end = static_cast<std::int64_t>(shown);
    if (running_) runs_.insert(runs_.end(), {*running_, run_start_, end});
    for (const auto& [task, block] : blocked_)
      blocks_.insert(blocks_.end(), {task, block.first, end, block.second, 3});

    json out = json::object();
    out["records"] = end;
    out["first_record"] = first_;
    out["records_total"] = trace_.count();
    out["tasks"] = tasks();
    out["clock"] = std::move(clock_);
    out["runs"] = std::move(runs_);
    out["blocks"] = std::move(blocks_);
    out["events"] = std::move(events_);
    out["client"] = std::move(client_);
    out["messages"] = messages_.flat();
    out["layers"] = messages_.layers();
    out["strings"] = std::move(strings_);
    return out;
  }

 private:
  std::int64_t string_id(std::string_view text) {
    const auto found = string_ids_.find(text);
    if (found != string_ids_.end()) return found->second;
    const auto id = static_cast<std::int64_t>(strings_.size());
    strings_.emplace_back(text);
    string_ids_.emplace(std::string(text), id);
    return id;
  }

  std::string name(std::uint64_t task) const {
    if (task < names_.size() && !names_[task].empty()) return names_[task];
    return task == sim::kNoTask ? "main" : fmt::format("task {}", task);
  }

  void event(std::int64_t at, std::int64_t task, EventClass cls, std::string_view text,
             std::string_view content, std::uint64_t request) {
    events_.insert(events_.end(), {at, task, static_cast<std::int64_t>(cls), string_id(text),
                                   string_id(content), static_cast<std::int64_t>(request)});
    tasks_seen_[task] = true;
  }

  void stop_running(std::int64_t at) {
    if (!running_) return;
    runs_.insert(runs_.end(), {*running_, run_start_, at});
    running_.reset();
  }

  void add(const sim::TraceRecord& r, std::int64_t at) {
    const std::string_view content = trace_.annotation(first_ + static_cast<std::uint64_t>(at));
    const auto task = static_cast<std::int64_t>(r.task);
    if (clock_.empty() || clock_.back()[1] != r.time_ns) clock_.push_back(json::array({at, r.time_ns}));
    switch (r.kind) {
      case sim::TraceKind::switch_to:
        stop_running(at);
        if (task == 0) return;  // back to the scheduler
        running_ = task;
        run_start_ = at;
        tasks_seen_[task] = true;
        return;
      case sim::TraceKind::block:
        if (running_ == task) stop_running(at);
        blocked_[task] = {at, string_id(content.empty() ? fmt::format("object #{}", r.object) : content)};
        return;
      case sim::TraceKind::wake: {
        const auto found = blocked_.find(task);
        if (found == blocked_.end()) return;
        blocks_.insert(blocks_.end(), {task, found->second.first, at, found->second.second, r.detail});
        blocked_.erase(found);
        if (r.detail == 1) event(at, task, EventClass::cancel, "woken by cancellation", "", 0);
        return;
      }
      case sim::TraceKind::finish:
        if (running_ == task) stop_running(at);
        finished_[task] = {at, r.detail == 1};
        event(at, task, r.detail == 1 ? EventClass::error : EventClass::finish,
              r.detail == 1 ? "finishes by raising" : "finishes", "", 0);
        return;
      case sim::TraceKind::spawn:
        spawned_[task] = {at, static_cast<std::int64_t>(r.object)};
        event(at, task, EventClass::spawn,
              fmt::format("spawned{} by {}", r.detail == 1 ? " (thread)" : "", name(r.object)), "", 0);
        return;
      case sim::TraceKind::cancel:
        event(at, task, EventClass::cancel, fmt::format("cancels scope #{}", r.object), "", 0);
        return;
      case sim::TraceKind::decision:
        if (r.detail == static_cast<std::uint16_t>(sim::Stream::scheduler)) return;
        event(at, task, EventClass::decision,
              fmt::format(
                  "choice {} of {}: {} ({})", r.value, r.object, content,
                  r.detail < sim::kStreamCount ? sim::to_string(static_cast<sim::Stream>(r.detail)) : "?"),
              "", 0);
        return;
      case sim::TraceKind::note: {
        const std::string_view text = trace_.string(static_cast<std::uint32_t>(r.object));
        if (messages_.add(text, at, task, string_id(content), r.value,
                          [this](std::string_view s) { return string_id(s); })) {
          tasks_seen_[task] = true;
          return;
        }
        if (const std::optional<std::int64_t> kind = client_event(text)) {
          client_.insert(client_.end(),
                         {at, task, *kind, string_id(content), static_cast<std::int64_t>(r.value)});
        }
        event(at, task, classify_note(text), text, content, r.value);
        return;
      }
      case sim::TraceKind::run_end:
        stop_running(at);
        return;
      case sim::TraceKind::run_start:
      case sim::TraceKind::yield:
      case sim::TraceKind::timer_fire:
        return;
    }
  }

  json tasks() const {
    json out = json::array();
    for (std::size_t id = 0; id < names_.size() || id == 0; ++id) {
      const auto task = static_cast<std::int64_t>(id);
      if (id == 0 && !tasks_seen_.contains(0)) continue;  // the main context only runs the scheduler
      const auto spawned = spawned_.find(task);
      const auto finished = finished_.find(task);
      out.push_back({{"id", task},
                     {"name", name(id)},
                     {"parent", spawned != spawned_.end() ? spawned->second.second : -1},
                     {"spawn", spawned != spawned_.end() ? spawned->second.first : -1},
                     {"finish", finished != finished_.end() ? finished->second.first : -1},
                     {"raised", finished != finished_.end() && finished->second.second}});
    }
    return out;
  }

  const sim::Trace& trace_;
  const std::vector<std::string>& names_;
  std::uint64_t first_ = 0;
  json strings_ = json::array();
  std::map<std::string, std::int64_t, std::less<>> string_ids_;
  json clock_ = json::array();        // [record, time_ns] wherever the clock changes
  std::vector<std::int64_t> runs_;    // task, from, to
  std::vector<std::int64_t> blocks_;  // task, from, to, waits-on string, wake reason (3: never woken)
  std::vector<std::int64_t> events_;  // record, task, class, text string, content string, request
  std::vector<std::int64_t>
      client_;  // the client's events: record, task, kClientEvents index, content, request
  MessageLayers messages_;
  std::optional<std::int64_t> running_;
  std::int64_t run_start_ = 0;
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> blocked_;  // task -> (from, waits-on)
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> spawned_;  // task -> (record, parent)
  std::map<std::int64_t, std::pair<std::int64_t, bool>> finished_;         // task -> (record, raised)
  std::map<std::int64_t, bool> tasks_seen_;
};

// Names, notes and bodies come from models and may hold invalid UTF-8:
// replace it rather than throw halfway through a failure report.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string trace_data(const sim::Trace& trace, const std::vector<std::string>& task_names) {
  return dump(Builder(trace, task_names).build());
}

std::string run_data(const RunInfo& info, const std::string& trace) {
  json violations = json::array();
  for (const ViolationInfo& v : info.violations) {
    violations.push_back({{"invariant", v.invariant},
                          {"layer", v.layer},
                          {"request", v.request},
                          {"time_ns", v.time_ns},
                          {"detail", v.detail},
                          {"warning", v.warning},
                          {"trace_records", v.trace_records}});
  }
  json blocked = json::array();
  for (const sim::BlockedTask& b : info.blocked) {
    blocked.push_back({{"task", b.task},
                       {"name", b.task_name},
                       {"waits_on", b.waits_on},
                       {"held_by", b.held_by},
                       {"thread", b.thread},
                       {"daemon", b.daemon}});
  }
  const json head = {{"title", info.title},
                     {"metadata", info.metadata},
                     {"failure",
                      {{"class", info.failure},
                       {"invariant", info.invariant},
                       {"layer", info.layer},
                       {"explanation", info.explanation},
                       {"reproduce", info.reproduce}}},
                     {"violations", std::move(violations)},
                     {"blocked", std::move(blocked)}};
  // The trace is already JSON: spliced in, not parsed again.
  std::string out = dump(head);
  out.pop_back();
  return out + ",\"trace\":" + (trace.empty() ? std::string("null") : trace) + "}";
}

std::string sweep_data(const std::vector<SweepRow>& rows) {
  json out = json::array();
  for (const SweepRow& row : rows) {
    json examples = json::array();
    for (const SweepRow::Example& e : row.first_failures) {
      examples.push_back({{"failure", e.failure},
                          {"invariant", e.invariant},
                          {"seed", e.seed},
                          {"reproduce", e.reproduce},
                          {"run", e.run}});
    }
    out.push_back({{"scenario", row.scenario},
                   {"config", row.config},
                   {"seeds", row.seeds},
                   {"seconds", row.seconds},
                   {"failures", row.failures},
                   {"failures_by", row.failures_by},
                   {"first_failures", std::move(examples)}});
  }
  return dump(out);
}

}  // namespace asgisim::report
