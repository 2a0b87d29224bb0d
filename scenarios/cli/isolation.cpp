// The fork server: forked when the pool is made, it serves two requests on
// its socket, 'f' (fork a worker; answer its pid and pass the parent's end
// of the worker's socket with SCM_RIGHTS) and 'w' + pid (wait for that
// worker; answer the wait status), and leaves on EOF (the pool closed or the
// command died). Workers are its children; each watches it as its parent.
//
// A worker's loop: read a request (the seed and whether to keep the trace),
// run the seed as a one-seed sweep (so the crash handler names the seed it is
// running), answer with a framed message, repeat; leave on EOF or when the
// parent is gone. A worker ignores SIGINT and SIGTERM (a Ctrl-C reaches the
// whole process group; the parent decides whether a run finishes or is
// killed) and leaves with _exit (no destructors, no buffered output of the
// parent's written twice).
#include "isolation.hpp"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "interruption.hpp"
#include "outcome_codec.hpp"

namespace asgisim::cli {

namespace {

// What a worker answers: a kind byte, then the outcome or a message.
enum class Kind : char { outcome = 'o', usage = 'u', seed_error = 's', error = 'e' };

constexpr int kPollMs = 50;              // how often the parent looks at the abandon flag
constexpr int kParentCheckMs = 1'000;    // how often an idle worker checks its parent lives
constexpr std::size_t kRequestSize = 9;  // the seed (8 bytes) and keep_trace (1)

void put_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t get_u64(const char* in) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t count = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(count));
  }
  return true;
}

// The one-seed sweep a worker runs for a request.
std::string serve_one(const scenarios::Scenario& scenario, scenarios::ConfigKind config, std::uint64_t seed,
                      const scenarios::RunSettings& settings) {
  scenarios::SweepOptions one;
  one.seeds = 1;
  one.seed_base = seed;
  one.jobs = 1;
  try {
    scenarios::SweepResult result = scenarios::sweep(scenario, config, settings, one);
    scenarios::RunOutcome outcome;
    if (result.first_failure) {
      outcome = std::move(*result.first_failure);
    } else {
      outcome.scenario = scenario.info().name;
      outcome.config = config;
      outcome.seed = seed;
    }
    return static_cast<char>(Kind::outcome) + encode_outcome(outcome);
  } catch (const scenarios::UsageError& error) {
    return static_cast<char>(Kind::usage) + std::string(error.what());
  } catch (const scenarios::SeedError& error) {
    return static_cast<char>(Kind::seed_error) + std::string(error.what());
  } catch (const std::exception& error) {
    return static_cast<char>(Kind::error) + std::string(error.what());
  }
}

[[noreturn]] void serve(int fd, pid_t parent, const scenarios::Scenario& scenario,
                        scenarios::ConfigKind config, scenarios::RunSettings settings) {
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  settings.abandon = nullptr;  // the parent kills the worker instead
  for (;;) {
    char request[kRequestSize];
    std::size_t have = 0;
    while (have < kRequestSize) {
      pollfd ready{.fd = fd, .events = POLLIN, .revents = 0};
      const int polled = ::poll(&ready, 1, kParentCheckMs);
      if (polled == 0 && ::getppid() != parent) ::_exit(0);
      if (polled <= 0) continue;
      const ssize_t count = ::read(fd, request + have, kRequestSize - have);
      if (count < 0 && errno == EINTR) continue;
      if (count <= 0) ::_exit(0);  // the pool closed: no more seeds
      have += static_cast<std::size_t>(count);
    }
    settings.keep_trace = request[8] != 0;
    const std::string body = serve_one(scenario, config, get_u64(request), settings);
    std::string message;
    put_u64(message, body.size());
    message += body;
    if (!send_all(fd, message)) ::_exit(0);
  }
}

// How a worker that sent no complete answer ended.
std::string death(int status) {
  if (WIFSIGNALED(status)) {
    const std::string name = fatal_signal_name(WTERMSIG(status));
    return "crashed with " + (name == "a fatal signal" ? fmt::format("signal {}", WTERMSIG(status)) : name);
  }
  return fmt::format("exited with status {} without a result", WEXITSTATUS(status));
}

