// The signal handlers only store to lock-free atomics and write(2) fixed
// text: everything else (stopping, abandoning, reporting) happens on the
// sweep's threads, which poll the flags between seeds and, in the kernel,
// between steps.
#include "interruption.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <iterator>

#include "asgisim/scenarios/engine.hpp"

namespace asgisim::cli {

namespace {

std::atomic<int> g_first_signal{0};
std::atomic<bool> g_stop{false};
std::atomic<bool> g_abandon{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

void write_text(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  static_cast<void>(ignored);
}

void on_interrupt(int signal) {
  int expected = 0;
  if (g_first_signal.compare_exchange_strong(expected, signal)) {
    g_stop.store(true);
    write_text(
        "\nasgisim: interrupted: no new seeds; the runs in flight get a moment to finish (a second signal "
        "abandons them), then the reports are written\n");
    return;
  }
  g_abandon.store(true);
  write_text("\nasgisim: second signal: abandoning the runs in flight\n");
}

// ---- crash reports --------------------------------------------------------------------

constexpr std::size_t kCrashTextMax = 2048;
char g_crash_sweep[kCrashTextMax] = {};
char g_crash_before[kCrashTextMax] = {};
char g_crash_after[kCrashTextMax] = {};
std::atomic<bool> g_crash_ready{false};

void copy_text(char (&to)[kCrashTextMax], std::string_view from) {
  const std::size_t size = std::min(from.size(), kCrashTextMax - 1);
  std::memcpy(to, from.data(), size);
  to[size] = '\0';
}

// Decimal digits of `value` into `out` (at least 21 chars).
void format_unsigned(std::uint64_t value, char* out) {
  char digits[21];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (std::size_t i = 0; i < count; ++i) out[i] = digits[count - 1 - i];
  out[count] = '\0';
}

}  // namespace

const char* fatal_signal_name(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGKILL:
      return "SIGKILL";
    default:
      return "a fatal signal";
  }
}

namespace {

// Under AddressSanitizer its own handler reports a crash better than this one.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerHandlesCrashes = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerHandlesCrashes = true;
#else
constexpr bool kSanitizerHandlesCrashes = false;
#endif
#else
constexpr bool kSanitizerHandlesCrashes = false;
#endif

constexpr int kFatalSignals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
struct sigaction g_previous_fatal[std::size(kFatalSignals)] = {};

void on_fatal(int signal, siginfo_t* info, void* context) {
  std::uint64_t seed = 0;
  if (g_crash_ready.load() && scenarios::running_seed(seed)) {
    char number[24];
    format_unsigned(seed, number);
    write_text("\nasgisim: crashed with ");
    write_text(fatal_signal_name(signal));
    write_text(" while running seed ");
    write_text(number);
    write_text(" of ");
    write_text(g_crash_sweep);
    write_text(
        ": a bug in asgisim or in the scenario's code, not a finding of the simulation. Reproduce with:\n");
    write_text(g_crash_before);
    write_text(" --seed ");
    write_text(number);
    write_text(g_crash_after);
    write_text("\n");
  }
  // The handler this one replaced (the kernel's stack-overflow report) has
  // its say, then the default action (a core dump, the status a parent
  // sees): pending now, delivered when this handler returns.
  for (std::size_t i = 0; i < std::size(kFatalSignals); ++i) {
    if (kFatalSignals[i] != signal) continue;
    const struct sigaction& previous = g_previous_fatal[i];
    if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction != nullptr) {
      previous.sa_sigaction(signal, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
               previous.sa_handler != nullptr) {
      previous.sa_handler(signal);
    }
  }
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(signal, &fallback, nullptr);
  ::raise(signal);
}

// Puts on_fatal first for every fatal signal, keeping what it replaces.
void install_fatal_handlers() {
  if (kSanitizerHandlesCrashes) return;
  for (std::size_t i = 0; i < std::size(kFatalSignals); ++i) {
    struct sigaction current {};
    sigaction(kFatalSignals[i], nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == on_fatal) continue;
    struct sigaction action {};
    action.sa_sigaction = on_fatal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;  // the kernel's alternate stack, for a stack overflow
    sigaction(kFatalSignals[i], &action, &g_previous_fatal[i]);
  }
}

}  // namespace

Interruption::Interruption(std::chrono::milliseconds grace) : grace_(grace) {
  g_first_signal = 0;
  g_stop = false;
  g_abandon = false;
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
  watchdog_ = std::thread([this] { watch(); });
  // Back only once the watchdog thread sleeps in its loop: a process forked
  // while a new thread is still starting (--isolate's fork server) can copy a
  // lock the thread holds there (AddressSanitizer's allocator: the workers
  // of such a server hung at their first allocation).
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return watching_; });
}

Interruption::~Interruption() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  watchdog_.join();
  // Once interrupted, the process is on its way out: a late second signal
  // (the sweep stopped before it came) must not kill it before it exits
  // with the code its reports name, so the handlers stay.
  if (g_first_signal.load() != 0) return;
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

const std::atomic<bool>& Interruption::stop_flag() const { return g_stop; }
const std::atomic<bool>& Interruption::abandon_flag() const { return g_abandon; }
int Interruption::signal() const { return g_first_signal.load(); }

std::string_view Interruption::signal_name(int signal) {
  return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal";
}

void Interruption::watch() {
  // nondeterminism-ok: the grace period is wall-clock time outside any run
  constexpr auto kPoll = std::chrono::milliseconds(50);
  std::unique_lock lock(mutex_);
  watching_ = true;
  wake_.notify_all();
  while (!closing_ && !g_stop.load()) wake_.wait_for(lock, kPoll);
  const auto deadline = std::chrono::steady_clock::now() + grace_;  // nondeterminism-ok: grace period
  while (!closing_ && !g_abandon.load()) {
    if (std::chrono::steady_clock::now() >= deadline) {  // nondeterminism-ok: grace period
      g_abandon.store(true);
      break;
    }
    wake_.wait_for(lock, kPoll);
  }
}

void set_crash_context(std::string_view sweep, std::string_view reproduce_before_seed,
                       std::string_view reproduce_after_seed) {
  g_crash_ready.store(false);
  copy_text(g_crash_sweep, sweep);
  copy_text(g_crash_before, reproduce_before_seed);
  copy_text(g_crash_after, reproduce_after_seed);
  g_crash_ready.store(true);
  install_fatal_handlers();
}

void keep_crash_handlers_first() { install_fatal_handlers(); }

}  // namespace asgisim::cli
