// The per-run slots of the layers above the kernel (see extension.hpp).
#include "asgisim/sim/extension.hpp"

#include "asgisim/sim/errors.hpp"

namespace asgisim::sim {

void Simulation::set_extension_slot(const void* key, void* value) {
  if (key == nullptr) throw UsageError("an extension slot needs a key");
  ExtensionSlot* free_slot = nullptr;
  for (ExtensionSlot& slot : extensions_) {
    if (slot.key == key) {
      slot.value = value;
      return;
    }
    if (slot.key == nullptr && free_slot == nullptr) free_slot = &slot;
  }
  if (free_slot == nullptr) throw UsageError("every extension slot of the simulation is taken");
  *free_slot = ExtensionSlot{.key = key, .value = value};
}

}  // namespace asgisim::sim
