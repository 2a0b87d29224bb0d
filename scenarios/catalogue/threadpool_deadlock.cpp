// Catalogue scenario 7: the thread-pool deadlock of FastAPI #3205. The
// tutorial's `def get_db(): db = SessionLocal(); try: yield db; finally:
// db.close()` with a `def` endpoint: the session checks a connection out of
// SQLAlchemy's QueuePool on its first query (in the endpoint, on a worker
// thread holding a limiter token) and gives it back in the dependency's exit.
// Before FastAPI 0.82 that exit runs through run_in_threadpool, so it needs a
// token of the same 40-token limiter: under a burst, 40 endpoint threads hold
// every token while they wait for a connection, and the requests that hold
// the connections wait for a token to give them back. FastAPI 0.82 (PR #5122)
// runs the exits under their own one-token limiter.
//
// The deployment's pool settings are choices: pool_size and max_overflow
// (small pools and SQLAlchemy's defaults), and pool_timeout: None (wait
// forever: nothing breaks the cycle, a deadlock) or the default 30 s (the
// waits time out and the requests end in a 500 after a 30 s stall). The size
// of the burst, the arrivals and the query's duration come from the choice
// stream too.
#include <any>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "asgisim/core/client.hpp"
#include "asgisim/core/fastapi.hpp"
#include "asgisim/core/resource_pool.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/threading.hpp"
#include "catalogue.hpp"

namespace asgisim::scenarios {
namespace {

// A burst of up to this many concurrent clients, one request each.
constexpr std::uint64_t kClientsMax = 120;
// Gap between two clients' arrivals.
constexpr sim::Nanoseconds kArrivalGapChoicesNs[] = {0, 0, 0, sim::kMillisecond};
// How long the endpoint's query holds its connection (thread side): one
// query, so the same for every request of a run.
constexpr sim::Nanoseconds kQueryChoicesNs[] = {sim::kMillisecond, 5 * sim::kMillisecond,
                                                20 * sim::kMillisecond};
// create_engine's pool_size and max_overflow: small pools for a small
// database, and SQLAlchemy's defaults (5, 10).
struct PoolSize {
  std::uint64_t pool_size = 5;
  std::int64_t max_overflow = 10;
};
constexpr PoolSize kPoolSizeChoices[] = {{1, 0}, {2, 0}, {5, 0}, {5, 10}};
// pool_timeout: None (forever) or SQLAlchemy's default.
constexpr sim::Nanoseconds kPoolTimeoutChoicesNs[] = {sim::kWaitForever, 30 * sim::kSecond};
// The service's latency objective for a request the client did not abandon.
constexpr sim::Nanoseconds kLatencyBudgetNs = 5 * sim::kSecond;

constexpr sim::Label kClientsLabel{"deadlock.clients", sim::Stream::clients};
constexpr sim::Label kArrivalLabel{"deadlock.arrival_gap", sim::Stream::clients};
constexpr sim::Label kQueryLabel{"deadlock.query", sim::Stream::other};
constexpr sim::Label kPoolSizeLabel{"deadlock.pool_size", sim::Stream::other};
constexpr sim::Label kPoolTimeoutLabel{"deadlock.pool_timeout", sim::Stream::other};

// sqlalchemy.orm.Session as the tutorial uses it: lazy, one connection from
// the first query until close().
struct Session {
  core::QueuePool* engine = nullptr;
  std::optional<core::ConnectionId> connection{};

