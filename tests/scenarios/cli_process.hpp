// A running asgisim child process for the tests that signal, limit or kill
// it: started with fork/exec (so a resource limit can be set in the child),
// stdout and stderr captured through files, waited for with a timeout.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asgisim::testing_cli {

namespace fs = std::filesystem;

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::vector<std::string> text_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The fields of /proc/PID/stat after "pid (comm)": state, ppid, ... (empty
// when the process is gone).
inline std::vector<std::string> proc_stat(const fs::path& stat_file) {
  const std::string stat = read_text(stat_file);
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

// The live processes whose parent is `parent`.
inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::vector<std::string> fields = proc_stat(entry.path() / "stat");
    if (fields.size() > 1 && fields[0] != "Z" && fields[1] == std::to_string(parent))
      found.push_back(static_cast<pid_t>(std::stol(entry.path().filename().string())));
  }
  return found;
}

// Every live process below `root` (children, their children, ...).
inline std::vector<pid_t> descendants_of(pid_t root) {
  std::vector<pid_t> found = children_of(root);
  for (std::size_t i = 0; i < found.size(); ++i) {
    for (const pid_t child : children_of(found[i])) found.push_back(child);
  }
  return found;
}

// CPU time a process has used, user and system, in clock ticks: evidence
// that it is running code (a run that spins), not waiting.
inline long cpu_ticks(pid_t pid) {
  const std::vector<std::string> fields = proc_stat("/proc/" + std::to_string(pid) + "/stat");
  // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after "(comm)".
  return fields.size() > 12 ? std::stol(fields[11]) + std::stol(fields[12]) : 0;
}

struct Exit {
  bool exited = false;  // false: killed by a signal (or timed out)
  int code = -1;        // exit code, or the signal number when !exited
  long max_rss_kb = 0;  // the child's peak resident set (wait4)
  bool timed_out = false;
};

class Child {
 public:
  // Starts `binary` with `args`; stdout/stderr go to `dir`/stdout.txt and
  // stderr.txt. `file_size_limit`: RLIMIT_FSIZE in bytes (ulimit -f).
  Child(const fs::path& binary, std::vector<std::string> args, const fs::path& dir,
        std::optional<rlim_t> file_size_limit = std::nullopt)
      : out_(dir / "stdout.txt"), err_(dir / "stderr.txt") {
    args.insert(args.begin(), binary.string());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      if (file_size_limit) {
        const rlimit limit{*file_size_limit, *file_size_limit};
        ::setrlimit(RLIMIT_FSIZE, &limit);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!reaped_ && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void signal(int number) const { ::kill(pid_, number); }
  std::string out() const { return read_text(out_); }
  std::string err() const { return read_text(err_); }

  // Polls `ready` until it holds or `timeout` passes (or the child ended).
  bool wait_until(const std::function<bool()>& ready, std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready()) return true;
      if (ended()) return ready();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  // Waits for the child to end; kills it after `timeout`.
  Exit wait(std::chrono::seconds timeout) {
    Exit exit;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    rusage usage{};
    for (;;) {
      const pid_t done = ::wait4(pid_, &status, WNOHANG, &usage);
      if (done == pid_) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        exit.timed_out = true;
        ::kill(pid_, SIGKILL);
        ::wait4(pid_, &status, 0, &usage);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    reaped_ = true;
    exit.exited = WIFEXITED(status);
    exit.code = exit.exited ? WEXITSTATUS(status) : WTERMSIG(status);
    exit.max_rss_kb = usage.ru_maxrss;
    return exit;
  }

 private:
  bool ended() const {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid_;
  }

  fs::path out_;
  fs::path err_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// A test with a fresh directory of its own, dir_, removed after it:
// <tmp>/<prefix><test name>_<pid>.
class TempDirTest : public ::testing::Test {
 protected:
  explicit TempDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / (prefix_ + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;

 private:
  std::string prefix_;
};

}  // namespace asgisim::testing_cli
