// The text timeline: a trace read top to bottom in a 120-column terminal.
#include "asgisim/scenarios/timeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string_view>

#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios {
namespace {

constexpr std::size_t kLineWidth = 120;

// A task's whole name: several tasks often share a long prefix
// ("BaseHTTPMiddleware2.call_next", "BaseHTTPMiddleware2.dispatch"), so a
// cut name would not tell them apart. The legend gives each its own line
// when they do not fit on one.
std::string task_name(const std::vector<std::string>& names, sim::TaskId id) {
  return id < names.size() && !names[id].empty() ? names[id] : (id == 0 ? "main" : "?");
}

std::string_view wake_reason(std::uint16_t detail) {
  switch (detail) {
    case 0:
      return "notified";
    case 1:
      return "cancelled";
    case 2:
      return "timed out";
  }
  return "?";
}

std::string_view stream_name(std::uint16_t detail) {
  return detail < sim::kStreamCount ? sim::to_string(static_cast<sim::Stream>(detail)) : "?";
}

// The objects tasks wait on, as the block records' annotations name them
// ("anyio.Event 'response_sent' #12 (state)"): the wake that ends a wait
// names the same object, without the state it had when the wait began.
class ObjectNames {
 public:
  void learn(const sim::TraceRecord& r, std::string_view annotation) {
    if (r.kind != sim::TraceKind::block || annotation.empty()) return;
    const std::string id = fmt::format(" #{}", r.object);
    const std::size_t at = annotation.find(id);
    names_.insert_or_assign(
        r.object,
        std::string(annotation.substr(0, at == std::string_view::npos ? annotation.size() : at + id.size())));
  }
  std::string operator()(std::uint64_t object) const {
    const auto found = names_.find(object);
    return found != names_.end() ? found->second : fmt::format("object #{}", object);
  }

 private:
  std::map<std::uint64_t, std::string> names_;
};

// "client.pause = 2 of 3 (clients)": the choice's label, its answer and how
// many answers there were.
std::string decision_text(const sim::TraceRecord& r, std::string_view label) {
  if (label.empty()) return fmt::format("choice {} of {} ({})", r.value, r.object, stream_name(r.detail));
  return fmt::format("{} = {} of {} ({})", label, r.value, r.object, stream_name(r.detail));
}

// The event in words; empty for a record that the options leave out.
// `annotation` is what the trace keeps beside the record (see Trace::annotate).
std::string event_text(const sim::TraceRecord& r, std::string_view annotation, const ObjectNames& objects,
                       const sim::Trace& trace, const std::vector<std::string>& names,
                       const TimelineOptions& options) {
  switch (r.kind) {
    case sim::TraceKind::run_start:
      return "run starts";
    case sim::TraceKind::run_end:
      return fmt::format("run ends: {} after {} steps", sim::to_string(static_cast<sim::RunStatus>(r.detail)),
                         r.value);
    case sim::TraceKind::spawn:
      return fmt::format("spawned{} by #{} {}", r.detail == 1 ? " (thread)" : "", r.object,
                         task_name(names, static_cast<sim::TaskId>(r.object)));
    case sim::TraceKind::switch_to:
      return options.scheduling ? "runs" : "";
    case sim::TraceKind::yield:
      return options.scheduling ? "yields" : "";
    case sim::TraceKind::block:
      return annotation.empty() ? fmt::format("blocks on {}", objects(r.object))
                                : fmt::format("blocks on {}", annotation);
    case sim::TraceKind::wake:
      return fmt::format("woken ({}) from {}", wake_reason(r.detail), objects(r.object));
    case sim::TraceKind::finish:
      return r.detail == 1 ? "finishes by raising" : "finishes";
    case sim::TraceKind::timer_fire:
      return fmt::format("clock jumps to {} ns", r.value);
    case sim::TraceKind::decision:
      if (!options.scheduling && r.detail == static_cast<std::uint16_t>(sim::Stream::scheduler)) return "";
      return decision_text(r, annotation);
    case sim::TraceKind::cancel:
      return fmt::format("cancels scope #{}", r.object);
    case sim::TraceKind::note: {
      const std::string_view text = trace.string(static_cast<std::uint32_t>(r.object));
      return r.value != 0 ? fmt::format("{} (request {})", text, r.value) : std::string(text);
    }
  }
  return "?";
}

class Columns {
 public:
  explicit Columns(std::size_t count) : alive_(count + 1, false), count_(count) {}

