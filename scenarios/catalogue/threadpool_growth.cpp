// Catalogue scenario 6: thread-pool growth with a bound (FastAPI #596, the
// source document seeds/000_*.txt). A model server on a 40-CPU machine serves
// a `def` endpoint whose first call on a thread loads a large per-thread
// footprint (a deep-learning model's buffers). Up to FastAPI 0.68 (Starlette
// 0.14) sync endpoints run in the loop's default executor, which on Python
// 3.7 starts a thread per call until it has cpu_count * 5 = 200, each keeping
// its footprint: memory grows for the first 200 calls, then plateaus far above
// the container's budget. From FastAPI 0.69 (Starlette 0.15) they go through
// anyio's limiter, which the deployment sizes to its memory budget.
//
// The deployment is the same in both configurations: it sizes the thread
// limiter to budget / footprint, as the advice says. Only the stack
// decides whether that knob exists (Starlette 0.14 has none: the default
// executor ignores it).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "asgisim/core/client.hpp"
#include "asgisim/core/fastapi.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/threading.hpp"
#include "catalogue.hpp"

namespace asgisim::scenarios {
namespace {

constexpr std::uint64_t kMebibyte = 1024 * 1024;
constexpr std::uint64_t kGibibyte = 1024 * kMebibyte;
// The machine of the source document: 40 CPUs.
constexpr std::uint64_t kCpuCount = 40;
// What the container has for per-thread model buffers.
constexpr std::uint64_t kMemoryBudgetBytes = 16 * kGibibyte;
// Per-thread footprints of the models the deployment may serve.
constexpr std::uint64_t kFootprintChoicesBytes[] = {256 * kMebibyte, 512 * kMebibyte, 1 * kGibibyte};
// A few clients, each calling one after another, as in the source document
// (the limiter is not what is under test: growth under sequential calls is).
constexpr std::uint64_t kClientsMax = 4;
constexpr std::uint64_t kCallsPerClientMax = 250;
// Time a call spends in the model (thread side).
constexpr sim::Nanoseconds kInferenceChoicesNs[] = {sim::kMillisecond, 10 * sim::kMillisecond,
                                                    100 * sim::kMillisecond};
// A client's pause between calls; 15 s exceeds anyio's 10 s idle-worker
// pruning, so memory can also go down.
constexpr sim::Nanoseconds kThinkChoicesNs[] = {0, 0, 10 * sim::kMillisecond, sim::kSecond,
                                                15 * sim::kSecond};

constexpr sim::Label kFootprintLabel{"growth.footprint", sim::Stream::other};
constexpr sim::Label kClientsLabel{"growth.clients", sim::Stream::clients};
constexpr sim::Label kCallsLabel{"growth.calls", sim::Stream::clients};
constexpr sim::Label kThinkLabel{"growth.think", sim::Stream::clients};
constexpr sim::Label kInferenceLabel{"growth.inference", sim::Stream::other};

// "0.68.0" -> 68000 (major * 10^6 + minor * 10^3 + patch); missing parts are 0.
std::uint64_t version_number(std::string_view version) {
  std::uint64_t number = 0;
  for (int part = 0; part < 3; ++part) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), value);
    if (error == std::errc()) version.remove_prefix(static_cast<std::size_t>(end - version.data()));
    if (!version.empty() && version.front() == '.') version.remove_prefix(1);
    number = number * 1'000 + value;
  }
  return number;
}

// Starlette <= 0.14 (FastAPI <= 0.68) runs sync endpoints through
// loop.run_in_executor(None, ...); later ones through anyio.to_thread.
bool uses_default_executor(const StackVersions& versions) {
  if (!versions.starlette.empty()) return version_number(versions.starlette) < version_number("0.15.0");
  if (!versions.fastapi.empty()) return version_number(versions.fastapi) < version_number("0.69.0");
  return false;
}

// One point of the curve the report shows: the pool after a call.
struct CurvePoint {
  sim::Nanoseconds time_ns = 0;
  std::uint64_t call = 0;
  std::uint64_t threads = 0;
  std::uint64_t retained_bytes = 0;
};

