// Chrome trace-event JSON export of a Trace: thread rows per task, "X"
// slices while a task runs, instant events for everything else.
#include "asgisim/sim/chrome_trace.hpp"

#include <cerrno>
#include <cstdio>
#include <limits>
#include <set>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

namespace {

using nlohmann::json;

constexpr int kProcessId = 1;

// JavaScript numbers are doubles: larger integers would be silently rounded
// by the viewer, so they are written as decimal strings instead.
json exact(std::uint64_t value) {
  constexpr std::uint64_t kDoubleExactMax = std::uint64_t{1} << 53;
  if (value <= kDoubleExactMax) return value;
  return std::to_string(value);
}

std::string task_name(const std::vector<std::string>& task_names, TaskId task) {
  if (task < task_names.size() && !task_names[task].empty()) return task_names[task];
  if (task == kNoTask) return "main";
  return fmt::format("task {}", task);
}

std::string_view kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::run_start:
      return "run_start";
    case TraceKind::spawn:
      return "spawn";
    case TraceKind::switch_to:
      return "switch_to";
    case TraceKind::yield:
      return "yield";
    case TraceKind::block:
      return "block";
    case TraceKind::wake:
      return "wake";
    case TraceKind::finish:
      return "finish";
    case TraceKind::timer_fire:
      return "timer_fire";
    case TraceKind::decision:
      return "decision";
    case TraceKind::cancel:
      return "cancel";
    case TraceKind::note:
      return "note";
    case TraceKind::run_end:
      return "run_end";
  }
  return "unknown";
}

std::string_view wake_reason_name(std::uint16_t detail) {
  static_assert(static_cast<int>(WakeReason::notified) == 0 && static_cast<int>(WakeReason::cancelled) == 1 &&
                static_cast<int>(WakeReason::timed_out) == 2);
  switch (detail) {
    case 0:
      return "notified";
    case 1:
      return "cancelled";
    case 2:
      return "timed_out";
    default:
      return "unknown";
  }
}

// Trace-event timestamps are microseconds; ours are nanoseconds.
double microseconds(std::int64_t display_ns) { return static_cast<double>(display_ns) / 1000.0; }

class Exporter {
 public:
  Exporter(const Trace& trace, const std::vector<std::string>& task_names, const ChromeTraceOptions& options)
      : trace_(trace), task_names_(task_names), options_(options) {}

  json run() {
    const std::vector<TraceRecord> records = trace_.records();
    ASGISIM_ASSERT(records.size() <= trace_.count());
    first_record_ = trace_.count() - records.size();
    for (std::size_t i = 0; i < records.size(); ++i) add_record(records[i], i);
    if (!records.empty()) close_slice(display_ns(records.back(), records.size() - 1) + 1);
    ASGISIM_ASSERT(!slice_open_);

    json out = json::object();
    out["traceEvents"] = metadata_events();
    for (json& event : events_) out["traceEvents"].push_back(std::move(event));
    out["displayTimeUnit"] = "ns";
    json other = json::object();
    for (const auto& [key, value] : options_.metadata) other[key] = value;
    other["trace_hash"] = fmt::format("0x{:016x}", trace_.hash());
    other["truncated"] = trace_.truncated();
    other["records_total"] = exact(trace_.count());
    other["records_exported"] = exact(records.size());
    other["first_record"] = exact(first_record_);
    out["otherData"] = std::move(other);
    return out;
  }

 private:
  static std::int64_t display_ns(const TraceRecord& record, std::size_t index) {
    return record.time_ns + static_cast<std::int64_t>(index);
  }

  json metadata_events() const {
    json events = json::array();
    events.push_back({{"name", "process_name"},
                      {"ph", "M"},
                      {"pid", kProcessId},
                      {"tid", 0},
                      {"args", {{"name", options_.process_name}}}});
    std::set<TaskId> tasks = tasks_seen_;
    for (std::size_t id = 0; id < task_names_.size(); ++id) tasks.insert(static_cast<TaskId>(id));
    tasks.insert(kNoTask);
    for (const TaskId task : tasks) {
      events.push_back({{"name", "thread_name"},
                        {"ph", "M"},
                        {"pid", kProcessId},
                        {"tid", task},
                        {"args", {{"name", task_name(task_names_, task)}}}});
      // Rows in task-id (spawn) order rather than the viewer's own choice.
      events.push_back({{"name", "thread_sort_index"},
                        {"ph", "M"},
                        {"pid", kProcessId},
                        {"tid", task},
                        {"args", {{"sort_index", task}}}});
    }
    return events;
  }

  void open_slice(const TraceRecord& record, std::int64_t at_display_ns, std::size_t index) {
    ASGISIM_ASSERT(!slice_open_);
    slice_open_ = true;
    slice_task_ = record.task;
    slice_start_display_ns_ = at_display_ns;
    slice_start_time_ns_ = record.time_ns;
    slice_record_ = first_record_ + index;
  }

