// Private helpers that tell AddressSanitizer about fiber stack switches. They
// compile to nothing unless the build is instrumented with ASan.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define ASGISIM_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASGISIM_HAS_ASAN 1
#endif
#endif

#if defined(ASGISIM_HAS_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace asgisim::sim::detail {

inline void asan_start_switch(void** fake_stack_save, const void* bottom, std::size_t size) {
#if defined(ASGISIM_HAS_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

inline void asan_finish_switch(void* fake_stack_save, const void** bottom_old, std::size_t* size_old) {
#if defined(ASGISIM_HAS_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}

inline void asan_unpoison(void* begin, std::size_t size) {
#if defined(ASGISIM_HAS_ASAN)
  __asan_unpoison_memory_region(begin, size);
#else
  (void)begin, (void)size;
#endif
}

inline constexpr bool kAsan =
#if defined(ASGISIM_HAS_ASAN)
    true;
#else
    false;
#endif

}  // namespace asgisim::sim::detail
