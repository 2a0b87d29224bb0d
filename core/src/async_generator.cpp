// Async generators with a `finally` (async_generator.hpp): the generator's
// states, asyncio's finalizer hook, and asyncio.run's end (the cancellation of
// pending tasks, then shutdown_asyncgens).
#include "asgisim/core/async_generator.hpp"

#include <boost/context/fiber.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "asgisim/sim/detail/runtime_hooks.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

std::string_view to_string(GeneratorExitKind kind) {
  switch (kind) {
    case GeneratorExitKind::exhausted:
      return "exhausted";
    case GeneratorExitKind::raised:
      return "raised";
    case GeneratorExitKind::closed:
      return "GeneratorExit";
  }
  return "?";
}

std::string_view to_string(GeneratorCloser closer) {
  switch (closer) {
    case GeneratorCloser::iterating_task:
      return "inline";
    case GeneratorCloser::finalizer:
      return "finalizer";
    case GeneratorCloser::loop_shutdown:
      return "shutdown";
  }
  return "?";
}

namespace {

// The `finally` and what it reports, kept apart from the generator's state
// so that the finalizer can take it over when the state goes.
struct Cleanup {
  GeneratorFinally finally;
  AsyncGeneratorOptions options;

  void run(const GeneratorClose& close) const {
    std::string detail(to_string(close.kind));
    if (close.error) detail += ": " + sim::describe(close.error);
    observe({.kind = ObservationKind::iterator_closed,
             .request = options.request,
             .layer = options.name,
             .detail = std::move(detail),
             .value = static_cast<std::uint64_t>(close.by),
             .reporter = Reporter::endpoint});
    if (finally) finally(close);
  }

  // A close outside the iterating task (the finalizer's aclose() task, the
  // loop's shutdown): an exception from the `finally` goes to the loop's
  // exception handler, which logs it ("an error occurred during closing of
  // asynchronous generator"); here it is observed as error_raised.
  void run_detached(const GeneratorClose& close) const {
    try {
      run(close);
    } catch (const sim::TaskUnwound&) {
      throw;
    } catch (const boost::context::detail::forced_unwind&) {
      throw;
    } catch (...) {
      observe({.kind = ObservationKind::error_raised,
               .request = options.request,
               .layer = options.name,
               .detail = "in its finally, closed by " + std::string(to_string(close.by)) + ": " +
                         sim::describe(std::current_exception()),
               .reporter = Reporter::endpoint});
    }
  }
};

enum class Phase : std::uint8_t {
  not_started,  // no __anext__ yet: its `try` was never entered
  running,      // inside __anext__
  suspended,    // at a yield
  finished,     // its `finally` ran (or the run is being torn down)
};

// A close asyncio's finalizer hook scheduled: the aclose() task runs it, or,
// when the loop shuts down first, asyncio.run's cancellation of that task.
struct FinalizerClose {
  BodyIterator body;  // the frame lives until the close
  std::shared_ptr<Cleanup> cleanup;
  bool done = false;

  void run(GeneratorClose close) {
    if (done) return;
    done = true;
    cleanup->run_detached(close);
  }
};

struct GeneratorState;

// loop._asyncgens, what keeps abandoned generators alive, and the closes the
// finalizer hook scheduled, per run.
struct AsyncGeneratorRegistry {
  struct Held {
    sim::TaskId task;  // the task whose exception holds it
    std::shared_ptr<GeneratorState> state;
  };
  std::vector<std::weak_ptr<GeneratorState>> started;       // in first-iteration order
  std::vector<std::shared_ptr<GeneratorState>> in_cycles;   // until the loop shuts down
  std::vector<Held> held;                                   // until the exception is handled
  std::vector<std::shared_ptr<FinalizerClose>> finalizing;  // aclose() tasks not yet finished
  bool shutdown_registered = false;
};

struct GeneratorState {
  BodyIterator body;
  std::shared_ptr<Cleanup> cleanup;
  Phase phase = Phase::not_started;
  bool abandoned = false;  // held by the registry for an exception (in_cycles or held)

  GeneratorState(BodyIterator body_in, std::shared_ptr<Cleanup> cleanup_in)
      : body(std::move(body_in)), cleanup(std::move(cleanup_in)) {}
  GeneratorState(const GeneratorState&) = delete;
  GeneratorState& operator=(const GeneratorState&) = delete;
  // The last reference went: asyncio's finalizer hook, if it is at a yield.
  ~GeneratorState();

