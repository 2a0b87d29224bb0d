// crashing-cli: the asgisim command line (asgisim::cli) over two scenarios of
// its own, registered only here, for cli_isolate_test:
//   crash-sometimes  each run draws its fate from the choice stream: on one
//                    seed in eight it writes through a null pointer (SIGSEGV),
//                    on one in eight it fails an ASGISIM_ASSERT (SIGABRT), on
//                    one in eight a task throws and nobody receives it (an
//                    invariant failure, exit 1); the others pass.
//   spin-forever     checkpoints forever under a step budget of 2^62: a run
//                    that ends only when it is abandoned.
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "asgisim/cli.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/simulation.hpp"

namespace {

using asgisim::scenarios::RunContext;
using asgisim::scenarios::Scenario;
using asgisim::scenarios::ScenarioInfo;
namespace sim = asgisim::sim;

class CrashSometimes final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    run.sim.spawn("fate", [] {
      static constexpr sim::Label kFate{"test.fate", sim::Stream::other};
      sim::sleep(sim::kMillisecond);
      switch (sim::choose(kFate, 8)) {
        case 0: {
          int* volatile nowhere = nullptr;
          *nowhere = 1;  // a segfault in the scenario's own code
          break;
        }
        case 1:
          ASGISIM_ASSERT(sim::now() < 0, "the scenario's own assertion fails");
          break;
        case 2:
          throw std::runtime_error("a task failed and nobody received its exception");
        default:
          break;
      }
    });
  }

 private:
  ScenarioInfo info_{.name = "crash-sometimes", .title = "test: crashes on some seeds", .invariants = {}};
};

class SpinForever final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    run.sim.spawn("spinner", [] {
      for (;;) sim::checkpoint();
    });
  }

 private:
  ScenarioInfo info_{.name = "spin-forever",
                     .title = "test: a run that never ends",
                     .invariants = {},
                     .steps_max = std::uint64_t{1} << 62};
};

}  // namespace

int main(int argc, char** argv) {
  asgisim::scenarios::Registry registry;
  registry.add(std::make_unique<CrashSometimes>());
  registry.add(std::make_unique<SpinForever>());
  return asgisim::cli::main(argc, argv, registry);
}
