// Temporary file + fsync + rename, with POSIX calls so every failure
// (ENOSPC, EFBIG, EROFS, ENOENT) is seen and named.
#include "atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

namespace asgisim::cli {

namespace {

std::string reason(int error) { return std::strerror(error); }  // NOLINT(concurrency-mt-unsafe): CLI only

// Removes the temporary file when the write did not finish.
struct Temporary {
  std::filesystem::path path;
  int fd = -1;
  bool done = false;
  ~Temporary() {
    if (fd >= 0) ::close(fd);
    if (!done) ::unlink(path.c_str());
  }
};

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  // The pid only keeps two processes' temporary file names apart; no run sees it.
  const int process = ::getpid();  // nondeterminism-ok: a file name, outside any run
  Temporary temporary{directory /
                      fmt::format("{}{}-{}", kTemporaryPrefix, process, path.filename().string())};
  const auto fail = [&](int error) {
    return OutputError(fmt::format("cannot write '{}': {}", path.string(), reason(error)));
  };
  temporary.fd = ::open(temporary.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (temporary.fd < 0) throw fail(errno);
  // A write past `ulimit -f` raises SIGXFSZ, whose default ends the process:
  // ignore it so the write fails with EFBIG and is reported instead.
  static const bool file_size_signal_ignored = [] {
    std::signal(SIGXFSZ, SIG_IGN);
    return true;
  }();
  static_cast<void>(file_size_signal_ignored);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t count = ::write(temporary.fd, text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) throw fail(count < 0 ? errno : ENOSPC);
    written += static_cast<std::size_t>(count);
  }
  if (::fsync(temporary.fd) != 0) throw fail(errno);
  const int fd = temporary.fd;
  temporary.fd = -1;
  if (::close(fd) != 0) throw fail(errno);
  if (::rename(temporary.path.c_str(), path.c_str()) != 0) throw fail(errno);
  temporary.done = true;
}

}  // namespace asgisim::cli