// The stack and what the run learns about it; shared by the tasks and the report.
struct Deployment {
  std::uint64_t footprint_bytes = 0;
  std::uint64_t thread_budget = 0;  // the limiter size the deployment asks for
  std::unique_ptr<core::ThreadPoolExecutor> executor{};
  std::unique_ptr<core::AnyioToThread> to_thread{};
  std::unique_ptr<core::Server> server{};
  std::uint64_t calls = 0;
  std::vector<CurvePoint> curve{};

  core::ThreadPoolRunner& pool() {
    if (executor) return *executor;
    return *to_thread;
  }
  const core::PoolStats& stats() const { return executor ? executor->stats() : to_thread->stats(); }
  std::uint64_t threads_bound() const { return executor ? executor->max_workers() : thread_budget; }
  std::string pool_name() const {
    if (executor) {
      return fmt::format("default executor (Python {}, max_workers {})",
                         core::to_string(executor->options().python), executor->max_workers());
    }
    return fmt::format("anyio to_thread (limiter {} tokens)", thread_budget);
  }
};

void make_pool(Deployment& deployment, const Stack& stack) {
  if (uses_default_executor(stack.versions)) {
    deployment.executor = std::make_unique<core::ThreadPoolExecutor>(
        core::ThreadPoolExecutorOptions{.python = stack.python,
                                        .cpu_count = kCpuCount,
                                        .retained_bytes_per_thread = deployment.footprint_bytes});
    return;
  }
  deployment.to_thread = std::make_unique<core::AnyioToThread>(
      core::AnyioToThreadOptions{.total_tokens = deployment.thread_budget,
                                 .wake_order = stack.limiter_wake_order,
                                 .retained_bytes_per_thread = deployment.footprint_bytes});
}

// `def predict(): return model(input)`: the model's time is spent on the
// thread. The app refers to the deployment that owns its server (no cycle);
// the deployment outlives the run (run.describe holds it).
core::App predict_app(Deployment& deployment, sim::Simulation& sim) {
  core::FastApiEndpoint endpoint{
      .function =
          [deployment = &deployment, &sim](core::Request&, core::Deps&) {
            const std::uint64_t pick = sim.choose(kInferenceLabel, std::size(kInferenceChoicesNs));
            sim::thread_sleep(kInferenceChoicesNs[pick]);
            const core::PoolStats& stats = deployment->stats();
            deployment->curve.push_back(CurvePoint{.time_ns = sim.now(),
                                                   .call = ++deployment->calls,
                                                   .threads = stats.threads_current,
                                                   .retained_bytes = stats.retained_bytes_current});
            return core::JSONResponse("{\"label\":\"cat\"}");
          },
      .kind = core::EndpointKind::sync_def};
  return core::fastapi_route(std::move(endpoint), {.threadpool = &deployment.pool()});
}

// A client calling the endpoint `calls` times, one after another.
void spawn_client(sim::Simulation& sim, core::Observer& observer,
                  const std::shared_ptr<Deployment>& deployment, std::uint64_t index, std::uint64_t calls) {
  sim.spawn(fmt::format("client {}", index), [&sim, &observer, deployment, calls] {
    core::Client client(*deployment->server, observer);
    for (std::uint64_t call = 0; call < calls; ++call) {
      if (call > 0) sim.sleep(kThinkChoicesNs[sim.choose(kThinkLabel, std::size(kThinkChoicesNs))]);
      client.request(core::RequestSpec{.method = "POST", .path = "/predict", .body = "{\"image\":\"...\"}"});
    }
    client.close();
  });
}

std::string gib(std::uint64_t bytes) {
  return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / kGibibyte);
}

std::string seconds(sim::Nanoseconds ns) {
  return fmt::format("{:.3f} s", static_cast<double>(ns) / sim::kSecond);
}