  void close_slice(std::int64_t at_display_ns) {
    if (!slice_open_) return;
    ASGISIM_ASSERT(at_display_ns >= slice_start_display_ns_);
    slice_open_ = false;
    events_.push_back({{"name", task_name(task_names_, slice_task_)},
                       {"cat", "run"},
                       {"ph", "X"},
                       {"pid", kProcessId},
                       {"tid", slice_task_},
                       {"ts", microseconds(slice_start_display_ns_)},
                       {"dur", microseconds(at_display_ns - slice_start_display_ns_)},
                       {"args", {{"time_ns", slice_start_time_ns_}, {"record", exact(slice_record_)}}}});
  }

  void add_record(const TraceRecord& record, std::size_t index) {
    tasks_seen_.insert(record.task);
    const std::int64_t at_display_ns = display_ns(record, index);
    if (record.kind == TraceKind::switch_to) {
      close_slice(at_display_ns);
      open_slice(record, at_display_ns, index);
      return;
    }
    const bool running_task_stops = (record.kind == TraceKind::block || record.kind == TraceKind::finish) &&
                                    slice_open_ && slice_task_ == record.task;
    if (running_task_stops || record.kind == TraceKind::run_end) close_slice(at_display_ns);
    events_.push_back(instant(record, at_display_ns, index));
  }

  json instant(const TraceRecord& record, std::int64_t at_display_ns, std::size_t index) const {
    json args = {{"time_ns", record.time_ns}, {"record", exact(first_record_ + index)}};
    const std::string_view annotation = trace_.annotation(first_record_ + index);
    if (!annotation.empty()) args["content"] = annotation;
    std::string name(kind_name(record.kind));
    std::string scope = "t";  // thread-scoped unless the event is about the whole run
    std::string category = "sched";
    switch (record.kind) {
      case TraceKind::run_start:
        scope = "g";
        args["seed"] = exact(record.value);
        break;
      case TraceKind::run_end:
        scope = "g";
        args["status"] = record.detail;
        break;
      case TraceKind::spawn:
        category = "task";
        args["parent"] = exact(record.object);
        args["parent_name"] = task_name(task_names_, static_cast<TaskId>(record.object));
        args["thread"] = record.detail == 1;
        break;
      case TraceKind::block:
        args["waitable"] = exact(record.object);
        break;
      case TraceKind::wake:
        args["waitable"] = exact(record.object);
        args["reason"] = wake_reason_name(record.detail);
        break;
      case TraceKind::finish:
        category = "task";
        args["raised"] = record.detail == 1;
        break;
      case TraceKind::timer_fire:
        args["new_time_ns"] = exact(record.value);
        break;
      case TraceKind::decision:
        category = "decision";
        args["value"] = exact(record.value);
        args["n"] = exact(record.object);
        args["stream"] = record.detail < kStreamCount
                             ? std::string(to_string(static_cast<Stream>(record.detail)))
                             : fmt::format("stream {}", record.detail);
        break;
      case TraceKind::cancel:
        category = "cancel";
        args["scope"] = exact(record.object);
        break;
      case TraceKind::note: {
        category = "note";
        const bool is_string_id = record.object <= std::numeric_limits<std::uint32_t>::max();
        const std::string_view text =
            is_string_id ? trace_.string(static_cast<std::uint32_t>(record.object)) : "";
        if (!text.empty()) name = std::string(text);
        args["value"] = exact(record.value);
        break;
      }
      case TraceKind::switch_to:
      case TraceKind::yield:
        break;
    }
    return {{"name", std::move(name)},
            {"cat", std::move(category)},
            {"ph", "i"},
            {"s", std::move(scope)},
            {"pid", kProcessId},
            {"tid", record.task},
            {"ts", microseconds(at_display_ns)},
            {"args", std::move(args)}};
  }

  const Trace& trace_;
  const std::vector<std::string>& task_names_;
  const ChromeTraceOptions& options_;
  std::uint64_t first_record_ = 0;
  std::vector<json> events_;
  std::set<TaskId> tasks_seen_;
  bool slice_open_ = false;
  TaskId slice_task_ = kNoTask;
  std::int64_t slice_start_display_ns_ = 0;
  Nanoseconds slice_start_time_ns_ = 0;
  std::uint64_t slice_record_ = 0;
};

}  // namespace

std::string chrome_trace_json(const Trace& trace, const std::vector<std::string>& task_names,
                              const ChromeTraceOptions& options) {
  const json document = Exporter(trace, task_names, options).run();
  // Task names and notes come from models and may hold invalid UTF-8; replace
  // it rather than throw halfway through a failure report.
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

void write_chrome_trace(const std::filesystem::path& path, const Trace& trace,
                        const std::vector<std::string>& task_names, const ChromeTraceOptions& options) {
  const std::string text = chrome_trace_json(trace, task_names, options);
  const auto failure = [&path](int error) {
    return std::runtime_error(fmt::format("cannot write Chrome trace {}: {}", path.string(),
                                          std::generic_category().message(error)));
  };
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw failure(errno);
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  const int write_error = errno;
  if (std::fclose(file) != 0 || !written) throw failure(written ? errno : write_error);
}

}  // namespace asgisim::sim