  std::size_t column(sim::TaskId task) const { return std::min<std::size_t>(task, count_); }

  // One character pair per column: '*' the task acting, '|' a live task.
  std::string render(sim::TaskId acting) const {
    std::string out;
    for (std::size_t c = 1; c <= count_; ++c) {
      const bool acts = acting != 0 && column(acting) == c;
      out += acts ? (c == count_ ? '+' : '*') : (alive_[c] ? '|' : ' ');
      out += ' ';
    }
    return out;
  }

  void update(const sim::TraceRecord& r) {
    if (r.task == 0) return;
    if (r.kind == sim::TraceKind::spawn || r.kind == sim::TraceKind::switch_to) alive_[column(r.task)] = true;
    if (r.kind == sim::TraceKind::finish && column(r.task) < count_) alive_[column(r.task)] = false;
  }

 private:
  std::vector<bool> alive_;  // by column
  std::size_t count_;
};

std::string legend(const std::vector<std::string>& names, std::size_t columns) {
  std::string out = "columns:";
  std::size_t width = out.size();
  for (std::size_t id = 1; id < names.size() && id <= columns; ++id) {
    std::string entry = id == columns && names.size() > columns + 1
                            ? fmt::format(" {}+=#{} and later", id, id)
                            : fmt::format(" {}={}", id, task_name(names, static_cast<sim::TaskId>(id)));
    if (width + entry.size() > kLineWidth) {
      out += "\n        ";
      width = 8;
    }
    width += entry.size();
    out += entry;
  }
  return out + "\n";
}

}  // namespace

std::string text_timeline(const sim::Trace& trace, const std::vector<std::string>& task_names,
                          const TimelineOptions& options) {
  const std::size_t tasks = task_names.empty() ? 0 : task_names.size() - 1;  // index 0 is the main context
  const std::size_t columns = std::max<std::size_t>(1, std::min(options.task_columns_max, tasks));
  Columns state(columns);
  std::vector<std::string> rows;
  bool past_end = false;
  ObjectNames objects;
  const std::vector<sim::TraceRecord> records = trace.records();
  const std::uint64_t first_record = trace.count() - records.size();  // annotations count every record
  for (std::size_t position = 0; position < records.size(); ++position) {
    const sim::TraceRecord& r = records[position];
    if (past_end) break;  // what follows is the teardown (unwinding daemons), not the run
    past_end = r.kind == sim::TraceKind::run_end;
    const std::string_view annotation = trace.annotation(first_record + position);
    objects.learn(r, annotation);
    const std::string text = event_text(r, annotation, objects, trace, task_names, options);
    if (!text.empty()) {
      const std::string time =
          fmt::format("{:>6}.{:06}", r.time_ns / sim::kMillisecond, r.time_ns % sim::kMillisecond);
      if (r.kind == sim::TraceKind::spawn) state.update(r);
      // The legend names the tasks; a row names only the id, leaving the
      // width for what happened.
      std::string line = fmt::format("{}  {}  #{} {}", time, state.render(r.task), r.task, text);
      if (line.size() > kLineWidth) line = line.substr(0, kLineWidth - 1) + "~";
      rows.push_back(std::move(line));
    }
    state.update(r);
  }
  std::string out = legend(task_names, columns);
  if (trace.truncated())
    out += fmt::format("(the flight recorder kept the last {} of {} records)\n", trace.records().size(),
                       trace.count());
  out += fmt::format("{:>13}  {}  event\n", "time ms", std::string(2 * columns, ' '));
  std::size_t first = 0;
  if (rows.size() > options.rows_max) {
    first = rows.size() - options.rows_max;
    out += fmt::format("... {} earlier rows left out\n", first);
  }
  for (std::size_t i = first; i < rows.size(); ++i) out += rows[i] + "\n";
  return out;
}

}  // namespace asgisim::scenarios