  // session.execute(...): checks a connection out on first use (may wait,
  // may raise PoolTimeout), then runs the query.
  void execute(sim::Nanoseconds query_ns) {
    if (!connection) connection = engine->checkout();
    sim::thread_sleep(query_ns);
  }
  // session.close(): gives the connection back.
  void close() {
    if (!connection) return;
    engine->checkin(*connection);
    connection.reset();
  }
};
using SessionPtr = std::shared_ptr<Session>;

// The stack: uvicorn, one FastAPI route, anyio's thread pool, the DB pool.
struct Deployment {
  explicit Deployment(const Stack& stack) : to_thread({.wake_order = stack.limiter_wake_order}) {}
  core::AnyioToThread to_thread;
  std::unique_ptr<core::QueuePool> engine{};
  std::unique_ptr<core::Server> server{};
};

core::App items_route(Deployment& deployment, sim::Simulation& sim, const Stack& stack) {
  core::QueuePool* engine = deployment.engine.get();
  const sim::Nanoseconds query_ns = kQueryChoicesNs[sim.choose(kQueryLabel, std::size(kQueryChoicesNs))];
  auto get_db = core::Dependency::sync_yield(
      "get_db",
      [engine](core::Request&, core::Deps&) -> std::any {
        return std::make_shared<Session>(Session{engine});
      },
      [](std::any& db, std::exception_ptr) { std::any_cast<SessionPtr&>(db)->close(); });
  core::FastApiEndpoint endpoint{.function =
                                     [query_ns](core::Request&, core::Deps& deps) {
                                       deps.get<SessionPtr>("db")->execute(query_ns);
                                       return core::JSONResponse("[{\"id\":1}]");
                                     },
                                 .kind = core::EndpointKind::sync_def,
                                 .dependencies = {{.parameter = "db", .dependency = get_db}}};
  return core::fastapi_route(std::move(endpoint), {.threadpool = &deployment.to_thread,
                                                   .exit_behaviour = stack.yield_exit,
                                                   .exit_timing = stack.yield_exit_timing});
}

void spawn_clients(RunContext& run, const std::shared_ptr<Deployment>& deployment) {
  sim::Simulation& sim = run.sim;
  const std::uint64_t clients = 1 + sim.choose(kClientsLabel, kClientsMax);
  sim::Nanoseconds arrival_ns = 0;
  for (std::uint64_t i = 1; i <= clients; ++i) {
    sim.spawn(fmt::format("client {}", i), [&sim, &observer = run.observer, deployment, arrival_ns] {
      sim.sleep(arrival_ns);
      core::Client client(*deployment->server, observer);
      client.request(core::RequestSpec{.path = "/items"});
      client.close();
    });
    arrival_ns += kArrivalGapChoicesNs[sim.choose(kArrivalLabel, std::size(kArrivalGapChoicesNs))];
  }
}

class ThreadpoolDeadlock final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return kInfo; }

  void build(RunContext& run) const override {
    auto deployment = std::make_shared<Deployment>(run.stack);
    const sim::Nanoseconds pool_timeout_ns =
        kPoolTimeoutChoicesNs[run.sim.choose(kPoolTimeoutLabel, std::size(kPoolTimeoutChoicesNs))];
    const PoolSize size = kPoolSizeChoices[run.sim.choose(kPoolSizeLabel, std::size(kPoolSizeChoices))];
    deployment->engine =
        std::make_unique<core::QueuePool>(core::QueuePoolOptions{.pool_size = size.pool_size,
                                                                 .max_overflow = size.max_overflow,
                                                                 .timeout_ns = pool_timeout_ns,
                                                                 .name = "engine"});
    // The wait-for graph names the request a worker thread runs for as the
    // holder of its connection, so the cycle closes through the limiter.
    deployment->engine->set_holder_resolver(
        [to_thread = &deployment->to_thread](sim::TaskId thread) { return to_thread->caller_of(thread); });
    deployment->server = std::make_unique<core::Server>(
        run.sim, run.observer, items_route(*deployment, run.sim, run.stack), run.stack.server);
    spawn_clients(run, deployment);
    run.params.latency_budget_ns = kLatencyBudgetNs;
    // Cumulative figures only: after the run the blocked tasks are unwound.
    run.describe = [deployment, size, pool_timeout_ns] {
      const core::QueuePoolStats db = deployment->engine->stats();
      const core::PoolStats& threads = deployment->to_thread.stats();
      const std::string timeout = pool_timeout_ns == sim::kWaitForever
                                      ? std::string("None")
                                      : fmt::format("{} s", pool_timeout_ns / sim::kSecond);
      return fmt::format(
          "QueuePool(pool_size={}, max_overflow={}, timeout={}): {} checkouts, {} timed out, at most {} in "
          "use\n"
          "anyio thread limiter: {} tokens; threads: {} peak; calls: {} submitted, {} completed, at most {} "
          "at once\n",
          size.pool_size, size.max_overflow, timeout, db.checkouts, db.timeouts, db.checked_out_peak,
          deployment->to_thread.default_limiter().total_tokens(), threads.threads_peak,
          threads.calls_submitted, threads.calls_completed, threads.calls_running_peak);
    };
  }

 private:
  static inline const ScenarioInfo kInfo{
      .name = "threadpool-deadlock",
      .title = "sync yield dependencies hold limiter tokens while their release needs another token",
      .upstream = "tiangolo/fastapi#3205; fixed by PR #5122 (0.82.0)",
      .buggy = {.versions = {.starlette = "0.19.1", .fastapi = "0.81.0"},
                .summary = "FastAPI 0.81: sync yield exits run in the endpoints' 40-token limiter"},
      .fixed = {.versions = {.starlette = "0.19.1", .fastapi = "0.82.0"},
                .summary = "FastAPI 0.82: sync yield exits under their own one-token limiter"},
      .invariants = {"request-latency", "response-complete", "cleanup-runs"},
      .steps_max = 2'000'000,
      .time_max_ns = 600 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> catalogue::make_threadpool_deadlock() {
  return std::make_unique<ThreadpoolDeadlock>();
}

}  // namespace asgisim::scenarios
