// Typed per-run slots for the layers above the kernel: a layer keeps one
// pointer per Simulation under a type of its own (core keeps the run's
// Observer here, so every layer reaches it without a pointer field). The
// kernel never reads a slot and owns nothing in one; the pointee must
// outlive the Simulation's run. A lookup scans a handful of entries (no map,
// no allocation), cheap enough for every observation.
//
//   sim::set_extension<core::Observer>(sim, &observer);
//   core::Observer* observer = sim::extension<core::Observer>(sim);  // nullptr if unset
#pragma once

#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {

namespace detail {
// One object per type: its address is the type's key.
template <class T>
inline constexpr char extension_key = 0;
}  // namespace detail

template <class T>
T* extension(const Simulation& sim) {
  return static_cast<T*>(sim.extension_slot(&detail::extension_key<T>));
}

// Sets (or, with nullptr, clears) the slot of T. UsageError when every slot
// is taken by other types.
template <class T>
void set_extension(Simulation& sim, T* value) {
  sim.set_extension_slot(&detail::extension_key<T>, value);
}

}  // namespace asgisim::sim
