// Length-prefixed fields in a fixed order; integers as 8 little-endian bytes.
#include "outcome_codec.hpp"

#include <deque>
#include <stdexcept>

#include "asgisim/sim/errors.hpp"

namespace asgisim::cli {

namespace {

class Writer {
 public:
  void u64(std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  void text(std::string_view value) {
    u64(value.size());
    out_.append(value);
  }
  void flag(bool value) { u64(value ? 1 : 0); }
  void maybe(const std::optional<std::uint64_t>& value) {
    flag(value.has_value());
    if (value) u64(*value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint64_t u64() {
    need(8);
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= std::uint64_t{static_cast<unsigned char>(in_[at_ + i])} << (8 * i);
    at_ += 8;
    return value;
  }
  std::string text() {
    const std::uint64_t size = u64();
    need(size);
    std::string value(in_.substr(at_, size));
    at_ += size;
    return value;
  }
  bool flag() { return u64() != 0; }
  std::optional<std::uint64_t> maybe() {
    if (!flag()) return std::nullopt;
    return u64();
  }
  bool done() const { return at_ == in_.size(); }

 private:
  void need(std::uint64_t size) const {
    if (size > in_.size() - at_) throw std::runtime_error("a worker's outcome was cut short");
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

void encode_result(Writer& out, const sim::RunResult& result) {
  out.u64(static_cast<std::uint64_t>(result.status));
  out.text(result.report);
  out.u64(result.trace_hash);
  out.u64(result.steps);
  out.u64(static_cast<std::uint64_t>(result.end_time_ns));
  out.flag(static_cast<bool>(result.error));
  if (result.error) out.text(sim::describe(result.error));
  out.u64(result.blocked.size());
  for (const sim::BlockedTask& task : result.blocked) {
    out.u64(task.task);
    out.text(task.task_name);
    out.flag(task.daemon);
    out.flag(task.thread);
    out.text(task.waits_on);
    out.u64(task.object);
    out.u64(task.held_by.size());
    for (const sim::TaskId holder : task.held_by) out.u64(holder);
  }
}

sim::RunResult decode_result(Reader& in) {
  sim::RunResult result;
  result.status = static_cast<sim::RunStatus>(in.u64());
  result.report = in.text();
  result.trace_hash = in.u64();
  result.steps = in.u64();
  result.end_time_ns = static_cast<sim::Nanoseconds>(in.u64());
  if (in.flag()) result.error = std::make_exception_ptr(std::runtime_error(in.text()));
  result.blocked.resize(in.u64());
  for (sim::BlockedTask& task : result.blocked) {
    task.task = static_cast<sim::TaskId>(in.u64());
    task.task_name = in.text();
    task.daemon = in.flag();
    task.thread = in.flag();
    task.waits_on = in.text();
    task.object = static_cast<sim::ObjectId>(in.u64());
    task.held_by.resize(in.u64());
    for (sim::TaskId& holder : task.held_by) holder = static_cast<sim::TaskId>(in.u64());
  }
  return result;
}

void encode_log(Writer& out, const sim::DecisionLog& log) {
  out.text(log.tool_version);
  out.u64(log.config_hash);
  out.u64(log.metadata.size());
  for (const auto& [key, value] : log.metadata) {
    out.text(key);
    out.text(value);
  }
  out.u64(log.size());
  for (const sim::Decision& decision : log.decisions()) {
    out.text(decision.label);
    out.u64(static_cast<std::uint64_t>(decision.stream));
    out.u64(decision.n);
    out.u64(decision.value);
  }
}

sim::DecisionLog decode_log(Reader& in) {
  sim::DecisionLog log;
  log.tool_version = in.text();
  log.config_hash = in.u64();
  for (std::uint64_t i = in.u64(); i > 0; --i) {
    std::string key = in.text();
    log.metadata[std::move(key)] = in.text();
  }
  std::deque<std::string> labels;  // stable addresses until own_labels() copies them
  for (std::uint64_t i = in.u64(); i > 0; --i) {
    const std::string& label = labels.emplace_back(in.text());
    const auto stream = static_cast<sim::Stream>(in.u64());
    const std::uint64_t n = in.u64();
    log.record(sim::Decision{.label = label, .stream = stream, .n = n, .value = in.u64()});
  }
  log.own_labels();
  return log;
}

}  // namespace

std::string encode_outcome(const scenarios::RunOutcome& outcome) {
  Writer out;
  out.text(outcome.scenario);
  out.u64(static_cast<std::uint64_t>(outcome.config));
  out.u64(outcome.seed);
  out.flag(outcome.from_schedule);
  out.maybe(outcome.schedule_seed);
  out.u64(static_cast<std::uint64_t>(outcome.failure));
  out.text(outcome.invariant);
  out.text(outcome.layer);
  out.text(outcome.report);
  encode_result(out, outcome.result);
  out.u64(outcome.trace_hash);
  out.maybe(outcome.second_trace_hash);
  const bool whole = outcome.failed();
  out.flag(whole);
  if (whole) {
    out.u64(outcome.violations.size());
    for (const core::Violation& violation : outcome.violations) {
      out.text(violation.invariant);
      out.text(violation.layer);
      out.u64(violation.request);
      out.u64(static_cast<std::uint64_t>(violation.time_ns));
      out.text(violation.detail);
      out.flag(violation.warning);
    }
    encode_log(out, outcome.decisions);
    out.text(outcome.chrome_trace);
    out.text(outcome.timeline);
  }
  return out.take();
}

scenarios::RunOutcome decode_outcome(std::string_view bytes) {
  Reader in(bytes);
  scenarios::RunOutcome outcome;
  outcome.scenario = in.text();
  outcome.config = static_cast<scenarios::ConfigKind>(in.u64());
  outcome.seed = in.u64();
  outcome.from_schedule = in.flag();
  outcome.schedule_seed = in.maybe();
  outcome.failure = static_cast<scenarios::FailureClass>(in.u64());
  outcome.invariant = in.text();
  outcome.layer = in.text();
  outcome.report = in.text();
  outcome.result = decode_result(in);
  outcome.trace_hash = in.u64();
  outcome.second_trace_hash = in.maybe();
  if (in.flag()) {
    outcome.violations.resize(in.u64());
    for (core::Violation& violation : outcome.violations) {
      violation.invariant = in.text();
      violation.layer = in.text();
      violation.request = in.u64();
      violation.time_ns = static_cast<sim::Nanoseconds>(in.u64());
      violation.detail = in.text();
      violation.warning = in.flag();
    }
    outcome.decisions = decode_log(in);
    outcome.chrome_trace = in.text();
    outcome.timeline = in.text();
  }
  if (!in.done()) throw std::runtime_error("a worker's outcome has bytes past its end");
  return outcome;
}

}  // namespace asgisim::cli