std::string system_error(std::string_view what) {
  return fmt::format("--isolate: {}: {}", what, std::strerror(errno));  // NOLINT(concurrency-mt-unsafe): CLI
}

// In a child just forked: killed (SIGKILL) when `parent` dies, and gone at
// once if it already has. A worker in the middle of a run never looks at its
// parent, so without this a command killed with SIGKILL left its workers
// running (a run that spins forever: for ever).
void die_with(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(0);
}

bool read_all(int fd, char* out, std::size_t size) {
  std::size_t have = 0;
  while (have < size) {
    const ssize_t count = ::read(fd, out + have, size - have);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return false;
    have += static_cast<std::size_t>(count);
  }
  return true;
}

// One 8-byte value and room for one passed fd (SCM_RIGHTS): the message
// send_with_fd sends and receive_with_fd receives.
struct FdMessage {
  char bytes[8] = {};
  iovec data{.iov_base = bytes, .iov_len = sizeof bytes};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  FdMessage() {
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

// Sends 8 bytes and, with them, `fd` when it is one (an answer of "no
// worker" carries none: sendmsg refuses to pass -1).
bool send_with_fd(int socket, std::uint64_t value, int fd) {
  FdMessage out;
  std::string bytes;
  put_u64(bytes, value);
  std::memcpy(out.bytes, bytes.data(), sizeof out.bytes);
  if (fd < 0) {
    out.message.msg_control = nullptr;
    out.message.msg_controllen = 0;
  } else {
    cmsghdr* header = CMSG_FIRSTHDR(&out.message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  }
  for (;;) {
    const ssize_t sent = ::sendmsg(socket, &out.message, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    return sent == static_cast<ssize_t>(sizeof out.bytes);
  }
}

// Receives what send_with_fd sent: the value and the fd (-1 when none came).
bool receive_with_fd(int socket, std::uint64_t& value, int& fd) {
  FdMessage in;
  msghdr& message = in.message;
  char(&bytes)[8] = in.bytes;
  ssize_t received = 0;
  do {
    received = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received != static_cast<ssize_t>(sizeof bytes)) return false;
  value = get_u64(bytes);
  fd = -1;
  const cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header != nullptr && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS)
    std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
  return true;
}

[[noreturn]] void fork_server(int control, const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                              const scenarios::RunSettings& settings) {
  std::signal(SIGINT, SIG_IGN);  // as a worker: the command decides
  std::signal(SIGTERM, SIG_IGN);
  const pid_t self = ::getpid();  // nondeterminism-ok: the workers' parent, outside any run
  for (;;) {
    char command = 0;
    if (!read_all(control, &command, 1)) ::_exit(0);  // the pool closed, or the command died
    if (command == 'w') {
      char pid_bytes[8];
      if (!read_all(control, pid_bytes, sizeof pid_bytes)) ::_exit(0);
      int status = 0;
      const auto pid = static_cast<pid_t>(get_u64(pid_bytes));
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      std::string answer;
      put_u64(answer, static_cast<std::uint32_t>(status));
      if (!send_all(control, answer)) ::_exit(0);
      continue;
    }
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      if (!send_with_fd(control, std::uint64_t{0}, -1)) ::_exit(0);
      continue;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      die_with(self);
      ::close(control);
      ::close(fds[0]);
      serve(fds[1], self, scenario, config, settings);
    }
    ::close(fds[1]);
    const bool sent = pid > 0 ? send_with_fd(control, static_cast<std::uint64_t>(pid), fds[0])
                              : send_with_fd(control, std::uint64_t{0}, -1);
    ::close(fds[0]);
    if (!sent) ::_exit(0);
  }
}

}  // namespace

WorkerPool::WorkerPool(const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                       const scenarios::RunSettings& settings)
    : scenario_(scenario), config_(config), settings_(settings) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::runtime_error(system_error("socketpair"));
  const pid_t command = ::getpid();  // nondeterminism-ok: the server's parent, outside any run
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(system_error("fork"));
  }
  if (pid == 0) {
    die_with(command);
    ::close(fds[0]);
    fork_server(fds[1], scenario_, config_, settings_);
  }
  ::close(fds[1]);
  server_pid_ = pid;
  server_fd_ = fds[0];
}

