// The fixture of the command-line tests (cli_test, cli_commands_test): runs the
// built asgisim binary (ASGISIM_CLI_PATH) in a child process in a fresh
// directory and captures its exit code, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace asgisim::cli_test_support {

namespace fs = std::filesystem;
using nlohmann::json;

inline constexpr const char* kScenario = "background-cancelled";

struct Result {
  int exit_code = -1;
  std::string out{};
  std::string err{};
};

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

inline std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("asgisim_cli_test_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs asgisim with `args`; stdout and stderr are captured through files.
  Result run(std::vector<std::string> args) const {
    const fs::path out = dir_ / "stdout.txt";
    const fs::path err = dir_ / "stderr.txt";
    args.insert(args.begin(), ASGISIM_CLI_PATH);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(spawned, 0) << "cannot start " << ASGISIM_CLI_PATH;
    Result result;
    int status = 0;
    if (spawned == 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
      result.exit_code = WEXITSTATUS(status);
    result.out = read_file(out);
    result.err = read_file(err);
    return result;
  }

  // Runs a printed command line ("PATH/asgisim replay ...") with this binary;
  // the line names the program as it was invoked.
  Result run_printed(const std::string& command) const {
    std::vector<std::string> words = split_words(command);
    EXPECT_FALSE(words.empty());
    EXPECT_EQ(words.front(), ASGISIM_CLI_PATH) << command;
    words.erase(words.begin());
    return run(words);
  }

  static std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    for (const std::string& line : lines(text)) out.push_back(json::parse(line));
    return out;
  }

  fs::path dir_;
};

}  // namespace asgisim::cli_test_support
