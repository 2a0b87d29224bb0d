// Per-run state that a layer built on the kernel attaches to a Simulation
// (Simulation::extension<T>()): core's anyio scope registry, a run's
// observer. Such state must not live in a global or a thread_local: it would
// outlive the run and carry over into the next seed run on the same thread.
//
//   struct MyRegistry { std::map<ObjectId, int> entries; };
//   auto& registry = Simulation::current().extension<MyRegistry>();
//
// One object of each type T, value-initialised on first use, owned by the
// Simulation and destroyed with it, in reverse order of first use, after the
// run's remaining tasks have been unwound (while the Simulation is still
// whole). Types are told apart by the address of a per-type tag, compared
// for equality only: no hashing and no ordering, so nothing depends on
// addresses or on the order the process first used the types.
#pragma once

#include <memory>
#include <utility>
#include <vector>

namespace asgisim::sim {

class Extensions {
 public:
  Extensions() = default;
  Extensions(const Extensions&) = delete;
  Extensions& operator=(const Extensions&) = delete;
  ~Extensions() { clear(); }

  // The T attached so far, value-initialised on first use.
  template <class T>
  T& get() {
    if (T* found = find<T>()) return *found;
    auto holder = std::make_unique<Holder<T>>();
    T& value = holder->value;
    entries_.push_back(Entry{&Tag<T>::id, std::move(holder)});
    return value;
  }

  // The T attached so far, or nullptr.
  template <class T>
  T* find() {
    // A run uses a handful of types: a linear search beats any map.
    for (Entry& entry : entries_) {
      if (entry.tag == &Tag<T>::id) return &static_cast<Holder<T>&>(*entry.holder).value;
    }
    return nullptr;
  }

  // Destroys every object, the last attached first.
  void clear() {
    while (!entries_.empty()) {
      std::unique_ptr<HolderBase> last = std::move(entries_.back().holder);
      entries_.pop_back();
      last.reset();  // may still look up the objects attached before it
    }
  }

 private:
  template <class T>
  struct Tag {
    static constexpr char id = 0;
  };
  struct HolderBase {
    virtual ~HolderBase() = default;
  };
  template <class T>
  struct Holder final : HolderBase {
    T value{};
  };
  struct Entry {
    const void* tag;
    std::unique_ptr<HolderBase> holder;
  };

  std::vector<Entry> entries_;
};

}  // namespace asgisim::sim