// Threads and memory over time (at most ~16 lines) and where they plateaued.
std::string describe_growth(const Deployment& deployment) {
  const core::PoolStats& stats = deployment.stats();
  std::string text = fmt::format(
      "thread pool: {}; per-thread footprint {}; memory budget {}\n"
      "peak: {} threads, {} retained; now: {} threads, {}; calls served: {}\n",
      deployment.pool_name(), gib(deployment.footprint_bytes), gib(kMemoryBudgetBytes), stats.threads_peak,
      gib(stats.retained_bytes_peak), stats.threads_current, gib(stats.retained_bytes_current),
      deployment.calls);
  const std::vector<CurvePoint>& curve = deployment.curve;
  if (curve.empty()) return text;
  text += "after call   time           threads  retained\n";
  const std::size_t stride = std::max<std::size_t>(1, curve.size() / 12);
  for (std::size_t i = 0; i < curve.size(); i += stride) {
    const CurvePoint& point = curve[i];
    text += fmt::format("{:>10}   {:>12}   {:>7}  {}\n", point.call, seconds(point.time_ns), point.threads,
                        gib(point.retained_bytes));
  }
  // The plateau: from the first call that reached the peak, did memory stay there?
  const auto first_peak = std::find_if(curve.begin(), curve.end(), [&](const CurvePoint& point) {
    return point.retained_bytes == stats.retained_bytes_peak;
  });
  if (first_peak != curve.end()) {
    const bool stayed = std::all_of(first_peak, curve.end(), [&](const CurvePoint& point) {
      return point.retained_bytes == stats.retained_bytes_peak;
    });
    text +=
        fmt::format("{}: {} threads, {} from call {} ({}) {}; the pool's bound: {} threads = {}\n",
                    stayed ? "plateau" : "peak", first_peak->threads, gib(first_peak->retained_bytes),
                    first_peak->call, seconds(first_peak->time_ns), stayed ? "to the end" : "then down",
                    deployment.threads_bound(), gib(deployment.threads_bound() * deployment.footprint_bytes));
  }
  return text;
}

class ThreadpoolGrowth final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return kInfo; }

  void build(RunContext& run) const override {
    sim::Simulation& sim = run.sim;
    auto deployment = std::make_shared<Deployment>();
    deployment->footprint_bytes =
        kFootprintChoicesBytes[sim.choose(kFootprintLabel, std::size(kFootprintChoicesBytes))];
    deployment->thread_budget = kMemoryBudgetBytes / deployment->footprint_bytes;
    make_pool(*deployment, run.stack);
    deployment->server =
        std::make_unique<core::Server>(sim, run.observer, predict_app(*deployment, sim), run.stack.server);

    const std::uint64_t clients = 1 + sim.choose(kClientsLabel, kClientsMax);
    for (std::uint64_t i = 1; i <= clients; ++i) {
      spawn_client(sim, run.observer, deployment, i, 1 + sim.choose(kCallsLabel, kCallsPerClientMax));
    }
    run.params.threads_bound = deployment->threads_bound();
    run.params.memory_budget_bytes = kMemoryBudgetBytes;
    run.describe = [deployment] { return describe_growth(*deployment); };
  }

 private:
  static inline const ScenarioInfo kInfo{
      .name = "threadpool-growth",
      .title = "sync endpoints on a 40-CPU machine: threads and their memory grow to the pool's bound",
      .upstream = "tiangolo/fastapi#596; configurable from FastAPI 0.69 (Starlette 0.15, anyio to_thread)",
      .buggy = {.versions = {.python = "3.7", .fastapi = "0.68.0"},
                .summary = "FastAPI 0.68 (Starlette 0.14): loop's default executor, Python 3.7: 200 workers"},
      .fixed = {.versions = {.python = "3.7", .fastapi = "0.69.0"},
                .summary = "FastAPI 0.69 (Starlette 0.15): anyio limiter sized to the memory budget"},
      .invariants = {"threads-bounded", "memory-budget", "response-complete"},
      .steps_max = 2'000'000,
      .time_max_ns = 4 * 3'600 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> catalogue::make_threadpool_growth() { return std::make_unique<ThreadpoolGrowth>(); }

}  // namespace asgisim::scenarios
