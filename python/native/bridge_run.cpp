// The loop task and the Python side's window on a run.
#include "bridge_run.hpp"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <utility>

#include "asgisim/core/validator.hpp"
#include "asgisim/sim/detail/runtime_hooks.hpp"
#include "asgisim/sim/errors.hpp"
#include "messages.hpp"

namespace asgisim::python {
namespace {

// What SimLoop._bridge_step() answers besides a timer deadline (ns >= 0).
constexpr std::int64_t kMoreReady = -1;
constexpr std::int64_t kIdle = -2;

// Label names must outlive every log that records them: interned for the
// process (a scenario uses a handful).
std::string_view intern_label(const std::string& name) {
  static std::set<std::string, std::less<>> labels;  // nondeterminism-ok: storage only, never iterated
  return *labels.insert(name).first;
}

std::optional<core::ObservationKind> parse_kind(const std::string& kind) {
  using core::ObservationKind;
  for (ObservationKind k : {ObservationKind::background_scheduled, ObservationKind::background_started,
                            ObservationKind::background_finished, ObservationKind::background_cancelled,
                            ObservationKind::context_entered, ObservationKind::context_exited,
                            ObservationKind::context_exit_cancelled, ObservationKind::error_raised}) {
    if (core::to_string(k) == kind) return k;
  }
  return std::nullopt;
}

}  // namespace

void BridgeRun::start_loop(py::object loop) {
  loop_ = std::move(loop);
  step_ = loop_.attr("_bridge_step");
  sim::TaskHandle handle =
      sim_.spawn("asyncio loop", [self = shared_from_this()] { self->loop_main(); }, {.daemon = true});
  (void)handle;
}

void BridgeRun::loop_main() {
  loop_task_ = &sim_.current_task();
  // fifo is stock asyncio: the server and the clients (kernel tasks) act
  // within the app's calls or between loop iterations, never between two
  // handles of one batch, so they run until they block before each step.
  const bool settle = sim_.options().strategy == sim::Strategy::fifo;
  const sim::detail::RuntimeHooks hooks = sim_.runtime_hooks();
  for (;;) {
    while (settle && hooks.others_ready()) sim_.checkpoint();
    std::int64_t next = kIdle;
    {
      // Python runs to the end of one handle here; nothing below switches.
      ++handles_run_;  // before: a request made during this step carries its number
      front_ = 0;
      in_step_ = true;
      try {
        next = step_().cast<std::int64_t>();
      } catch (...) {
        in_step_ = false;
        if (threads_.loop_unwound()) throw sim::TaskUnwound();  // the run is being torn down
        throw;
      }
      in_step_ = false;
      if (threads_.loop_unwound()) throw sim::TaskUnwound();
    }
    if (busy_ns_ > 0) {
      const sim::Nanoseconds busy = std::exchange(busy_ns_, 0);
      sim_.sleep(busy);
    }
    if (next == kMoreReady) {
      sim_.checkpoint();
      continue;
    }
    idle_ = true;
    sim_.block(idle_target_, next == kIdle ? sim::kNoDeadline : std::max<std::int64_t>(next, sim_.now()),
               /*cancellable=*/false);
    idle_ = false;
  }
}

void BridgeRun::complete(const py::object& future, const py::object& result, const py::object& error,
                         std::uint64_t armed_at) {
  const Names& name = names();
  if (future.attr(name.done)().cast<bool>()) return;
  const bool in_place = !in_step_ && armed_at == handles_run_ && loop_;
  if (in_place) loop_.attr(name.bridge_front) = front_;
  try {
    if (error.is_none()) {
      future.attr(name.set_result)(result);
    } else {
      future.attr(name.set_exception)(error);
    }
  } catch (...) {
    if (in_place) loop_.attr(name.bridge_front) = py::none();
    throw;
  }
  if (in_place) {
    front_ = loop_.attr(name.bridge_front).cast<std::size_t>();
    loop_.attr(name.bridge_front) = py::none();
  }
}

void BridgeRun::call_soon(std::function<void()> fn) {
  loop_.attr(names().call_soon)(py::cpp_function(std::move(fn)));
}

void BridgeRun::wake_loop() {
  threads_.in_kernel([this] {
    if (!live() || loop_task_ == nullptr || !idle_) return;
    sim_.wake(*loop_task_);
  });
}

void BridgeRun::loop_busy(double seconds) {
  if (seconds < 0) throw std::invalid_argument("sleep length must be non-negative");
  busy_ns_ += static_cast<sim::Nanoseconds>(std::llround(seconds * 1e9));
}

std::uint64_t BridgeRun::choose(const std::string& label, std::uint64_t n) {
  const std::string name = "py." + label;
  if (!sim::is_valid_label_name(name)) throw std::invalid_argument("bad choice label: " + label);
  std::uint64_t value = 0;
  threads_.in_kernel([&] { value = sim_.choose(sim::Label{intern_label(name), sim::Stream::other}, n); });
  return value;
}

void BridgeRun::note(const std::string& what, std::uint64_t value) {
  threads_.in_kernel([&] {
    if (live()) sim_.note(what, value);
  });
}

namespace {
// The reporter named by its to_string() form (the checkers classify by it).
std::optional<core::Reporter> parse_reporter(const std::string& name) {
  for (auto r = static_cast<std::uint8_t>(core::Reporter::other);
       r <= static_cast<std::uint8_t>(core::Reporter::thread_pool); ++r) {
    if (core::to_string(static_cast<core::Reporter>(r)) == name) return static_cast<core::Reporter>(r);
  }
  return std::nullopt;
}
}  // namespace

void BridgeRun::observe(const std::string& kind, const std::string& reporter, std::uint64_t request,
                        const std::string& layer, const std::string& detail) {
  const std::optional<core::ObservationKind> parsed = parse_kind(kind);
  if (!parsed) throw std::invalid_argument("unknown observation kind: " + kind);
  const std::optional<core::Reporter> reported_by = parse_reporter(reporter);
  if (!reported_by) throw std::invalid_argument("unknown reporter: " + reporter);
  core::Observation observation;
  observation.kind = *parsed;
  observation.request = request;
  observation.layer = layer;
  observation.detail = detail;
  observation.reporter = *reported_by;
  observer().observe(std::move(observation));
}

std::string BridgeRun::observe_message(bool sent, const std::string& boundary, const std::string& blame,
                                       std::uint64_t request, std::uint64_t call,
                                       const std::string& scope_detail, const py::handle& message) {
  std::string problem;
  std::optional<core::Message> converted = message_from_python(message, problem);
  if (!converted) {
    report_violation(std::string(core::invariant_id::kMessageType), blame, request,
                     fmt::format("{} at {}: {}", sent ? "sent" : "received", boundary, problem));
    return problem;
  }
  core::Observation observation;
  observation.kind = sent ? core::ObservationKind::sent : core::ObservationKind::received;
  observation.request = request;
  observation.layer = boundary;
  observation.message = std::move(converted);
  observation.detail = scope_detail;
  observation.value = call;
  observation.reporter = core::Reporter::boundary;
  observer().observe(std::move(observation));
  return {};
}

void BridgeRun::report_violation(const std::string& invariant, const std::string& layer,
                                 std::uint64_t request, const std::string& detail) {
  core::Violation violation;
  violation.invariant = invariant;
  violation.layer = layer;
  violation.request = request;
  violation.detail = detail;
  observer().report(std::move(violation));
}

}  // namespace asgisim::python