WorkerPool::~WorkerPool() {
  for (const Worker& worker : idle_) retire(worker, true);
  ::close(server_fd_);  // the server leaves on EOF
  while (::waitpid(server_pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

WorkerPool::Worker WorkerPool::fork_worker() {
  std::lock_guard lock(server_mutex_);
  std::uint64_t pid = 0;
  int fd = -1;
  if (!send_all(server_fd_, "f") || !receive_with_fd(server_fd_, pid, fd))
    throw std::runtime_error("--isolate: the fork server is gone");
  if (pid == 0 || fd < 0) throw std::runtime_error("--isolate: the fork server could not start a worker");
  return Worker{.pid = static_cast<pid_t>(pid), .fd = fd};
}

int WorkerPool::wait_worker(pid_t pid) {
  std::lock_guard lock(server_mutex_);
  std::string request = "w";
  put_u64(request, static_cast<std::uint64_t>(pid));
  char answer[8];
  if (!send_all(server_fd_, request) || !read_all(server_fd_, answer, sizeof answer)) return 0;
  return static_cast<int>(get_u64(answer));
}

WorkerPool::Worker WorkerPool::start() { return fork_worker(); }

int WorkerPool::reap(Worker worker) {
  ::close(worker.fd);
  return wait_worker(worker.pid);
}

void WorkerPool::retire(Worker worker, bool kill) {
  if (kill) ::kill(worker.pid, SIGKILL);
  reap(worker);
}

scenarios::RunOutcome WorkerPool::run(std::uint64_t seed, const scenarios::RunSettings& settings) {
  Worker worker;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      worker = idle_.back();
      idle_.pop_back();
    }
  }
  if (worker.pid < 0) worker = start();
  std::string request;
  put_u64(request, seed);
  request.push_back(settings.keep_trace ? 1 : 0);
  bool sent = send_all(worker.fd, request);
  if (!sent) {
    // An idle worker that died (killed from outside): the seed goes to a new one.
    reap(worker);
    worker = start();
    sent = send_all(worker.fd, request);
  }
  std::string received;
  std::optional<std::uint64_t> size;
  if (sent) {
    char buffer[65536];
    for (;;) {
      if (settings.abandon != nullptr && settings.abandon->load()) {
        retire(worker, true);
        throw scenarios::RunAbandoned();
      }
      if (!size && received.size() >= 8) size = get_u64(received.data());
      if (size && received.size() >= 8 + *size) break;
      pollfd ready{.fd = worker.fd, .events = POLLIN, .revents = 0};
      const int polled = ::poll(&ready, 1, kPollMs);
      if (polled < 0 && errno != EINTR) break;
      if (polled <= 0) continue;
      const ssize_t count = ::read(worker.fd, buffer, sizeof buffer);
      if (count < 0 && errno == EINTR) continue;
      if (count <= 0) break;
      received.append(buffer, static_cast<std::size_t>(count));
    }
  }
  if (!size || received.size() < 8 + *size || *size == 0) {
    const int status = reap(worker);  // it died (or cannot be talked to): the next seed gets a new one
    throw scenarios::SeedCrashed(seed, death(status));
  }
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(worker);
  }
  const std::string_view body = std::string_view(received).substr(9, *size - 1);
  switch (static_cast<Kind>(received[8])) {
    case Kind::outcome:
      return decode_outcome(body);
    case Kind::usage:
      throw scenarios::UsageError(std::string(body));
    case Kind::seed_error:
      throw scenarios::SeedError(seed, std::string(body));
    case Kind::error:
      break;
  }
  throw std::runtime_error(std::string(body));
}

}  // namespace asgisim::cli