  void close(GeneratorClose close) {
    phase = Phase::finished;
    cleanup->run(close);
  }
};

// asyncio.run's end: the tasks still pending are cancelled (an aclose() task
// the finalizer hook made and that has not run: CancelledError at the yield),
// then shutdown_asyncgens: aclose() every generator still suspended.
void shutdown_asyncgens(AsyncGeneratorRegistry& registry) {
  registry.shutdown_registered = false;
  std::vector<std::shared_ptr<FinalizerClose>> finalizing;
  finalizing.swap(registry.finalizing);
  for (const std::shared_ptr<FinalizerClose>& close : finalizing) {
    close->run({.kind = GeneratorExitKind::raised,
                .by = GeneratorCloser::finalizer,
                .error = std::make_exception_ptr(sim::Cancelled())});
  }
  for (std::size_t i = 0; i < registry.started.size(); ++i) {  // a `finally` may start another
    const std::shared_ptr<GeneratorState> state = registry.started[i].lock();
    if (state && state->phase == Phase::suspended) {
      state->phase = Phase::finished;
      state->cleanup->run_detached({.kind = GeneratorExitKind::closed, .by = GeneratorCloser::loop_shutdown});
    }
  }
  registry.started.clear();
  registry.in_cycles.clear();
  registry.held.clear();
}

// The firstiter hook: loop._asyncgens.add(agen).
void first_iteration(const std::shared_ptr<GeneratorState>& state) {
  sim::Simulation* sim = sim::Simulation::current_or_null();
  if (sim == nullptr) return;
  AsyncGeneratorRegistry& registry = sim->extension<AsyncGeneratorRegistry>();
  registry.started.push_back(state);
  if (!registry.shutdown_registered) {
    registry.shutdown_registered = true;
    sim->runtime_hooks().at_loop_shutdown([&registry] { shutdown_asyncgens(registry); });
  }
}

GeneratorState::~GeneratorState() {
  if (phase != Phase::suspended) return;
  sim::Simulation* sim = sim::Simulation::current_or_null();
  if (sim == nullptr || sim->runtime_hooks().tearing_down()) return;  // the loop is gone: never
  // call_soon_threadsafe(create_task, agen.aclose()): one pass to create the
  // task, whose first step throws GeneratorExit in at the yield. The task
  // does not keep the loop running (asyncio.run waits for its main task
  // only); the frame (here: the body) lives until the close.
  auto close = std::make_shared<FinalizerClose>(FinalizerClose{std::move(body), std::move(cleanup)});
  sim->extension<AsyncGeneratorRegistry>().finalizing.push_back(close);
  std::string task_name = close->cleanup->options.name + ".aclose";
  sim->spawn(std::move(task_name),
             [close] {
               sim::Simulation::current().cancel_shielded_checkpoint();
               close->run({.kind = GeneratorExitKind::closed, .by = GeneratorCloser::finalizer});
               auto& finalizing = sim::Simulation::current().extension<AsyncGeneratorRegistry>().finalizing;
               finalizing.erase(std::remove(finalizing.begin(), finalizing.end(), close), finalizing.end());
             },
             {.daemon = true});
}

class AsyncGeneratorIterator {
 public:
  explicit AsyncGeneratorIterator(std::shared_ptr<GeneratorState> state) : state_(std::move(state)) {}

  std::optional<Bytes> operator()() const {
    GeneratorState& state = *state_;
    switch (state.phase) {
      case Phase::finished:
        return std::nullopt;  // StopAsyncIteration, again
      case Phase::running:
        throw std::logic_error("anext(): asynchronous generator is already running");
      case Phase::not_started:
        first_iteration(state_);
        break;
      case Phase::suspended:
        if (state.abandoned) resumed_after_abandon();
        break;
    }
    state.phase = Phase::running;
    std::optional<Bytes> chunk;
    try {
      chunk = state.body();
    } catch (const sim::TaskUnwound&) {
      state.phase = Phase::finished;  // the run is being torn down: nothing runs
      throw;
    } catch (const boost::context::detail::forced_unwind&) {
      state.phase = Phase::finished;
      throw;
    } catch (...) {
      state.close({.kind = GeneratorExitKind::raised, .error = std::current_exception()});
      throw;
    }
    if (!chunk) {
      state.close({.kind = GeneratorExitKind::exhausted});
      return std::nullopt;
    }
    state.phase = Phase::suspended;
    return chunk;
  }

  void abandon() const {
    GeneratorState& state = *state_;
    if (state.phase != Phase::suspended || state.abandoned) return;
    sim::Simulation* sim = sim::Simulation::current_or_null();
    if (sim == nullptr) return;
    state.abandoned = true;
    AsyncGeneratorRegistry& registry = sim->extension<AsyncGeneratorRegistry>();
    if (sim->runtime_hooks().inside_task_group()) {
      registry.in_cycles.push_back(state_);
    } else {
      registry.held.push_back({sim->current_task().id(), state_});
    }
  }

 private:
  // Iterated again after all (the exception was caught): its references are
  // ordinary ones again.
  void resumed_after_abandon() const {
    state_->abandoned = false;
    sim::Simulation* sim = sim::Simulation::current_or_null();
    if (sim == nullptr) return;
    AsyncGeneratorRegistry& registry = sim->extension<AsyncGeneratorRegistry>();
    std::erase(registry.in_cycles, state_);
    std::erase_if(registry.held,
                  [this](const AsyncGeneratorRegistry::Held& held) { return held.state == state_; });
  }

  std::shared_ptr<GeneratorState> state_;
};

}  // namespace

BodyIterator async_generator(BodyIterator body, GeneratorFinally finally, AsyncGeneratorOptions options) {
  if (!body) throw std::invalid_argument("async_generator needs a body");
  auto cleanup = std::make_shared<Cleanup>(Cleanup{std::move(finally), std::move(options)});
  return AsyncGeneratorIterator(std::make_shared<GeneratorState>(std::move(body), std::move(cleanup)));
}

void abandoned_by_exception(const BodyIterator& iterator) {
  if (const auto* generator = iterator.target<AsyncGeneratorIterator>()) generator->abandon();
}

void exception_handled() {
  sim::Simulation* sim = sim::Simulation::current_or_null();
  if (sim == nullptr) return;
  AsyncGeneratorRegistry* registry = sim->find_extension<AsyncGeneratorRegistry>();
  if (registry == nullptr || registry->held.empty()) return;
  const sim::TaskId task = sim->current_task().id();
  std::vector<std::shared_ptr<GeneratorState>> released;
  std::erase_if(registry->held, [&](AsyncGeneratorRegistry::Held& held) {
    if (held.task != task) return false;
    released.push_back(std::move(held.state));
    return true;
  });
  for (std::shared_ptr<GeneratorState>& state : released) {
    state->abandoned = false;
    state.reset();  // the last reference, unless the app kept one: the finalizer hook
  }
}

}  // namespace asgisim::core
