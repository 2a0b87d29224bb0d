// One fork per seed. The child ignores SIGINT and SIGTERM (a Ctrl-C reaches
// the whole process group; the parent decides whether a run finishes or is
// killed), keeps the crash handler that names its seed, writes one framed
// message and leaves with _exit (no destructors, no buffered output of the
// parent's flushed twice).
#include "isolation.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "outcome_codec.hpp"

namespace asgisim::cli {

namespace {

// What the child sends: a kind byte, then the outcome or a message.
enum class Kind : char { outcome = 'o', usage = 'u', error = 'e' };

constexpr int kPollMs = 50;  // how often the parent looks at the abandon flag

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t count = ::write(fd, bytes.data(), bytes.size());
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) ::_exit(71);  // the parent is gone or killed us
    bytes.remove_prefix(static_cast<std::size_t>(count));
  }
}

[[noreturn]] void child(int fd, const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                        std::uint64_t seed, scenarios::RunSettings settings) {
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  settings.abandon = nullptr;  // the parent kills the child instead
  std::string message;
  try {
    message = static_cast<char>(Kind::outcome) + encode_outcome(scenarios::run_seed(scenario, config, seed, settings));
  } catch (const scenarios::UsageError& error) {
    message = static_cast<char>(Kind::usage) + std::string(error.what());
  } catch (const std::exception& error) {
    message = static_cast<char>(Kind::error) + std::string(error.what());
  } catch (...) {
    message = static_cast<char>(Kind::error) + std::string("an exception that is not a std::exception");
  }
  write_all(fd, message);
  ::close(fd);
  ::_exit(0);
}

std::string signal_text(int signal) {
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
      return fmt::format("signal {}", signal);
  }
}

// How a child that sent no complete message ended.
std::string death(int status) {
  if (WIFSIGNALED(status)) return "crashed with " + signal_text(WTERMSIG(status));
  return fmt::format("exited with status {} without a result", WEXITSTATUS(status));
}

}  // namespace

scenarios::RunOutcome run_seed_isolated(const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                                        std::uint64_t seed, const scenarios::RunSettings& settings) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(fmt::format("--isolate: pipe: {}", std::strerror(errno)));  // NOLINT(concurrency-mt-unsafe)
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(fmt::format("--isolate: fork: {}", std::strerror(error)));  // NOLINT(concurrency-mt-unsafe)
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1], scenario, config, seed, settings);
  }
  ::close(fds[1]);
  std::string received;
  char buffer[65536];
  bool abandoned = false;
  for (;;) {
    if (settings.abandon != nullptr && settings.abandon->load()) {
      ::kill(pid, SIGKILL);
      abandoned = true;
      break;
    }
    pollfd ready{.fd = fds[0], .events = POLLIN, .revents = 0};
    const int polled = ::poll(&ready, 1, kPollMs);
    if (polled < 0 && errno != EINTR) break;
    if (polled <= 0) continue;
    const ssize_t count = ::read(fds[0], buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) break;
    received.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (abandoned) throw scenarios::RunAbandoned();
  const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (received.empty() || !clean_exit) throw scenarios::SeedCrashed(seed, death(status));
  const std::string_view body = std::string_view(received).substr(1);
  switch (static_cast<Kind>(received.front())) {
    case Kind::outcome:
      return decode_outcome(body);
    case Kind::usage:
      throw scenarios::UsageError(std::string(body));
    case Kind::error:
      break;
  }
  throw std::runtime_error(std::string(body));
}

}  // namespace asgisim::cli
